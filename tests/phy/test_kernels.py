"""Each compiled receiver kernel (semcom_ota/phy/kernels.py) equals the NumPy reference it replaces."""

import numpy as np
import pytest

from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator
from semcom_ota.phy import Modulator, OfdmLayout, PhyConfig
from semcom_ota.phy.equalise import (
    equalise_payload,
    header_llrs,
    mmse_equalise,
    ofdm_demodulate,
    ofdm_demodulate_numpy,
    pilot_error_ratio,
    pilot_error_ratio_numpy,
    timing_drift,
    track_pilots,
    track_pilots_numpy,
)
from semcom_ota.phy.header import fields_from_word
from semcom_ota.phy.kernels import (
    _fft_row,
    _median,
    channel_fit_kernel,
    drift_offsets_kernel,
    fft_tables,
    first_hit_kernel,
    header_decode_kernel,
    live_symbols_kernel,
    pilots_received_kernel,
    sc_peak_kernel,
    viterbi_kernel,
)
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
            sym, nv, mask = equalise_payload(
                F, rot, lay, res, nh, phi[nh : nh + s_rx], theta[nh : nh + s_rx], pv[nh : nh + s_rx], infl[:s_rx], S - nh, n
            )
            ok = pos < s_rx * lay.n_data
            np.testing.assert_array_equal(mask, ok)
            assert sym.dtype == np.complex64 and nv.dtype == np.float32
            _close(sym[ok], z_ref.reshape(-1)[pos[ok]], 2e-5)
            _close(nv[ok], nv_ref.reshape(-1)[pos[ok]], 1e-6)
            assert np.all(sym[~ok] == 0) and np.all(np.isinf(nv[~ok]))


def test_small_kernels_match_numpy(rng):
    hits = np.sort(rng.choice(10_000, 300, replace=False)).astype(np.int64)
    vals = rng.uniform(0, 1, 300).astype(np.float32)
    for _ in range(200):
        lo, hi = sorted(rng.integers(0, 10_500, 2))
        thr = float(rng.choice([0.0, 0.3, 0.9]))
        sel = np.flatnonzero((hits >= lo) & (hits < hi) & ((vals > thr) if thr > 0 else True))
        assert first_hit_kernel(hits, vals, lo, hi, thr) == (sel[0] if sel.size else -1)
    lay = OfdmLayout(PhyConfig())
    theta = rng.normal(0, 0.2, 100)
    off, moved = drift_offsets_kernel(theta, lay.n_fft)
    np.testing.assert_array_equal(off, np.rint(timing_drift(theta, lay)).astype(np.int64))
    assert moved == bool(off.any())
    assert not drift_offsets_kernel(np.zeros(5), lay.n_fft)[1]
    for n in (1, 2, 3, 4, 7, 10, 169, 170):  # the common-phase window's median (ties included)
        for a in (rng.standard_normal(n), rng.integers(0, 3, n).astype(np.float64)):
            assert _median(a.copy()) == np.median(a)


@pytest.mark.parametrize("n", [2, 4, 8, 16, 32, 64, 128, 256])
def test_small_fft_matches_numpy(rng, n):
    """Radix 4 for powers of four, radix 2 otherwise: both equal np.fft.fft."""
    tw, rev = fft_tables(n)
    assert tw.size == (n - 1 if (n.bit_length() - 1) % 2 == 0 else n // 2)
    for _ in range(3):
        x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        y = x.copy()
        _fft_row(y, tw, rev)
        _close(y, np.fft.fft(x), 1e-12)
    with pytest.raises(ValueError, match="power of two"):
        fft_tables(48)


def test_live_symbols_kernel_finds_the_last_live_symbol(rng):
    lay = OfdmLayout(PhyConfig())
    F = (rng.standard_normal((20, lay.n_fft)) + 1j * rng.standard_normal((20, lay.n_fft))).astype(np.complex64)
    F[15:] *= 0.01
    F[9] *= 0.01
    assert live_symbols_kernel(F, 3, 17, lay.used_idx, 0.5) == 12
    assert live_symbols_kernel(F, 3, 10, lay.used_idx, 0.5) == 10
    assert live_symbols_kernel(F, 15, 5, lay.used_idx, 0.5) == 0


@pytest.mark.parametrize("ch", CHANNELS)
def test_acquisition_matches_numpy(rng, make_frame, ch):
    cfg = PhyConfig(sample_rate_hz=FS)
    lay = OfdmLayout(cfg)
    syn = Synchroniser(lay)
    assert syn.fft_tw is not None  # the compiled path is the one under test
    for _ in range(3):
        y = ChannelSimulator(ch, seed=int(rng.integers(1 << 30))).apply(Modulator(cfg).modulate(make_frame(rng, 3000)))
        base = int(rng.integers(0, 40))
        buf = y[base:]
        for t0 in (cfg.guard_len + int(rng.integers(-6, 7)), cfg.guard_len + 2000):  # a preamble, then data
            P = complex(schmidl_cox(y[t0 : t0 + 4 * lay.sym_len], lay.half, sc_window(lay))[0][0])
            got, ref = syn.synchronise(buf, base, t0, P), syn.synchronise_numpy(buf, base, t0, P)
            assert (got is None) == (ref is None)
            if ref is None:
                continue
            assert (got.t0, got.phase_ref) == (ref.t0, ref.phase_ref)
            for a in ("cfo", "noise_var", "snr_db", "rho"):
                assert getattr(got, a) == pytest.approx(getattr(ref, a), rel=1e-5, abs=1e-9), a
            _close(got.h, ref.h, 1e-5)
            _close(got.h_err_var, ref.h_err_var, 1e-5)


def test_channel_fit_kernel_matches_estimate_channel(rng, make_ls_channel):
    lay = OfdmLayout(PhyConfig())
    syn = Synchroniser(lay)
    for _ in range(50):
        H_ls, ls_var = make_ls_channel(rng, lay)
        h, err = channel_fit_kernel(
            H_ls, ls_var, syn.atoms, syn.gram, syn.atoms_h, syn.gram_conj_n, syn.norm_after_one, syn.max_paths, lay.cfg.tap_threshold
        )
        h_ref, err_ref = syn.estimate_channel(H_ls, ls_var)
        _close(h, h_ref, 1e-9)
        _close(err, err_ref, 1e-9)


@pytest.mark.parametrize("ch", CHANNELS[:3] + [ChannelConfig(snr_db=-1.0, sample_rate_hz=FS)])
def test_header_kernel_matches_the_numpy_decoder(rng, make_frame, ch):
    from semcom_ota.phy.header import hard_decode, header_decode_tables, unpack_header
    from semcom_ota.phy.layout import HEADER_CODED_BITS

    lay, y, res, _ = _synced(rng, make_frame, ch, n=200)
    syn = Synchroniser(lay)
    start = res.t0 + lay.header_start + lay.cp_len
    for bad in (False, True):
        buf = y.copy()
        if bad:  # corrupt a third of the header: soft decoding or a CRC failure
            a = start + lay.sym_len
            buf[a : a + lay.n_fft] = 0
        status, word, coded = header_decode_kernel(
            buf, start, lay.n_header_symbols, lay.sym_len, 2 * np.pi * res.cfo / lay.n_fft, float(start - res.phase_ref),
            syn.fft_tw, syn.fft_rev, lay.pilot_idx, np.ascontiguousarray(lay.pilots_complex(0, lay.n_header_symbols)),
            res.h, res.h_err_var, lay.pilot_pos, lay.data_idx, lay.data_pos, float(res.noise_var), lay.header_fold,
            HEADER_CODED_BITS, *header_decode_tables(),
        )  # fmt: skip
        llr = header_llrs(buf, 0, lay, res)
        ref = np.bincount(lay.header_fold, weights=llr.reshape(-1), minlength=HEADER_CODED_BITS)
        _close(coded, ref, 1e-5)
        bits = hard_decode(ref)
        assert status == (2 if bits is None else 1 if unpack_header(bits) is None else 0)
        if status == 0:
            f = unpack_header(bits)
            assert fields_from_word(int(word)) == f


def _receive(y, frame_kernels, chunk):
    from semcom_ota.phy import Demodulator

    d = Demodulator(PhyConfig(sample_rate_hz=FS))
    d.frame_kernels = frame_kernels
    d._compiled = frame_kernels  # set by __init__ from the class attribute
    out = []
    for i in range(0, y.size, chunk):
        out += d.feed(y[i : i + chunk])
    return out + d.flush(), d.stats


@pytest.mark.parametrize(
    "ch",
    CHANNELS + [ChannelConfig(snr_db=25.0, sample_rate_hz=FS, sro_ppm=400.0), ChannelConfig(snr_db=2.0, sample_rate_hz=FS)],
)
def test_whole_frame_kernels_match_the_step_by_step_receiver(rng, make_frame, ch):
    """acquire_header_kernel + finish_kernel give the frames of the one-stage-per-call path: same
    statuses, timing, header, masks; symbols and noise variances within float rounding. The
    stream has short and long frames, a frame cut short by the next one and a burst that falls
    silent; the 400 ppm channel moves the FFT windows (sampling-offset re-timing); at 2 dB many
    headers need soft decoding (compiled Viterbi vs the NumPy one) and some fail."""
    import semcom_ota.phy.demodulator as dm

    cfg = PhyConfig(sample_rate_hz=FS)
    mod = Modulator(cfg)
    parts = []
    for n in (60,) + (400,) * 7 + (3000,) + (700,) * 5:  # repeated sizes: the batched path
        parts.append(mod.modulate(make_frame(rng, n)))
    cut = mod.modulate(make_frame(rng, 2000))
    parts.append(cut[: cut.size // 2])  # the next frame starts inside this payload
    parts.append(mod.modulate(make_frame(rng, 500)))
    silent = mod.modulate(make_frame(rng, 1500))
    silent[silent.size // 2 :] = 0  # falls silent
    parts.append(silent)
    y = ChannelSimulator(ch, seed=int(rng.integers(1 << 30))).apply(np.concatenate(parts))
    batched = []
    kernel = dm.frames_kernel

    def counting(*args):
        r = kernel(*args)
        batched.append(r[0])
        return r

    dm.frames_kernel = counting
    try:
        got, stats = _receive(y, True, 7000)
    finally:
        dm.frames_kernel = kernel
    ref, ref_stats = _receive(y, False, 7000)
    assert stats == ref_stats
    assert len(got) == len(ref) >= 15
    if ch.snr_db >= 12:
        assert sum(batched) >= 3  # the many-frames-per-call kernel took some of them
    for g, r in zip(got, ref):
        assert (g.status, g.meta, g.n) == (r.status, r.meta, r.n)
        assert g.info.keys() == r.info.keys()
        assert g.info["t0"] == r.info["t0"]
        assert g.info.get("ofdm_symbols_received") == r.info.get("ofdm_symbols_received")
        np.testing.assert_array_equal(g.mask, r.mask)
        _close(g.symbols[g.mask], r.symbols[r.mask], 2e-5)
        _close(g.noise_var[g.mask], r.noise_var[r.mask], 2e-5)
        assert g.snr_db == pytest.approx(r.snr_db, rel=1e-6, abs=1e-9)
        if "noise_var_inflation" in r.info:
            assert g.info["noise_var_inflation"] == pytest.approx(r.info["noise_var_inflation"], rel=1e-5)


def test_viterbi_kernel_matches_the_numpy_decoder(rng):
    from semcom_ota.phy.header import conv_encode, trellis_signs, viterbi_decode

    for trial in range(40):
        bits = rng.integers(0, 2, 56).astype(np.uint8)
        llr = 4.0 * (1.0 - 2.0 * conv_encode(bits)) + rng.normal(0.0, [0.5, 2.0, 4.0, 8.0][trial % 4], 124)
        if trial == 0:
            llr[:] = 0.0  # all ties
        got = viterbi_kernel(llr, trellis_signs())
        np.testing.assert_array_equal(got, viterbi_decode(llr))
        if trial % 4 == 0 and trial:
            np.testing.assert_array_equal(got, bits)  # weak noise: decoded exactly


def test_profiled_stages_exist():
    """`scripts/bench/phy.py --profile` wraps these names: each must still be there."""
    import importlib

    from semcom_ota.phy.bench import RX_STAGES

    for module, path in RX_STAGES:
        owner = importlib.import_module(module)
        for part in path.split("."):
            owner = getattr(owner, part)
        assert callable(owner), (module, path)
