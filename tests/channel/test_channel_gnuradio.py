"""Cross-check against GNU Radio's `channels.channel_model`: the same SNR and CFO conventions."""

from __future__ import annotations

import numpy as np
import pytest

from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator, noise_voltage

gr_mod = pytest.importorskip("gnuradio.gr", reason="needs GNU Radio 3.10 (Debian gnuradio)")

pytestmark = pytest.mark.gnuradio


def _run_channel_model(x: np.ndarray, noise_v: float, freq_offset: float) -> np.ndarray:
    from gnuradio import blocks, channels, gr

    tb = gr.top_block()
    src = blocks.vector_source_c(x, False)
    ch = channels.channel_model(
        noise_voltage=noise_v, frequency_offset=freq_offset, epsilon=1.0, taps=[1.0 + 0j], noise_seed=7, block_tags=False
    )
    snk = blocks.vector_sink_c()
    tb.connect(src, ch, snk)
    tb.run()
    return np.asarray(snk.data(), np.complex64)


def test_noise_voltage_gives_the_same_snr_as_add_awgn():
    p_s, snr_db = 0.05, 12.0  # an RMS-0.22 transmit backoff
    y = _run_channel_model(np.zeros(100_000, np.complex64), noise_voltage(snr_db, p_s), 0.0)
    measured = 10 * np.log10(p_s / np.mean(np.abs(y) ** 2))
    assert measured == pytest.approx(snr_db, abs=0.1)
    sim = ChannelSimulator(ChannelConfig(snr_db=snr_db, signal_power=p_s), seed=1)
    ours = sim.apply(np.zeros(100_000, np.complex64))
    assert np.mean(np.abs(ours) ** 2) == pytest.approx(np.mean(np.abs(y) ** 2), rel=0.03)


def test_cfo_convention_matches_frequency_offset():
    fs, cfo_hz = 1e6, 2500.0
    y = _run_channel_model(np.ones(20_000, np.complex64), 0.0, cfo_hz / fs)
    ours = ChannelSimulator(ChannelConfig(cfo_hz=cfo_hz, sample_rate_hz=fs)).apply(np.ones(20_000, np.complex64))
    for sig in (y, ours):
        core = sig[1000:-1000].astype(np.complex128)
        slope = np.polyfit(np.arange(core.size), np.unwrap(np.angle(core)), 1)[0]
        assert slope == pytest.approx(2 * np.pi * cfo_hz / fs, rel=1e-3)
