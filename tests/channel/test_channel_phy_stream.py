"""Integration: a continuous stream of PHY bursts through ChannelSimulator.stream in chunks decodes."""

from __future__ import annotations

import numpy as np
import pytest

from semcom_ota.channel.sim import channels

pytest.importorskip("semcom_ota.phy.demodulator")


@pytest.mark.parametrize("preset", ["awgn", "hardware"])
def test_chunked_stream_through_channel_decodes_every_frame(preset, rng):
    from semcom_ota.frames import FrameMeta, SemanticFrame
    from semcom_ota.phy.demodulator import Demodulator
    from semcom_ota.phy.modulator import Modulator

    n, mod, frames, parts = 480, Modulator(), [], [np.zeros(300, np.complex64)]
    for k in range(3):
        z = ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)
        z /= np.sqrt(np.mean(np.abs(z) ** 2))
        frames.append(z)
        parts += [mod.modulate(SemanticFrame(symbols=z, tiers=[n], meta=FrameMeta(seq=k))), np.zeros(777, np.complex64)]
    x = np.concatenate(parts)
    sim = channels.create(preset, seed=1, snr_db=20.0)
    dem = Demodulator()
    out = []
    for i in range(0, x.size, 1000):  # chunk boundaries fall inside bursts
        out += dem.feed(sim.stream(x[i : i + 1000]))
    out += dem.flush()
    assert [r.meta.seq for r in out] == [0, 1, 2]
    for r in out:
        assert r.status.value == "ok"
        err = np.mean(np.abs(r.symbols[r.mask] - frames[r.meta.seq][r.mask]) ** 2)
        assert 10 * np.log10(1 / err) > 15.0
