// semcom-ota loopback SoapySDR driver: what is written to the TX stream comes back on the RX stream.
//
// Lets the `soapy` link backend and the gr-soapy flowgraphs run without a radio (CI, tests).
// Only found with an explicit `driver=loopback` filter; it never touches hardware or the network.
//
// Device arguments (all optional):
//   fifo=PATH           carry samples through a named pipe instead of an in-process ring, so a TX
//                       device in one process loops back to an RX device in another (gr-soapy TX and
//                       RX flowgraphs). Created with mkfifo if missing.
//   noise_std=X         complex white Gaussian noise (total std) added to RX samples.
//   delay_samples=N     N zeros precede the looped-back samples on RX.
//   buffer_samples=N    capacity of the in-process ring (default 4194304); beyond it the oldest are
//                       dropped and the next readStream returns SOAPY_SDR_OVERFLOW (-4).
//   mtu=N               stream MTU in samples (default 8192).
//   seed=N              noise seed.
//   rx_overflow_every=K / tx_underflow_every=K / rx_timeout_every=K
//                       fault injection: every K-th readStream returns -4 / every K-th writeStream
//                       returns -7 (consuming nothing) / every K-th readStream returns -1, so that
//                       clients' handling of these return codes is exercised deterministically.
// Timed bursts: writeStream calls flagged SOAPY_SDR_HAS_TIME are counted (readSetting("timed_writes"),
// and "late_writes" for those whose time had already passed); samples are looped back at once.
// Formats: CF32 (native) and CS16 (full scale 32767). Frequencies have components RF and BB (so
// SoapySDR's OFFSET tuning argument works); gains PGA 0..70 dB; any sample rate 1e3..100e6.

#include <SoapySDR/Device.hpp>
#include <SoapySDR/Formats.hpp>
#include <SoapySDR/Logger.hpp>
#include <SoapySDR/Registry.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <complex>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <poll.h>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using cf32 = std::complex<float>;

struct LoopStream {
    int direction;
    bool cs16;
    bool active = false;
    long long calls = 0;
};

double argDouble(const SoapySDR::Kwargs &args, const std::string &key, double def) {
    auto it = args.find(key);
    if (it == args.end()) return def;
    try {
        return std::stod(it->second);
    } catch (const std::exception &) {
        throw std::runtime_error("loopback driver: argument " + key + "=" + it->second + " is not a number");
    }
}

class LoopbackDevice : public SoapySDR::Device {
  public:
    explicit LoopbackDevice(const SoapySDR::Kwargs &args) : args_(args) {
        fifo_ = args.count("fifo") ? args.at("fifo") : "";
        noise_std_ = argDouble(args, "noise_std", 0.0);
        delay_ = static_cast<size_t>(argDouble(args, "delay_samples", 0));
        capacity_ = static_cast<size_t>(argDouble(args, "buffer_samples", 4194304));
        mtu_ = static_cast<size_t>(argDouble(args, "mtu", 8192));
        ovf_every_ = static_cast<long long>(argDouble(args, "rx_overflow_every", 0));
        unf_every_ = static_cast<long long>(argDouble(args, "tx_underflow_every", 0));
        tmo_every_ = static_cast<long long>(argDouble(args, "rx_timeout_every", 0));
        rng_.seed(static_cast<unsigned>(argDouble(args, "seed", 0)));
        if (capacity_ < 1024 || mtu_ < 16) throw std::runtime_error("loopback driver: buffer_samples >= 1024 and mtu >= 16 expected");
        if (!fifo_.empty()) {
            if (mkfifo(fifo_.c_str(), 0600) != 0 && errno != EEXIST)
                throw std::runtime_error("loopback driver: cannot create fifo " + fifo_ + ": " + std::strerror(errno));
        }
        for (int d : {SOAPY_SDR_TX, SOAPY_SDR_RX}) {
            rate_[d] = 1e6;
            bw_[d] = 1e6;
            gain_[d] = 0.0;
            freq_[d]["RF"] = 1e9;
            freq_[d]["BB"] = 0.0;
        }
    }

    ~LoopbackDevice() override {
        if (rx_fd_ >= 0) ::close(rx_fd_);
        if (tx_fd_ >= 0) ::close(tx_fd_);
    }

    std::string getDriverKey() const override { return "loopback"; }
    std::string getHardwareKey() const override { return "semcom-ota-loopback"; }
    SoapySDR::Kwargs getHardwareInfo() const override {
        SoapySDR::Kwargs info;
        info["origin"] = "semcom-ota sdr/loopback_driver";
        info["medium"] = fifo_.empty() ? "in-process ring" : "fifo " + fifo_;
        return info;
    }
    size_t getNumChannels(const int) const override { return 1; }
    bool getFullDuplex(const int, const size_t) const override { return true; }

    // ---------------------------------------------------------------- settings
    std::vector<std::string> listAntennas(const int, const size_t) const override { return {"LOOP"}; }
    void setAntenna(const int, const size_t, const std::string &name) override {
        if (name != "LOOP") throw std::runtime_error("loopback driver: antenna " + name + " unknown (expected LOOP)");
    }
    std::string getAntenna(const int, const size_t) const override { return "LOOP"; }

    std::vector<std::string> listGains(const int, const size_t) const override { return {"PGA"}; }
    void setGain(const int dir, const size_t, const double v) override { gain_[dir] = std::clamp(v, 0.0, 70.0); }
    void setGain(const int dir, const size_t ch, const std::string &, const double v) override { setGain(dir, ch, v); }
    double getGain(const int dir, const size_t) const override { return gain_.at(dir); }
    double getGain(const int dir, const size_t ch, const std::string &) const override { return getGain(dir, ch); }
    SoapySDR::Range getGainRange(const int, const size_t) const override { return SoapySDR::Range(0.0, 70.0, 1.0); }
    SoapySDR::Range getGainRange(const int d, const size_t c, const std::string &) const override { return getGainRange(d, c); }

    std::vector<std::string> listFrequencies(const int, const size_t) const override { return {"RF", "BB"}; }
    void setFrequency(const int dir, const size_t, const std::string &name, const double f, const SoapySDR::Kwargs &) override {
        if (name != "RF" && name != "BB") throw std::runtime_error("loopback driver: frequency component " + name + " unknown");
        freq_[dir][name] = f;
    }
    double getFrequency(const int dir, const size_t, const std::string &name) const override {
        return freq_.at(dir).at(name);
    }
    SoapySDR::RangeList getFrequencyRange(const int, const size_t, const std::string &name) const override {
        if (name == "BB") return {SoapySDR::Range(-50e6, 50e6)};
        return {SoapySDR::Range(1e6, 6e9)};
    }
    SoapySDR::RangeList getFrequencyRange(const int, const size_t) const override { return {SoapySDR::Range(1e6, 6e9)}; }

    void setSampleRate(const int dir, const size_t, const double r) override {
        if (r < 1e3 || r > 100e6) throw std::runtime_error("loopback driver: sample rate out of 1e3..100e6");
        rate_[dir] = r;
    }
    double getSampleRate(const int dir, const size_t) const override { return rate_.at(dir); }
    SoapySDR::RangeList getSampleRateRange(const int, const size_t) const override { return {SoapySDR::Range(1e3, 100e6)}; }
    std::vector<double> listSampleRates(const int, const size_t) const override { return {1e6, 2e6, 4e6, 8e6, 10e6, 20e6}; }
    void setBandwidth(const int dir, const size_t, const double bw) override { bw_[dir] = bw; }
    double getBandwidth(const int dir, const size_t) const override { return bw_.at(dir); }
    SoapySDR::RangeList getBandwidthRange(const int, const size_t) const override { return {SoapySDR::Range(0.0, 100e6)}; }
    long long getHardwareTime(const std::string &) const override {
        return static_cast<long long>(1e9 * static_cast<double>(samples_read_) / rate_.at(SOAPY_SDR_RX));
    }

    // timed TX bursts seen (SOAPY_SDR_HAS_TIME) and how many of them arrived after their time
    std::string readSetting(const std::string &key) const override {
        if (key == "timed_writes") return std::to_string(timed_writes_);
        if (key == "late_writes") return std::to_string(late_writes_);
        return "";
    }

    // ---------------------------------------------------------------- streams
    std::vector<std::string> getStreamFormats(const int, const size_t) const override {
        return {SOAPY_SDR_CF32, SOAPY_SDR_CS16};
    }
    std::string getNativeStreamFormat(const int, const size_t, double &fullScale) const override {
        fullScale = 1.0;
        return SOAPY_SDR_CF32;
    }
    SoapySDR::Stream *setupStream(const int dir, const std::string &format, const std::vector<size_t> &channels,
                                  const SoapySDR::Kwargs &) override {
        if (format != SOAPY_SDR_CF32 && format != SOAPY_SDR_CS16)
            throw std::runtime_error("loopback driver: stream format " + format + " unsupported (expected CF32 or CS16)");
        if (channels.size() > 1 || (channels.size() == 1 && channels[0] != 0))
            throw std::runtime_error("loopback driver: only channel 0 exists");
        auto *s = new LoopStream{dir, format == SOAPY_SDR_CS16};
        return reinterpret_cast<SoapySDR::Stream *>(s);
    }
    void closeStream(SoapySDR::Stream *stream) override { delete reinterpret_cast<LoopStream *>(stream); }
    size_t getStreamMTU(SoapySDR::Stream *) const override { return mtu_; }

    int activateStream(SoapySDR::Stream *stream, const int, const long long, const size_t) override {
        auto *s = reinterpret_cast<LoopStream *>(stream);
        s->active = true;
        if (s->direction == SOAPY_SDR_RX) {
            std::lock_guard<std::mutex> lock(mu_);
            pending_delay_ = delay_;
            if (!fifo_.empty() && rx_fd_ < 0) {
                rx_fd_ = ::open(fifo_.c_str(), O_RDONLY | O_NONBLOCK);
                if (rx_fd_ < 0) return SOAPY_SDR_STREAM_ERROR;
                fcntl(rx_fd_, F_SETPIPE_SZ, 1 << 20);
            }
        }
        return 0;
    }
    int deactivateStream(SoapySDR::Stream *stream, const int, const long long) override {
        reinterpret_cast<LoopStream *>(stream)->active = false;
        return 0;
    }

    int writeStream(SoapySDR::Stream *stream, const void *const *buffs, const size_t numElems, int &flags,
                    const long long timeNs, const long timeoutUs) override {
        auto *s = reinterpret_cast<LoopStream *>(stream);
        if (!s->active) return SOAPY_SDR_STREAM_ERROR;
        s->calls++;
        if (unf_every_ > 0 && s->calls % unf_every_ == 0) return SOAPY_SDR_UNDERFLOW;
        size_t n = std::min(numElems, mtu_);
        std::vector<cf32> tmp(n);
        if (s->cs16) {
            const int16_t *in = static_cast<const int16_t *>(buffs[0]);
            for (size_t i = 0; i < n; i++) tmp[i] = cf32(in[2 * i] / 32767.0f, in[2 * i + 1] / 32767.0f);
        } else {
            std::memcpy(tmp.data(), buffs[0], n * sizeof(cf32));
        }
        if (flags & SOAPY_SDR_HAS_TIME) {  // a timed burst: count it, and count it late if its time has passed
            timed_writes_++;
            if (timeNs < getHardwareTime("")) late_writes_++;
        }
        flags &= SOAPY_SDR_END_BURST;  // nothing else to report
        if (fifo_.empty()) {
            std::lock_guard<std::mutex> lock(mu_);
            ring_.insert(ring_.end(), tmp.begin(), tmp.end());
            if (ring_.size() > capacity_) {
                ring_.erase(ring_.begin(), ring_.begin() + static_cast<long>(ring_.size() - capacity_));
                overflowed_ = true;
            }
            cv_.notify_all();
            return static_cast<int>(n);
        }
        return fifoWrite(tmp, timeoutUs);
    }

    int readStream(SoapySDR::Stream *stream, void *const *buffs, const size_t numElems, int &flags, long long &timeNs,
                   const long timeoutUs) override {
        auto *s = reinterpret_cast<LoopStream *>(stream);
        if (!s->active) return SOAPY_SDR_STREAM_ERROR;
        s->calls++;
        flags = 0;
        timeNs = getHardwareTime("");
        if (ovf_every_ > 0 && s->calls % ovf_every_ == 0) return SOAPY_SDR_OVERFLOW;
        if (tmo_every_ > 0 && s->calls % tmo_every_ == 0) return SOAPY_SDR_TIMEOUT;
        size_t want = std::min(numElems, mtu_);
        std::vector<cf32> out;
        out.reserve(want);
        {
            std::unique_lock<std::mutex> lock(mu_);
            if (overflowed_) {
                overflowed_ = false;
                return SOAPY_SDR_OVERFLOW;
            }
            while (pending_delay_ > 0 && out.size() < want) {
                out.push_back(cf32(0.0f, 0.0f));
                pending_delay_--;
            }
        }
        if (out.size() < want) {
            if (fifo_.empty()) {
                std::unique_lock<std::mutex> lock(mu_);
                if (ring_.empty() && out.empty())
                    cv_.wait_for(lock, std::chrono::microseconds(std::max(0L, timeoutUs)), [this] { return !ring_.empty(); });
                size_t k = std::min(want - out.size(), ring_.size());
                out.insert(out.end(), ring_.begin(), ring_.begin() + static_cast<long>(k));
                ring_.erase(ring_.begin(), ring_.begin() + static_cast<long>(k));
            } else {
                fifoRead(out, want, out.empty() ? timeoutUs : 0);
            }
        }
        if (out.empty()) return SOAPY_SDR_TIMEOUT;
        if (noise_std_ > 0) {
            std::normal_distribution<float> g(0.0f, static_cast<float>(noise_std_ / std::sqrt(2.0)));
            for (auto &v : out) v += cf32(g(rng_), g(rng_));
        }
        if (s->cs16) {
            int16_t *o = static_cast<int16_t *>(buffs[0]);
            for (size_t i = 0; i < out.size(); i++) {
                o[2 * i] = static_cast<int16_t>(std::clamp(out[i].real() * 32767.0f, -32768.0f, 32767.0f));
                o[2 * i + 1] = static_cast<int16_t>(std::clamp(out[i].imag() * 32767.0f, -32768.0f, 32767.0f));
            }
        } else {
            std::memcpy(buffs[0], out.data(), out.size() * sizeof(cf32));
        }
        samples_read_ += static_cast<long long>(out.size());
        flags |= SOAPY_SDR_HAS_TIME;
        return static_cast<int>(out.size());
    }

  private:
    int fifoWrite(const std::vector<cf32> &x, const long timeoutUs) {
        if (tx_fd_ < 0) {
            tx_fd_ = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK);
            if (tx_fd_ < 0) {  // no reader yet: behave like a full buffer
                usleep(static_cast<useconds_t>(std::min(timeoutUs, 10000L)));
                return SOAPY_SDR_TIMEOUT;
            }
            fcntl(tx_fd_, F_SETPIPE_SZ, 1 << 20);
        }
        const char *p = reinterpret_cast<const char *>(x.data());
        size_t total = x.size() * sizeof(cf32);
        // keep whole samples: finish a previously half-written sample first
        if (!tx_partial_.empty()) {
            pollfd pfd{tx_fd_, POLLOUT, 0};
            ::poll(&pfd, 1, static_cast<int>(timeoutUs / 1000));
            ssize_t w = ::write(tx_fd_, tx_partial_.data(), tx_partial_.size());
            if (w > 0) tx_partial_.erase(tx_partial_.begin(), tx_partial_.begin() + w);
            if (!tx_partial_.empty()) return SOAPY_SDR_TIMEOUT;
        }
        pollfd pfd{tx_fd_, POLLOUT, 0};
        if (::poll(&pfd, 1, static_cast<int>(std::max(0L, timeoutUs) / 1000)) <= 0) return SOAPY_SDR_TIMEOUT;
        ssize_t w = ::write(tx_fd_, p, total);
        if (w < 0) return (errno == EAGAIN) ? SOAPY_SDR_TIMEOUT : SOAPY_SDR_STREAM_ERROR;
        size_t whole = static_cast<size_t>(w) / sizeof(cf32);
        size_t rem = static_cast<size_t>(w) % sizeof(cf32);
        if (rem) {  // the rest of a half-written sample goes out first next time
            tx_partial_.assign(p + w, p + (whole + 1) * sizeof(cf32));
            whole += 1;
        }
        return static_cast<int>(whole);
    }

    void fifoRead(std::vector<cf32> &out, size_t want, long timeoutUs) {
        if (rx_fd_ < 0) return;
        pollfd pfd{rx_fd_, POLLIN, 0};
        if (timeoutUs > 0 && ::poll(&pfd, 1, static_cast<int>(timeoutUs / 1000) + 1) <= 0) return;
        size_t need_bytes = (want - out.size()) * sizeof(cf32) - rx_partial_.size();
        std::vector<char> buf(rx_partial_.begin(), rx_partial_.end());
        size_t have = buf.size();
        buf.resize(have + need_bytes);
        ssize_t r = ::read(rx_fd_, buf.data() + have, need_bytes);
        if (r > 0) have += static_cast<size_t>(r);
        size_t whole = have / sizeof(cf32);
        const cf32 *v = reinterpret_cast<const cf32 *>(buf.data());
        out.insert(out.end(), v, v + whole);
        rx_partial_.assign(buf.begin() + static_cast<long>(whole * sizeof(cf32)), buf.begin() + static_cast<long>(have));
    }

    SoapySDR::Kwargs args_;
    std::string fifo_;
    double noise_std_;
    size_t delay_, capacity_, mtu_, pending_delay_ = 0;
    long long ovf_every_, unf_every_, tmo_every_;
    long long samples_read_ = 0;
    long long timed_writes_ = 0, late_writes_ = 0;
    std::mt19937 rng_;
    std::map<int, double> rate_, bw_, gain_;
    std::map<int, std::map<std::string, double>> freq_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<cf32> ring_;
    bool overflowed_ = false;
    int rx_fd_ = -1, tx_fd_ = -1;
    std::vector<char> tx_partial_, rx_partial_;
};

SoapySDR::KwargsList findLoopback(const SoapySDR::Kwargs &args) {
    // only an explicit driver=loopback filter finds this device
    auto it = args.find("driver");
    if (it == args.end() || it->second != "loopback") return {};
    SoapySDR::Kwargs dev;
    dev["driver"] = "loopback";
    dev["label"] = "semcom-ota loopback";
    for (const auto &kv : args) dev[kv.first] = kv.second;
    return {dev};
}

SoapySDR::Device *makeLoopback(const SoapySDR::Kwargs &args) { return new LoopbackDevice(args); }

}  // namespace

static SoapySDR::Registry registerLoopback("loopback", &findLoopback, &makeLoopback, SOAPY_SDR_ABI_VERSION);
