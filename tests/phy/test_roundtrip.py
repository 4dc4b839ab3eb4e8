"""Modulator -> AWGN (channel simulator) -> Demodulator round trip."""

import numpy as np
import pytest

from semcom_ota.channel.sim import add_awgn
from semcom_ota.frames import FrameStatus
from semcom_ota.phy import Demodulator, Modulator, PhyConfig


def test_burst_shape_power_and_guards(rng, make_frame):
    mod = Modulator(PhyConfig())
    fr = make_frame(rng, 500)
    burst = mod.modulate(fr)
    g = PhyConfig().guard_len
    assert burst.dtype == np.complex64 and burst.size == mod.layout.burst_len(500)
    assert not np.any(burst[:g]) and not np.any(burst[-g:])
    rms = np.sqrt(np.mean(np.abs(burst[g:-g]) ** 2))
    assert abs(rms - 0.25) < 0.01
    assert mod.stats.frames == 1 and mod.stats.clipped_samples == 0


def test_clipping_is_counted(rng, make_frame):
    mod = Modulator(PhyConfig(backoff_rms=0.9))
    burst = mod.modulate(make_frame(rng, 2000))
    assert mod.stats.clipped_samples > 0
    assert np.abs(burst).max() <= 1.0 + 1e-6


@pytest.mark.parametrize("snr_db", [10.0, 25.0])
def test_awgn_roundtrip_meta_and_symbols(rng, make_frame, snr_db):
    cfg = PhyConfig()
    fr = make_frame(rng, 1000, tiers=[300, 1000], codec_id=3, seq=201, snr_db=12.0, flags=5)
    y = add_awgn(Modulator(cfg).modulate(fr), snr_db, rng)
    demod = Demodulator(cfg)
    out = demod.feed(y) + demod.flush()
    assert len(out) == 1
    rx = out[0]
    assert rx.status is FrameStatus.OK and rx.n == 1000 and rx.mask.all()
    assert (rx.meta.codec_id, rx.meta.seq, rx.meta.n_tiers, rx.meta.flags) == (3, 201, 2, 5)
    assert abs(rx.meta.snr_db - 12.0) <= 0.75
    nmse = np.mean(np.abs(rx.symbols - fr.symbols) ** 2)
    bound = 10 ** (-snr_db / 10) * 52 / 64  # per-bin noise of unit-power symbols
    assert 10 * np.log10(nmse / bound) < 1.0
    # the reported noise variance matches the actual error
    assert abs(10 * np.log10(np.mean(rx.noise_var) / nmse)) < 1.5  # one frame: B gives 52 noise samples
    assert demod.stats.frames_ok == 1 and demod.stats.detections == 1
