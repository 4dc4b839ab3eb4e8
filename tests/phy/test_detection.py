"""Detection, false alarms and CFO acquisition (through the channel simulator)."""

import numpy as np
import pytest

from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator, add_awgn
from semcom_ota.frames import FrameStatus
from semcom_ota.phy import Demodulator, Modulator, PhyConfig

FS = 1e6


def test_no_detection_in_one_million_noise_samples(rng):
    demod = Demodulator(PhyConfig())
    noise = ((rng.standard_normal(10**6) + 1j * rng.standard_normal(10**6)) * 0.05).astype(np.complex64)
    out = []
    for i in range(0, noise.size, 65536):
        out += demod.feed(noise[i : i + 65536])
    out += demod.flush()
    assert out == []
    assert demod.stats.detections == 0
    # silence (exact zeros) is not noise-like: no candidates at all
    d2 = Demodulator(PhyConfig())
    assert d2.feed(np.zeros(50_000, np.complex64)) + d2.flush() == []
    assert d2.stats.candidates == 0


@pytest.mark.slow
def test_detects_at_least_999_of_1000_frames_at_5db(rng, make_frame):
    """1000 short frames (one payload OFDM symbol each) back to back, AWGN at 5 dB."""
    cfg = PhyConfig()
    mod = Modulator(cfg)
    n = 48
    frames = [make_frame(rng, n, seq=i % 256, codec_id=i % 16) for i in range(1000)]
    stream = np.concatenate([mod.modulate(f) for f in frames])
    y = ChannelSimulator(ChannelConfig(snr_db=5.0, sample_rate_hz=FS), seed=7).apply(stream)
    demod = Demodulator(cfg)
    out = []
    for i in range(0, y.size, 50_000):
        out += demod.feed(y[i : i + 50_000])
    out += demod.flush()
    ok = [f for f in out if f.status is FrameStatus.OK]
    assert len(ok) >= 999, demod.stats
    # every OK frame is one that was sent, in order
    got = [(f.meta.seq, f.meta.codec_id) for f in ok]
    sent = [(f.meta.seq, f.meta.codec_id) for f in frames]
    it = iter(sent)
    assert all(g in it for g in got)


CFOS = [-4.45, -4.0, -2.3, -0.45, 0.0, 0.2, 0.45, 1.0, 3.55, 4.45]  # in subcarrier spacings


@pytest.mark.parametrize("cfo", CFOS)
def test_cfo_fractional_and_integer_recovered(rng, make_frame, cfo):
    cfg = PhyConfig(sample_rate_hz=FS)
    fr = make_frame(rng, 480, seq=9)
    sim = ChannelSimulator(ChannelConfig(snr_db=15.0, cfo_hz=cfo * FS / cfg.n_fft, sample_rate_hz=FS), seed=3)
    y = sim.apply(Modulator(cfg).modulate(fr))
    demod = Demodulator(cfg)
    out = demod.feed(y) + demod.flush()
    assert len(out) == 1 and out[0].status is FrameStatus.OK
    rx = out[0]
    assert abs(rx.info["cfo_subcarriers"] - cfo) < 0.02
    assert abs(rx.info["cfo_hz"] - cfo * FS / cfg.n_fft) < 0.02 * FS / cfg.n_fft
    nmse_db = 10 * np.log10(np.mean(np.abs(rx.symbols - fr.symbols) ** 2))
    assert nmse_db < -15.0 - 10 * np.log10(64 / 52) + 1.0


def test_timing_offset_and_leading_noise(rng, make_frame):
    """A frame after a fractional delay and a long stretch of noise is found at the right place."""
    cfg = PhyConfig()
    fr = make_frame(rng, 300)
    burst = Modulator(cfg).modulate(fr)
    x = np.concatenate([np.zeros(12_345, np.complex64), burst])
    sim = ChannelSimulator(ChannelConfig(snr_db=20.0, timing_offset_samples=3.4, sample_rate_hz=FS), seed=1)
    y = sim.apply(x)
    demod = Demodulator(cfg)
    out = demod.feed(y) + demod.flush()
    assert len(out) == 1 and out[0].status is FrameStatus.OK
    true_t0 = 12_345 + cfg.guard_len + 3.4
    assert abs(out[0].info["t0"] + cfg.timing_backoff - true_t0) <= 1.5
    assert 10 * np.log10(np.mean(np.abs(out[0].symbols - fr.symbols) ** 2)) < -18.0  # bound -20.9 dB


def test_awgn_sim_and_add_awgn_agree_on_snr(rng, make_frame):
    """The PHY's SNR estimate uses the channel's definition (active-sample power / N0)."""
    cfg = PhyConfig()
    mod = Modulator(cfg)
    est = []
    for _ in range(10):
        y = add_awgn(mod.modulate(make_frame(rng, 480)), 12.0, rng)
        d = Demodulator(cfg)
        est += [f.snr_db for f in d.feed(y) + d.flush()]
    assert len(est) == 10
    assert abs(np.mean(est) - 12.0) < 0.5
