"""``soapy``: direct SoapySDR streaming with a device profile from ``sdr/``.

TX: ``send(x)`` writes MTU-sized chunks with ``writeStream``; the last chunk of each call carries
``END_BURST``; with a profile that has ``timed_bursts`` (USRP B210) the first chunk carries
``HAS_TIME`` and a start time ``tx_time_lead_s`` after the device's hardware time. RX: a reader thread calls ``readStream`` continuously (a radio's RX stream must be
drained or it overflows) into a bounded buffer; ``recv`` takes what is there.

Return codes are counted in ``stats.problems`` and survived: ``-1`` timeout (``tx_timeout``,
``rx_timeout``; a TX chunk is retried until ``send_timeout_s``), ``-4`` overflow (``rx_overflow``:
samples were lost inside the device or driver), ``-7`` underflow (``tx_underflow``: retried), other
errors (``stream_error``; too many in a row raise :class:`LinkError`).

The device is opened with ``driver=<profile.driver>`` plus the profile's args, so SoapySDR never
searches beyond that driver. Frequency uses offset tuning (``OFFSET`` tune argument = the
profile's ``lo_offset_hz``). For the project's loopback driver the plugin directory
``sdr/loopback_driver/build`` is put on ``SOAPY_SDR_PLUGIN_PATH`` (build it with
``bash sdr/loopback_driver/build.sh``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

import numpy as np
from pydantic import Field, model_validator

from semcom_ota.config import StrictModel, validate_config
from semcom_ota.link.base import Link, check_samples, links
from semcom_ota.link.errors import LinkError
from semcom_ota.link.profiles import DeviceProfile, load_profile, sdr_dir

log = logging.getLogger(__name__)

SOAPY_TIMEOUT, SOAPY_STREAM_ERROR, SOAPY_CORRUPTION, SOAPY_OVERFLOW = -1, -2, -3, -4
SOAPY_NOT_SUPPORTED, SOAPY_TIME_ERROR, SOAPY_UNDERFLOW = -5, -6, -7
END_BURST = 1 << 1
HAS_TIME = 1 << 2


def loopback_plugin_dir() -> str:
    return str(sdr_dir() / "loopback_driver" / "build")


def ensure_loopback_plugin_path() -> None:
    """Put the loopback driver's build directory on ``SOAPY_SDR_PLUGIN_PATH`` (before SoapySDR loads modules)."""
    d = loopback_plugin_dir()
    if not os.path.isfile(os.path.join(d, "libloopbackSupport.so")):
        raise LinkError(f"loopback SoapySDR driver not built: run `bash sdr/loopback_driver/build.sh` (expected {d}/libloopbackSupport.so)")
    cur = os.environ.get("SOAPY_SDR_PLUGIN_PATH", "")
    if d not in cur.split(":"):
        os.environ["SOAPY_SDR_PLUGIN_PATH"] = f"{d}:{cur}" if cur else d


class SoapyLinkConfig(StrictModel):
    """Configuration of the ``soapy`` link.

    profile: name in ``sdr/`` (``loopback``, ``hackrf_one``, ``usrp_b210``) or a path to a profile.
    device_args: extra device arguments ``k=v,...`` (e.g. ``serial=...``; for the loopback driver
        ``noise_std=0.01,delay_samples=100``).
    snr_db: loopback driver only: the driver adds complex white noise for this SNR (P_s/N0 with
        P_s = the profile's ``tx_rms`` squared); seeded with ``seed``. A radio's SNR is set by the air,
        so ``snr_db`` with any other driver is an error.
    tx, rx: which directions to open (a half-duplex profile allows only one per device).
    center_freq_hz, sample_rate_hz, lo_offset_hz: override the profile's.
    tx_time_lead_s: with a profile that has ``timed_bursts``, each ``send`` is a timed burst that
        starts this long after the device's current hardware time (``HAS_TIME`` on its first chunk).
    send_timeout_s: a TX chunk that cannot be written for this long raises ``LinkError``.
    stream_timeout_s: timeout of each readStream/writeStream call.
    rx_buffer_max_samples: host-side RX buffer; beyond it the oldest are dropped (``rx_buffer_overflow``).
    max_consecutive_errors: stream errors (not timeouts/overflows/underflows) in a row before giving up.
    """

    profile: str = "loopback"
    device_args: str = ""
    snr_db: float | None = Field(None, ge=-50.0, le=200.0)
    seed: int = Field(0, ge=0)
    tx: bool = True
    rx: bool = True
    center_freq_hz: float | None = Field(None, gt=0.0)
    sample_rate_hz: float | None = Field(None, gt=0.0)
    lo_offset_hz: float | None = None
    tx_time_lead_s: float = Field(0.02, ge=0.0, le=10.0)
    send_timeout_s: float = Field(5.0, gt=0.0, le=3600.0)
    stream_timeout_s: float = Field(0.05, gt=0.0, le=10.0)
    rx_buffer_max_samples: int = Field(8_000_000, ge=1024)
    max_consecutive_errors: int = Field(50, ge=1)

    @model_validator(mode="after")
    def _some_direction(self) -> "SoapyLinkConfig":
        if not (self.tx or self.rx):
            raise ValueError("tx=false and rx=false: expected at least one direction")
        return self


@links.register("soapy")
class SoapyLink(Link):
    """SoapySDR device as a link (see the module doc).

    Parameters
    ----------
    config: :class:`SoapyLinkConfig` (or its keys as keyword arguments).
    """

    name = "soapy"
    Config = SoapyLinkConfig

    def __init__(self, config: SoapyLinkConfig | None = None, **kw) -> None:
        super().__init__()
        self.config = config if config is not None else validate_config(SoapyLinkConfig, kw, "soapy link config")
        c = self.config
        p = load_profile(c.profile)
        upd = {k: v for k, v in (("center_freq_hz", c.center_freq_hz), ("sample_rate_hz", c.sample_rate_hz),
                                  ("lo_offset_hz", c.lo_offset_hz)) if v is not None}
        self.profile: DeviceProfile = DeviceProfile.model_validate({**p.model_dump(), **upd}) if upd else p
        if self.profile.duplex == "half" and c.tx and c.rx:
            raise LinkError(f"profile {self.profile.name} is half duplex: open one link with tx only and another "
                            "(on a second device) with rx only")
        extra_args = c.device_args
        if c.snr_db is not None:
            if self.profile.driver != "loopback":
                raise LinkError(f"snr_db={c.snr_db}: only the loopback driver can add noise; a radio's "
                                f"({self.profile.driver}) SNR is set by the air")
            if "noise_std" in c.device_args:
                raise LinkError(f"snr_db={c.snr_db} and device_args noise_std both set the noise: give one")
            noise = self.profile.tx_rms * 10 ** (-c.snr_db / 20)
            extra_args = ",".join(x for x in (c.device_args, f"noise_std={noise:.8g},seed={c.seed}") if x)
        if self.profile.driver == "loopback":
            ensure_loopback_plugin_path()
        import SoapySDR  # system-wide (python3-soapysdr); imported late so the plugin path is set first

        self._sp = SoapySDR
        self.args = self.profile.device_args(extra_args)
        try:
            self.dev = SoapySDR.Device(self.args)
        except RuntimeError as err:
            raise LinkError(f"SoapySDR could not open {self.args!r}: {err} (is the driver module installed "
                            "and the device connected?)") from None
        self.tx_stream = self.rx_stream = None
        self._buf: deque[np.ndarray] = deque()
        self._buffered = 0
        self._lock = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self._rx_error: str | None = None
        self._closed = False
        self.timed_bursts_sent = 0
        try:
            self._configure()
        except Exception:
            self.close()
            raise

    # ------------------------------------------------------------------------------ setup
    def _configure(self) -> None:
        sp, p, dev = self._sp, self.profile, self.dev
        fmt = sp.SOAPY_SDR_CF32  # host side is always complex64; the driver converts
        for direction, on, settings in ((sp.SOAPY_SDR_TX, self.config.tx, p.tx), (sp.SOAPY_SDR_RX, self.config.rx, p.rx)):
            if not on:
                continue
            dev.setSampleRate(direction, 0, p.sample_rate_hz)
            if p.bandwidth_hz:
                dev.setBandwidth(direction, 0, p.bandwidth_hz)
            if settings.antenna:
                dev.setAntenna(direction, 0, settings.antenna)
            for name, g in settings.gains.items():
                dev.setGain(direction, 0, name, g.value_db)
            # offset tuning: RF LO at centre + offset, baseband shifts by -offset
            dev.setFrequency(direction, 0, p.center_freq_hz, {"OFFSET": str(p.lo_offset_hz)})
        if self.config.tx:
            self.tx_stream = dev.setupStream(sp.SOAPY_SDR_TX, fmt, [0])
            self.tx_mtu = int(dev.getStreamMTU(self.tx_stream))
            dev.activateStream(self.tx_stream)
        if self.config.rx:
            self.rx_stream = dev.setupStream(sp.SOAPY_SDR_RX, fmt, [0])
            self.rx_mtu = int(dev.getStreamMTU(self.rx_stream))
            dev.activateStream(self.rx_stream)
            self._running = True
            self._thread = threading.Thread(target=self._reader, name="soapy-rx", daemon=True)
            self._thread.start()
        log.info("soapy link on %s: %.3f Msps at %.3f MHz (LO offset %.0f kHz)", self.args, p.sample_rate_hz / 1e6,
                 p.center_freq_hz / 1e6, p.lo_offset_hz / 1e3)

    def tuned_frequencies(self, direction: str = "rx") -> dict[str, float]:
        """The device's frequency components (e.g. ``{"RF": ..., "BB": ...}``) and their sum ``total``."""
        d = self._sp.SOAPY_SDR_RX if direction == "rx" else self._sp.SOAPY_SDR_TX
        comps = {n: float(self.dev.getFrequency(d, 0, n)) for n in self.dev.listFrequencies(d, 0)}
        comps["total"] = float(self.dev.getFrequency(d, 0))
        return comps

    # ------------------------------------------------------------------------------ RX thread
    def _reader(self) -> None:
        buf = np.empty(self.rx_mtu, np.complex64)
        timeout_us = int(self.config.stream_timeout_s * 1e6)
        errors = 0
        while self._running:
            sr = self.dev.readStream(self.rx_stream, [buf], buf.size, timeoutUs=timeout_us)
            ret = sr.ret
            if ret > 0:
                errors = 0
                chunk = buf[:ret].copy()
                with self._lock:
                    self._buf.append(chunk)
                    self._buffered += ret
                    while self._buffered > self.config.rx_buffer_max_samples:
                        old = self._buf.popleft()
                        self._buffered -= old.size
                        self.stats.problems["rx_buffer_overflow"] += old.size
                    self._lock.notify_all()
            elif ret == SOAPY_TIMEOUT or ret == 0:
                self.stats.problems["rx_timeout"] += 1
            elif ret == SOAPY_OVERFLOW:
                self.stats.problems["rx_overflow"] += 1
            elif ret == SOAPY_UNDERFLOW:
                self.stats.problems["rx_underflow"] += 1
            else:
                errors += 1
                self.stats.problems["stream_error"] += 1
                if errors >= self.config.max_consecutive_errors:
                    self._rx_error = f"readStream failed {errors} times in a row (last code {ret})"
                    log.error("soapy link: %s; RX stopped", self._rx_error)
                    with self._lock:
                        self._lock.notify_all()
                    return
                time.sleep(0.001)

    # ------------------------------------------------------------------------------ Link
    def send(self, samples: np.ndarray) -> None:
        if self._closed:
            raise LinkError("soapy link: send() after close()")
        if self.tx_stream is None:
            raise LinkError("soapy link: opened with tx=false")
        x = check_samples(samples)
        timeout_us = int(self.config.stream_timeout_s * 1e6)
        i = 0
        errors = 0
        deadline = time.monotonic() + self.config.send_timeout_s
        timed = self.profile.timed_bursts
        t_burst = int(self.dev.getHardwareTime() + self.config.tx_time_lead_s * 1e9) if timed else 0
        while i < x.size:
            n = min(self.tx_mtu, x.size - i)
            flags = END_BURST if i + n >= x.size else 0
            if timed and i == 0:
                flags |= HAS_TIME
            sr = self.dev.writeStream(self.tx_stream, [x[i:i + n]], n, flags, t_burst if i == 0 else 0, timeout_us)
            ret = sr.ret
            if ret > 0:
                if timed and i == 0:
                    self.timed_bursts_sent += 1
                i += ret
                errors = 0
                self.stats.samples_sent += ret
                deadline = time.monotonic() + self.config.send_timeout_s
                continue
            if ret == SOAPY_UNDERFLOW:
                self.stats.problems["tx_underflow"] += 1
            elif ret == SOAPY_TIMEOUT or ret == 0:
                self.stats.problems["tx_timeout"] += 1
            elif ret == SOAPY_OVERFLOW:
                self.stats.problems["tx_overflow"] += 1
            else:
                errors += 1
                self.stats.problems["stream_error"] += 1
                if errors >= self.config.max_consecutive_errors:
                    raise LinkError(f"soapy link {self.args}: writeStream failed {errors} times in a row (last code {ret})")
            if time.monotonic() > deadline:
                raise LinkError(f"soapy link {self.args}: no TX progress for {self.config.send_timeout_s:g} s "
                                f"(last writeStream code {ret})")

    def recv(self, timeout_s: float = 0.1) -> np.ndarray:
        if self.rx_stream is None:
            raise LinkError("soapy link: opened with rx=false")
        with self._lock:
            if not self._buf and self._rx_error is None:
                self._lock.wait(timeout_s)
            if self._rx_error is not None and not self._buf:
                raise LinkError(f"soapy link {self.args}: {self._rx_error}")
            if not self._buf:
                return np.zeros(0, np.complex64)
            out = np.concatenate(list(self._buf)) if len(self._buf) > 1 else self._buf[0]
            self._buf.clear()
            self._buffered = 0
        self.stats.samples_received += out.size
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=2.0 + self.config.stream_timeout_s)
        dev = getattr(self, "dev", None)
        if dev is not None:
            for s in (self.tx_stream, self.rx_stream):
                if s is not None:
                    try:
                        dev.deactivateStream(s)
                        dev.closeStream(s)
                    except Exception as err:  # closing must not fail the caller
                        log.warning("soapy link: closing a stream failed: %s", err)
            self.tx_stream = self.rx_stream = None
            try:
                dev.close()
            except Exception:
                pass
            self.dev = None
