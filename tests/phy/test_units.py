"""Unit checks of single stages: layout, Schmidl–Cox statistics, channel estimate, golden burst."""

import numpy as np

from semcom_ota.frames import FrameMeta, SemanticFrame
from semcom_ota.phy import Modulator, OfdmLayout, PhyConfig
from semcom_ota.phy.sync import Synchroniser, coarse_detect, sc_window, schmidl_cox


def test_layout_default_numerology():
    lay = OfdmLayout(PhyConfig())
    assert lay.n_used == 52 and lay.n_data == 48 and lay.n_pilot == 4
    assert 0 not in lay.used and 1 not in lay.used and -1 not in lay.used
    assert lay.used.min() == -27 and lay.used.max() == 27
    assert lay.n_header_symbols == 3 and lay.payload_start == 80 + 160 + 240
    idx = lay.payload_index(9)
    assert np.array_equal(np.sort(idx), np.arange(9 * 48))  # a permutation
    blk = 48 * 4
    assert all(set(idx[b : b + blk]) == set(range(b, min(b + blk, idx.size))) for b in range(0, idx.size, blk))
    assert not np.array_equal(idx[:blk], np.arange(blk))  # actually permuted


def test_preamble_a_is_half_periodic_and_metric_peaks_at_its_start():
    lay = OfdmLayout(PhyConfig())
    a = lay.a_time
    np.testing.assert_allclose(a[:48], a[32:80], atol=1e-7)
    x = np.concatenate([np.zeros(100, np.complex64), a, lay.b_block, np.zeros(100, np.complex64)])
    P, R1, R2, _ = schmidl_cox(x, lay.half, sc_window(lay))
    m = np.abs(P) ** 2 / np.maximum(R1 * R2, 1e-30)
    assert int(np.argmax(m)) == 100 and m[100] > 0.999
    hits, vals = coarse_detect(x, lay.half, sc_window(lay), 8, 0.5)
    assert hits.size and np.all(np.abs(hits - 100) <= 40) and vals.max() > 0.8
    assert coarse_detect(np.zeros(4096, np.complex64), 32, 48, 8, 0.1)[0].size == 0


def test_sparse_channel_estimate_finds_the_paths(rng):
    lay = OfdmLayout(PhyConfig())
    syn = Synchroniser(lay)
    delays, gains = np.array([0.0, 2.5, 7.0]), np.array([1.0, 0.5j, -0.3])
    H = (gains[None, :] * np.exp(-2j * np.pi * np.outer(lay.used, delays) / 64)).sum(axis=1)
    ls_var = 1e-3
    mse, rep = [], []
    for _ in range(50):
        H_ls = H + np.sqrt(ls_var / 2) * (rng.standard_normal(52) + 1j * rng.standard_normal(52))
        h, err = syn.estimate_channel(H_ls, ls_var)
        mse.append(np.mean(np.abs(h - H) ** 2))
        rep.append(np.mean(err))
    assert np.mean(mse) < 0.25 * ls_var  # three paths: far below the raw LS error
    assert 0.7 < np.mean(rep) / np.mean(mse) < 1.4  # the reported error variance is right


def test_golden_burst():
    """The waveform is a compatibility contract between TX and RX builds: changing it must be a
    deliberate act (update these numbers and say so in the commit)."""
    s = np.exp(1j * np.arange(60) * 0.7).astype(np.complex64)
    b = Modulator(PhyConfig()).modulate(SemanticFrame(s, [30, 60], FrameMeta(codec_id=6, seq=3, snr_db=4.0, flags=2)))
    assert b.size == 80 + 480 + 2 * 80 + 80
    got = [float(v) for v in (np.abs(b).sum(), b[80].real, b[80].imag, b[600].real, b[-81].imag)]
    np.testing.assert_allclose(got, GOLDEN, rtol=1e-5, atol=2e-5)


GOLDEN = [141.54823, -0.20801, 0.06934, -0.25131, -0.16034]
