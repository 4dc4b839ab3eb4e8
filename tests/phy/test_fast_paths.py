"""The receiver's fast paths equal the straightforward computations they replace."""

import numpy as np
import pytest

from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator
from semcom_ota.frames import FrameMeta
from semcom_ota.phy import Modulator, OfdmLayout, PhyConfig
from semcom_ota.phy.equalise import (
    _centred_sum,
    _centred_sum_last,
    header_llrs,
    mmse_equalise,
    ofdm_demodulate,
    track_common_phase,
)
from semcom_ota.phy.header import K, conv_encode, crc16, hard_decode, pack_header, unpack_header
from semcom_ota.phy.sync import Synchroniser, sc_window, schmidl_cox


def _synced(rng, make_frame, cfg, ch):
    """A burst through ``ch`` and its SyncResult at the true preamble start."""
    lay = OfdmLayout(cfg)
    y = ChannelSimulator(ch, seed=int(rng.integers(1 << 30))).apply(Modulator(cfg).modulate(make_frame(rng, 500)))
    t0 = cfg.guard_len
    P = schmidl_cox(y[t0 : t0 + 4 * lay.sym_len], lay.half, sc_window(lay))[0][0]
    res = Synchroniser(lay).synchronise(y, 0, t0, complex(P))
    assert res is not None
    return lay, y, res


@pytest.mark.parametrize(
    "ch",
    [
        ChannelConfig(snr_db=8.0, sample_rate_hz=1e6, cfo_hz=37_000.0),
        ChannelConfig(snr_db=15.0, sample_rate_hz=1e6, fading="rayleigh", profile="EPA", cfo_hz=-52_000.0),
        ChannelConfig(snr_db=3.0, sample_rate_hz=1e6, phase_noise_linewidth_hz=50.0),
    ],
)
def test_header_llrs_equal_the_generic_chain(rng, make_frame, ch):
    cfg = PhyConfig(sample_rate_hz=1e6)
    for _ in range(3):
        lay, y, res = _synced(rng, make_frame, cfg, ch)
        nh = lay.n_header_symbols
        F, rot = ofdm_demodulate(y, 0, lay, res, 0, nh)
        Yp = F[:, lay.pilot_idx] * rot[:, None]
        z, nv = mmse_equalise(F[:, lay.data_idx], rot, lay, res, *track_common_phase(Yp, lay, res, 0))
        ref = 4.0 * z.real / nv
        got = header_llrs(y, 0, lay, res)
        assert got.shape == (nh, lay.n_data)
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def _hard_decode_reference(llr):
    """The former hard decoder: u = c0 / g0 by polynomial division, re-encode, compare."""
    c = (np.asarray(llr) < 0).astype(np.uint8)
    c0 = c[0::2].astype(np.int64)
    g0 = np.array([(0o133 >> (K - 1 - i)) & 1 for i in range(K)])
    u = np.zeros(c0.size, np.int64)
    for t in range(c0.size):  # c0[t] = sum_i g0[i] u[t-i]  =>  u[t] = c0[t] - sum_{i>0} g0[i] u[t-i]
        u[t] = (c0[t] + sum(g0[i] * u[t - i] for i in range(1, min(K, t + 1)))) % 2
    if u[-(K - 1) :].any():
        return None
    info = u[: -(K - 1)].astype(np.uint8)
    return info if np.array_equal(conv_encode(info), c) else None


def test_hard_decode_matches_reference(rng):
    for trial in range(300):
        info = rng.integers(0, 2, 56).astype(np.uint8)
        c = conv_encode(info)
        llr = (1.0 - 2.0 * c) * rng.uniform(0.1, 3.0, c.size)
        if trial % 3 == 1:
            llr[rng.integers(c.size)] *= -1  # one hard error
        elif trial % 3 == 2:
            llr = rng.standard_normal(c.size)  # not a codeword (almost surely)
        got, ref = hard_decode(llr), _hard_decode_reference(llr)
        assert (got is None) == (ref is None)
        if ref is not None:
            np.testing.assert_array_equal(got, ref)
            np.testing.assert_array_equal(got, info)
    # every single-bit error is detected (free distance 10); a nonzero tail is not a codeword
    c = conv_encode(rng.integers(0, 2, 56).astype(np.uint8))
    for i in range(c.size):
        bad = c.copy()
        bad[i] ^= 1
        assert hard_decode(1.0 - 2.0 * bad) is None
    u = np.concatenate([rng.integers(0, 2, 56), [0, 0, 1, 0, 0, 0]]).astype(np.uint8)  # unterminated
    assert hard_decode(1.0 - 2.0 * conv_encode(u)[: c.size]) is None


def test_header_crc_matrix_matches_crc16(rng):
    for trial in range(400):
        seq, length = int(rng.integers(256)), int(rng.integers(1, 16384))
        bits = pack_header(FrameMeta(seq=seq), length)
        if trial % 3 == 1:
            bits[rng.integers(56)] ^= 1
        elif trial % 3 == 2:
            bits = rng.integers(0, 2, 56).astype(np.uint8)
        f = unpack_header(bits)
        assert (f is None) == (not np.array_equal(crc16(bits[:40]), bits[40:]))
        if trial % 3 == 0:
            assert f is not None and (f.seq, f.length) == (seq, length)
    with pytest.raises(ValueError, match="56 header bits"):
        unpack_header(np.zeros(40, np.uint8))


def _ols_reference(syn, H_ls, ls_var):
    """The former channel fit: greedy orthogonal least squares with explicit solves."""
    D, G = syn.atoms, syn.gram
    n = D.shape[0]
    thr = syn.lay.cfg.tap_threshold * ls_var
    c0 = syn.atoms_h @ H_ls
    corr, sel, coef = c0, [], None
    norm = np.full(G.shape[0], float(n))
    for _ in range(syn.max_paths):
        if sel:
            Gs = G[:, sel]
            M = np.linalg.solve(G[np.ix_(sel, sel)], Gs.conj().T)
            norm = n - np.real(np.sum(Gs * M.T, axis=1))
            norm[sel] = np.inf
        gain = np.abs(corr) ** 2 / np.maximum(norm, 1e-9 * n)
        j = int(np.argmax(gain))
        if sel and gain[j] < thr:
            break
        sel.append(j)
        coef = np.linalg.solve(G[np.ix_(sel, sel)], c0[sel])
        corr = c0 - G[:, sel] @ coef
    Dk = D[:, sel]
    err = ls_var * np.real(np.sum((Dk @ np.linalg.inv(G[np.ix_(sel, sel)])) * np.conj(Dk), axis=1))
    return Dk @ coef, err


def test_channel_fit_matches_reference(rng, make_ls_channel):
    lay = OfdmLayout(PhyConfig())
    syn = Synchroniser(lay)
    for _ in range(100):
        H_ls, ls_var = make_ls_channel(rng, lay)
        h, err = syn.estimate_channel(H_ls, ls_var)
        h_ref, err_ref = _ols_reference(syn, H_ls, ls_var)
        np.testing.assert_allclose(h, h_ref, rtol=1e-9, atol=1e-9 * np.abs(h_ref).max())
        np.testing.assert_allclose(err, err_ref, rtol=1e-9)


@pytest.mark.parametrize("n, width", [(1, 5), (2, 5), (7, 1), (7, 4), (7, 5), (30, 9), (30, 16), (3, 16)])
def test_centred_sum_matches_loop(rng, n, width):
    a = rng.standard_normal((n, 3)) + 1j * rng.standard_normal((n, 3))
    ref = np.array([a[max(i - width // 2, 0) : min(i - width // 2 + width, n)].sum(axis=0) for i in range(n)])
    np.testing.assert_allclose(_centred_sum(a, width), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_centred_sum(a[:, 0], width), ref[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_centred_sum_last(np.ascontiguousarray(a.T), width), ref.T, rtol=1e-12, atol=1e-12)


def test_pilot_tables_match_the_polarity_sequence():
    lay = OfdmLayout(PhyConfig())
    for first, count in [(0, 3), (5, 200), (120, 20), (0, 400), (300, 60)]:
        m = (first + np.arange(count)) % lay.pilot_polarity.size
        ref = lay.pilot_polarity[m][:, None] * lay.pilot_base[None, :]
        np.testing.assert_array_equal(lay.pilots(first, count), ref)
        np.testing.assert_array_equal(lay.pilots_complex(first, count, np.complex64), ref.astype(np.complex64))
        np.testing.assert_array_equal(lay.symbol_offsets(count), lay.sym_len * np.arange(count, dtype=np.float64))
