"""Each compiled receiver kernel (semcom_ota/phy/kernels.py) equals the NumPy reference it replaces."""

import numpy as np
import pytest

from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator
from semcom_ota.phy import Modulator, OfdmLayout, PhyConfig
from semcom_ota.phy.equalise import (
    equalise_payload,
    mmse_equalise,
    ofdm_demodulate,
    ofdm_demodulate_numpy,
    pilot_error_ratio,
    pilot_error_ratio_numpy,
    track_pilots,
    track_pilots_numpy,
)
from semcom_ota.phy.kernels import live_symbols_kernel, pilots_received_kernel, sc_peak_kernel
from semcom_ota.phy.sync import Synchroniser, coarse_detect, coarse_detect_numpy, sc_window, schmidl_cox

FS = 1e6
CHANNELS = [
    ChannelConfig(snr_db=8.0, sample_rate_hz=FS, cfo_hz=37_000.0),
    ChannelConfig(snr_db=15.0, sample_rate_hz=FS, fading="rayleigh", profile="EPA", cfo_hz=-52_000.0),
    ChannelConfig(snr_db=20.0, sample_rate_hz=FS, sro_ppm=150.0, cfo_hz=900.0),
    ChannelConfig(snr_db=12.0, sample_rate_hz=FS, phase_noise_linewidth_hz=80.0),
    ChannelConfig(snr_db=30.0, sample_rate_hz=FS, iq_amplitude_imbalance_db=1.0, iq_phase_imbalance_deg=5.0),
]


def _synced(rng, make_frame, ch, n=3000):
    cfg = PhyConfig(sample_rate_hz=FS)
    lay = OfdmLayout(cfg)
    y = ChannelSimulator(ch, seed=int(rng.integers(1 << 30))).apply(Modulator(cfg).modulate(make_frame(rng, n)))
    t0 = cfg.guard_len
    P = schmidl_cox(y[t0 : t0 + 4 * lay.sym_len], lay.half, sc_window(lay))[0][0]
    res = Synchroniser(lay).synchronise(y, 0, t0, complex(P))
    assert res is not None
    return lay, y, res, lay.n_header_symbols + lay.n_payload_symbols(n)


def _close(a, b, rel):
    np.testing.assert_allclose(a, b, rtol=rel, atol=rel * max(float(np.abs(b).max(initial=0.0)), 1e-30))


def test_coarse_detect_matches_numpy(rng, make_frame):
    lay = OfdmLayout(PhyConfig())
    mod = Modulator(lay.cfg)
    for trial in range(6):
        fr_len = int(rng.integers(50, 2000))
        x = mod.modulate(make_frame(rng, fr_len))
        x = np.concatenate([np.zeros(int(rng.integers(0, 300)), np.complex64), x, x])
        x = (x + 0.05 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))).astype(np.complex64)
        if trial == 0:
            x[:500] = 0  # silence: exactly no metric
        for stride in (8, 4, 1):
            for thr in (0.15, 0.5):
                hits, vals = coarse_detect(x, lay.half, sc_window(lay), stride, thr)
                ref_h, ref_v = coarse_detect_numpy(x, lay.half, sc_window(lay), stride, thr)
                # float32 block sums in another order may flip a metric within rounding of thr
                diff = np.setxor1d(hits, ref_h)
                assert diff.size <= 1
                common, ia, ib = np.intersect1d(hits, ref_h, return_indices=True)
                assert common.size >= ref_h.size - 1
                _close(vals[ia], ref_v[ib], 1e-4)
                assert hits.dtype == np.int64 and vals.dtype == np.float32
    assert coarse_detect(np.zeros(4096, np.complex64), 32, 48, 8, 0.1)[0].size == 0
    assert coarse_detect(np.zeros(40, np.complex64), 32, 48, 8, 0.1)[0].size == 0


@pytest.mark.parametrize("smooth", [2, 3, 5, 9])
def test_peak_kernel_matches_schmidl_cox(rng, smooth):
    for _ in range(20):
        x = (rng.standard_normal(200) + 1j * rng.standard_normal(200)).astype(np.complex64)
        x[40:120] += 3 * np.tile(x[40:72], 3)[:80]
        P, R1, R2, _ = schmidl_cox(x, 32, 48)
        m = (P.real**2 + P.imag**2) / np.maximum(R1 * R2, 1e-300)
        i_ref = int(np.argmax(np.convolve(m, np.ones(smooth), mode="same")))
        i, p = sc_peak_kernel(x, 32, 48, smooth)
        assert i == i_ref
        assert abs(p - P[i_ref]) <= 1e-7 * abs(P[i_ref])  # float32 lag products, float64 sums


@pytest.mark.parametrize("ch", CHANNELS)
def test_demodulate_and_track_match_numpy(rng, make_frame, ch):
    lay, y, res, S = _synced(rng, make_frame, ch)
    nh = lay.n_header_symbols
    for offsets in (None, rng.integers(-2, 3, S), np.full(S, 4)):
        F, rot = ofdm_demodulate(y, 0, lay, res, 0, S, offsets)
        F_ref, rot_ref = ofdm_demodulate_numpy(y, 0, lay, res, 0, S, offsets)
        assert F.dtype == np.complex64 and rot.dtype == np.complex64
        _close(F, F_ref, 1e-5)
        _close(rot, rot_ref, 1e-6)
        Yp = pilots_received_kernel(F, rot, lay.pilot_idx, S)
        _close(Yp, np.take(F, lay.pilot_idx, axis=1) * rot[:, None], 1e-6)  # complex64 products
        got = track_pilots(Yp, lay, res, 0, offsets)
        ref = track_pilots_numpy(Yp, lay, res, 0, offsets)
        for g, r in zip(got, ref):
            _close(g, r, 1e-6)
        phi, theta, pv = ref
        infl = pilot_error_ratio(Yp, lay, res, phi, theta, pv)
        _close(infl, pilot_error_ratio_numpy(Yp, lay, res, phi, theta, pv), 1e-5)
        # equalisation and de-permutation, all received and truncated
        n = (S - nh) * lay.n_data - 5
        pos = lay.payload_index(S - nh)[:n]
        infl = np.where(np.arange(S - nh) % 7 == 3, 1.5, 1.0)
        z_ref, nv_ref = mmse_equalise(np.take(F[nh:], lay.data_idx, axis=1), rot[nh:], lay, res, phi[nh:], theta[nh:], pv[nh:])
        nv_ref = nv_ref * infl[:, None].astype(np.float32)
        for s_rx in (S - nh, (S - nh) // 2):
            sym, nv, mask = equalise_payload(F, rot, lay, res, nh, phi[nh : nh + s_rx], theta[nh : nh + s_rx], pv[nh : nh + s_rx], infl[:s_rx], pos)
            ok = pos < s_rx * lay.n_data
            np.testing.assert_array_equal(mask, ok)
            assert sym.dtype == np.complex64 and nv.dtype == np.float32
            _close(sym[ok], z_ref.reshape(-1)[pos[ok]], 2e-5)
            _close(nv[ok], nv_ref.reshape(-1)[pos[ok]], 1e-6)
            assert np.all(sym[~ok] == 0) and np.all(np.isinf(nv[~ok]))


def test_live_symbols_kernel_finds_the_last_live_symbol(rng):
    lay = OfdmLayout(PhyConfig())
    F = (rng.standard_normal((20, lay.n_fft)) + 1j * rng.standard_normal((20, lay.n_fft))).astype(np.complex64)
    F[15:] *= 0.01
    F[9] *= 0.01
    assert live_symbols_kernel(F, 3, 17, lay.used_idx, 0.5) == 12
    assert live_symbols_kernel(F, 3, 10, lay.used_idx, 0.5) == 10
    assert live_symbols_kernel(F, 15, 5, lay.used_idx, 0.5) == 0
