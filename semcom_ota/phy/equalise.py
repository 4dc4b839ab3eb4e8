"""Per-symbol stages after synchronisation: OFDM demodulation of a run of symbols, pilot tracking
(common phase and sampling-offset phase slope; pilots only, never decision-directed) and MMSE
equalisation with de-biasing and a per-symbol noise variance."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as sp_fft

from semcom_ota.phy.kernels import (
    equalise_gather_kernel,
    fft_windows_kernel,
    pilot_error_ratio_kernel,
    track_pilots_kernel,
)
from semcom_ota.phy.layout import OfdmLayout
from semcom_ota.phy.sync import SyncResult, _phasor, _unit_phasor


try:  # pocketfft's C entry point: scipy.fft.fft minus ~10 µs of argument handling per call
    from scipy.fft._pocketfft.pypocketfft import c2c as _c2c
except ImportError:  # pragma: no cover - other SciPy layouts
    _c2c = None


def _fft_rows(x: np.ndarray) -> np.ndarray:
    """Forward FFT along axis 1 of complex64 C-contiguous ``x`` ``[S, n]`` (complex64, may overwrite ``x``)."""
    if _c2c is not None:
        return _c2c(x, (1,), True, 0, x, 1)
    return sp_fft.fft(x, axis=1, overwrite_x=True)


_NONE_I64 = np.zeros(0, np.int64)
_NONE_C64 = np.zeros(0, np.complex64)
_NONE_F64 = np.zeros(0, np.float64)


def ofdm_demodulate(
    buf: np.ndarray,
    base: int,
    lay: OfdmLayout,
    sync: SyncResult,
    first: int,
    count: int,
    offsets: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ofdm_demodulate_numpy` with the windowing and CFO derotation in one compiled loop
    (:func:`~semcom_ota.phy.kernels.fft_windows_kernel`) before the batched FFT; same arguments
    and results (``F`` complex64 ``[count, n_fft]``, ``rot`` complex64 ``[count]``).

    out: optional complex64 ``[≥ count · n_fft]`` workspace; ``F`` is then a view of it (reused
    memory: valid until the next call with the same ``out``)."""
    N, L = lay.n_fft, lay.sym_len
    if count <= 0:
        return np.zeros((0, N), np.complex64), np.zeros(0, np.complex64)
    start = sync.t0 + lay.header_start + first * L + lay.cp_len
    w = 2.0 * np.pi * sync.cfo / N
    off = _NONE_I64 if offsets is None else np.ascontiguousarray(offsets, np.int64)
    if off.size and off.size != count:
        raise ValueError(f"offsets: expected {count} values, got {off.size}")
    if out is None or out.dtype != np.complex64 or out.ndim != 1 or out.size < count * N:
        out = _NONE_C64
    win, rot = fft_windows_kernel(buf, start - base, int(count), L, N, w, w * float(start - sync.phase_ref), off, out)
    return _fft_rows(win), rot


def ofdm_demodulate_numpy(
    buf: np.ndarray,
    base: int,
    lay: OfdmLayout,
    sync: SyncResult,
    first: int,
    count: int,
    offsets: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """FFT ``count`` OFDM symbols (symbol 0 = first header symbol) in one batch.

    The CFO is removed in two parts: the phase ramp within each FFT window (time domain, before the
    FFT) and a constant phase per symbol, returned to be applied after the FFT (cheaper).

    Parameters
    ----------
    buf: complex64 samples, ``buf[0]`` at absolute index ``base``.
    offsets: optional int ``[count]``: move symbol ``m``'s FFT window by ``offsets[m]`` samples
        (re-timing for a sampling-rate offset).

    Returns
    -------
    ``F`` complex64 ``[count, n_fft]`` (FFT units, same scale as ``sync.h`` once multiplied by
    ``rot``) and ``rot`` complex64 ``[count]``, the per-symbol CFO phase correction.
    """
    N, L = lay.n_fft, lay.sym_len
    if count <= 0:
        return np.zeros((0, N), np.complex64), np.zeros(0, np.complex64)
    start = sync.t0 + lay.header_start + first * L + lay.cp_len  # absolute FFT window start of symbol `first`
    s0 = start - base
    if offsets is None:
        blk = buf[s0 : s0 + count * L]
        if blk.size < count * L:  # the last window may lack up to cp_len trailing samples
            blk = np.concatenate([blk, np.zeros(count * L - blk.size, np.complex64)])
        win = blk.reshape(count, L)[:, :N]
        pos = lay.symbol_offsets(count)
    else:
        ipos = L * np.arange(count, dtype=np.int64) + np.asarray(offsets, np.int64)
        idx = s0 + ipos[:, None] + np.arange(N)[None, :]
        ok = (idx >= 0) & (idx < buf.size)
        win = np.where(ok, buf[np.clip(idx, 0, max(buf.size - 1, 0))], 0).astype(np.complex64)
        pos = ipos.astype(np.float64)
    w = 2.0 * np.pi * sync.cfo / N
    ph = pos * -w
    ph += -w * (start - sync.phase_ref)
    rot = _unit_phasor(np.mod(ph, 2.0 * np.pi, out=ph))
    F = win * _unit_phasor(lay.fft_n * -w)
    return sp_fft.fft(F, axis=1, overwrite_x=True), rot


@lru_cache(maxsize=256)
def _window_bounds(n: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    start = np.arange(n) - width // 2
    return np.clip(start, 0, n), np.clip(start + width, 0, n)


@lru_cache(maxsize=256)
def _window_count_cached(n: int, width: int) -> np.ndarray:
    if width <= 1 or n <= 1:
        out = np.ones(n)
    else:
        lo, hi = _window_bounds(n, width)
        out = (hi - lo).astype(np.float64)
    out.setflags(write=False)
    return out


def _window_count(n: int, width: int) -> np.ndarray:
    """Number of terms in each centred window of :func:`_centred_sum` (float64 ``[n]``, shared: do
    not modify)."""
    return _window_count_cached(int(n), int(width))


def _centred_sum(a: np.ndarray, width: int) -> np.ndarray:
    """Centred moving sum along axis 0 (edges use the available part): row ``i`` sums rows
    ``max(i - width//2, 0) .. min(i - width//2 + width, n) - 1``.

    One cumulative sum padded with its first and last values at both ends, then one difference of
    two slices (no index arrays)."""
    n = a.shape[0]
    if width <= 1 or n <= 1:
        return a.copy()
    h = width // 2
    c = np.empty((n + width + 1,) + a.shape[1:], a.dtype)  # c[j] = cumsum[clip(j - h, 0, n)]
    c[: h + 1] = 0
    np.cumsum(a, axis=0, out=c[h + 1 : h + 1 + n])
    c[h + 1 + n :] = c[h + n]
    return c[width : width + n] - c[:n]


def _centred_sum_last(a: np.ndarray, width: int) -> np.ndarray:
    """:func:`_centred_sum` along the last axis of a 2-D array (same values)."""
    n = a.shape[1]
    if width <= 1 or n <= 1:
        return a.copy()
    h = width // 2
    c = np.empty((a.shape[0], n + width + 1), a.dtype)
    c[:, : h + 1] = 0
    np.cumsum(a, axis=1, out=c[:, h + 1 : h + 1 + n])
    c[:, h + 1 + n :] = c[:, h + n : h + n + 1]
    return c[:, width : width + n] - c[:, :n]


def _angle(z: np.ndarray) -> np.ndarray:
    """``np.angle`` without its Python wrapper (same values)."""
    return np.arctan2(z.imag, z.real)


def _cpe_window(c: np.ndarray, var1: float, w_max: int) -> tuple[int, float]:
    """Pick the (odd) averaging width for the common phase and estimate the phase-noise increment
    variance per symbol ``q`` from successive pilot phasors ``c`` ``[S]`` (noise variance ``var1``
    each): minimises ``var1/w + q (w²-1)/12``."""
    if c.size < 3 or w_max <= 1:
        return 1, 0.0
    d = _angle(c[1:] * np.conj(c[:-1]))
    d2 = d * d
    k = d2.size // 2
    part = np.partition(d2, (k - 1, k)) if d2.size % 2 == 0 else np.partition(d2, k)
    med = 0.5 * (part[k - 1] + part[k]) if d2.size % 2 == 0 else part[k]
    q = float(med) / 0.455 - 2.0 * var1  # median: robust to phase wraps
    if q <= var1:  # not significant: the estimate of 2·var1 + q has ~30 % spread for short frames
        return w_max, max(q, 0.0)
    w = int(np.sqrt(12.0 * var1 / q))
    w = max(1, min(w_max, w))
    return w if w % 2 else max(w - 1, 1), q


def track_common_phase(Yp: np.ndarray, lay: OfdmLayout, sync: SyncResult, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Light tracking for a few symbols (the header): common phase per symbol from its pilots,
    no slope. Same inputs and outputs as :func:`track_pilots`."""
    S = Yp.shape[0]
    pp = lay.pilot_pos
    Q = Yp * np.conj(sync.h[pp][None, :] * lay.pilots(first, S))
    phi = np.angle(Q.sum(axis=1))
    hp2 = float(np.sum(np.abs(sync.h[pp]) ** 2))
    return phi, np.zeros(S), np.full(S, sync.noise_var / (2.0 * hp2))


def header_llrs(buf: np.ndarray, base: int, lay: OfdmLayout, sync: SyncResult) -> np.ndarray:
    """LLRs of the header's coded bits, float64 ``[n_header_symbols, n_data]`` (grid order).

    The same quantity as ``4·Re(z)/noise_var`` from :func:`ofdm_demodulate`,
    :func:`track_common_phase` and :func:`mmse_equalise` on the header symbols (equal within float
    rounding; the test suite checks it), computed with a fraction of the NumPy calls: the CFO phase
    of each sample in one phasor grid, the common phase as a unit phasor, the equaliser gain and
    ``4/noise_var`` in one per-bin factor (the header's phase variance is the same for all symbols).
    """
    N, L, nh = lay.n_fft, lay.sym_len, lay.n_header_symbols
    start = sync.t0 + lay.header_start + lay.cp_len  # absolute FFT window start of header symbol 0
    s0 = start - base
    blk = buf[s0 : s0 + nh * L]
    if blk.size < nh * L:
        blk = np.concatenate([blk, np.zeros(nh * L - blk.size, np.complex64)])
    w = 2.0 * np.pi * sync.cfo / N
    ph = np.mod(-w * (lay.header_sample_offsets + float(start - sync.phase_ref)), 2.0 * np.pi)
    F = np.fft.fft(blk.reshape(nh, L)[:, :N] * _unit_phasor(ph), axis=1)
    hp = sync.h[lay.pilot_pos]
    Qs = np.dot(np.take(F, lay.pilot_idx, axis=1) * (lay.pilots_complex(0, nh) * np.conj(hp)), lay.ones_pilot_c)
    hd = sync.h[lay.data_pos]
    h2 = np.maximum(np.abs(hd) ** 2, 1e-300)
    pv = sync.noise_var / (2.0 * float(np.vdot(hp, hp).real))
    gain = np.conj(hd) * (4.0 / (sync.noise_var + sync.h_err_var[lay.data_pos] + pv * h2))
    z = np.take(F, lay.data_idx, axis=1)
    z *= gain
    z *= _phasor(-_angle(Qs))[:, None]
    return z.real


def timing_drift(theta: np.ndarray, lay: OfdmLayout) -> np.ndarray:
    """Timing drift (samples, float64 ``[S]``) implied by the pilot phase slope ``theta`` (rad/bin):
    a window ``τ`` samples early sees the channel delayed by ``τ``, i.e. a slope ``-2πτ/n_fft``."""
    return -theta * lay.n_fft / (2.0 * np.pi)


def track_pilots(
    Yp: np.ndarray, lay: OfdmLayout, sync: SyncResult, first: int, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`track_pilots_numpy` as one compiled call (:func:`~semcom_ota.phy.kernels.track_pilots_kernel`);
    same arguments and results."""
    S = Yp.shape[0]
    step = _NONE_F64 if offsets is None else (2.0 * np.pi / lay.n_fft) * np.asarray(offsets, np.float64)
    cfg = lay.cfg
    return track_pilots_kernel(
        np.ascontiguousarray(Yp, np.complex64),
        lay.pilots_complex(first, S),
        sync.h[lay.pilot_pos],
        lay.pilot_f,
        lay.pilot_gaps,
        step,
        cfg.sro_window,
        cfg.cpe_window,
        float(sync.noise_var),
    )


def track_pilots_numpy(
    Yp: np.ndarray, lay: OfdmLayout, sync: SyncResult, first: int, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate the common phase and the sampling-offset phase slope of each OFDM symbol from its
    pilots (never from decisions).

    Parameters
    ----------
    Yp: complex ``[S, n_pilot]`` received pilots, CFO phase removed
        (``F[:, lay.pilot_idx] * rot[:, None]`` from :func:`ofdm_demodulate`).
    first: index of ``Yp[0]`` in the symbol numbering (0 = first header symbol), for the pilot values.
    offsets: the window moves (samples, int ``[S]``) used by :func:`ofdm_demodulate`, if any: their
        known phase slopes are removed before averaging (the drift underneath is smooth, the
        moves are steps) and added back to ``theta``.

    Returns
    -------
    ``phi`` (rad) and ``theta`` (rad per bin), float64 ``[S]``: symbol ``m`` bin ``k`` is rotated by
    ``phi[m] + theta[m]·k``; and the phase-error variance per symbol, float64 ``[S]``.
    The slope comes from adjacent pilot pairs averaged over ``sro_window`` symbols; the common phase
    from all pilots after removing the slope, averaged over a width chosen between 1 and
    ``cpe_window`` symbols from the observed phase wander (phase noise).
    """
    cfg = lay.cfg
    S = Yp.shape[0]
    hp = sync.h[lay.pilot_pos]
    # pilot-major [P, S] (C order) and one dtype per product: every elementwise step then runs
    # along the symbols (NumPy is slow on rows of 3-4 values and on mixed dtypes)
    Q = np.array(Yp.T, dtype=np.complex128, order="C")
    Q *= lay.pilots_complex(first, S).T
    Q *= np.conj(hp)[:, None]  # ≈ |h|² e^{j(φ + θ k)}  (complex128 [P, S])
    step = None
    if offsets is not None:
        step = 2.0 * np.pi * np.asarray(offsets, np.float64) / lay.n_fft  # slope of a window move
        Q *= _phasor(np.multiply.outer(-lay.pilot_f, step))
    dk = lay.pilot_gaps
    D = _centred_sum_last(Q[1:] * np.conj(Q[:-1]), cfg.sro_window)  # [P-1, S]
    wgt = np.abs(D)
    wgt *= dk[:, None]
    # unwrapped along time: the slope grows slowly with the sampling offset and may pass ±π/Δk
    ang = _angle(D)
    if S > 1 and np.abs(ang[:, 1:] - ang[:, :-1]).max() >= np.pi:  # else np.unwrap changes nothing
        ang = np.unwrap(ang, axis=1)
    ang *= wgt
    theta = np.dot(lay.ones_pilot[1:], ang) / np.maximum(np.dot(dk, wgt), 1e-300)
    Q *= _unit_phasor(np.multiply.outer(-lay.pilot_f, theta)).astype(np.complex128)  # e^{-jθk}
    Qc = np.dot(lay.ones_pilot_c, Q)
    hp2 = float(np.vdot(hp, hp).real)
    var1 = sync.noise_var / (2.0 * hp2)  # phase variance of one symbol's pilot phasor
    w, q = _cpe_window(Qc, var1, cfg.cpe_window)
    phi = _angle(_centred_sum(Qc, w))
    n_avg = _window_count(S, w)
    phase_var = var1 / n_avg
    if q:
        phase_var += q * (n_avg * n_avg - 1.0) / 12.0
    if step is not None:
        theta = theta + step
    return phi, theta, phase_var


def mmse_equalise(
    Yd: np.ndarray,
    rot: np.ndarray,
    lay: OfdmLayout,
    sync: SyncResult,
    phi: np.ndarray,
    theta: np.ndarray,
    phase_var: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Phase correction and per-subcarrier MMSE equalisation of the data bins, then de-biasing.

    For one stream per subcarrier the de-biased MMSE estimate equals ``y / h``; its error variance
    is ``(N0 + σ_h²) / |h|²`` (``σ_h²`` the channel-estimate error) plus the pilot phase-error
    variance.

    Parameters
    ----------
    Yd: complex64 ``[S, n_data]`` FFT outputs on the data bins (``F[:, lay.data_idx]``);
    rot: complex64 ``[S]`` per-symbol CFO phase (from :func:`ofdm_demodulate`);
    phi, theta, phase_var: from :func:`track_pilots`.

    Returns
    -------
    ``z`` complex64 ``[S, n_data]`` (unbiased: ``z = x + e``) and ``noise_var`` float32 ``[S, n_data]``.
    """
    dp = lay.data_pos
    h = sync.h[dp]
    h2 = np.maximum(np.abs(h) ** 2, 1e-300)
    g = (np.conj(h) / h2).astype(np.complex64)
    # one float32 phase per bin: the symbol's CFO phase (angle of rot) minus the tracked
    # phase φ + θ·k (|phase| ≤ 2π + |θ·k|: float32 keeps it to ~1e-6 rad, like the phasors)
    A = np.empty((theta.size, 2), np.float32)
    A[:, 0] = theta
    np.subtract(np.arctan2(rot.imag, rot.real), phi, out=A[:, 1], casting="same_kind")
    z = _unit_phasor(A @ lay.data_plane)
    z *= g
    z *= Yd
    nv_bin = ((sync.noise_var + sync.h_err_var[dp]) / h2).astype(np.float32)
    nv = nv_bin[None, :] + phase_var.astype(np.float32)[:, None]
    return z, nv


def equalise_payload(
    F: np.ndarray,
    rot: np.ndarray,
    lay: OfdmLayout,
    sync: SyncResult,
    first: int,
    phi: np.ndarray,
    theta: np.ndarray,
    phase_var: np.ndarray,
    inflation: np.ndarray,
    n_ofdm: int,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equalise the payload rows ``first..first+S-1`` of ``F`` and put them in time order, in one
    compiled call (:func:`~semcom_ota.phy.kernels.equalise_gather_kernel`).

    Parameters
    ----------
    F, rot: from :func:`ofdm_demodulate` (complex64 ``[.., n_fft]``, ``[..]``).
    phi, theta, phase_var: float64 ``[S]`` from :func:`track_pilots` for those rows.
    inflation: float64 ``[S]`` from :func:`pilot_error_ratio` (1.0: none).
    n_ofdm, n: the frame's payload OFDM symbols and symbols (``S ≤ n_ofdm`` received).

    Returns
    -------
    ``symbols`` complex64 ``[n]``, ``noise_var`` float32 ``[n]`` (``inf`` where not received) and
    ``mask`` bool ``[n]``: equal (within float rounding) to :func:`mmse_equalise` with ``noise_var``
    scaled by ``inflation``, gathered at ``lay.payload_index(n_ofdm)[:n]``.
    """
    S = int(np.shape(phi)[0])
    if S > n_ofdm:
        raise ValueError(f"phi: {S} symbols, expected at most n_ofdm={n_ofdm}")
    dp = lay.data_pos
    return equalise_gather_kernel(
        F,
        rot,
        int(first),
        S,
        lay.data_idx,
        lay.data,
        sync.h[dp],
        sync.h_err_var[dp],
        float(sync.noise_var),
        np.ascontiguousarray(phi, np.float64),
        np.ascontiguousarray(theta, np.float64),
        np.ascontiguousarray(phase_var, np.float64),
        np.ascontiguousarray(inflation, np.float64),
        lay.payload_slot(n_ofdm, n),
        int(n),
    )


def pilot_error_ratio(
    Yp: np.ndarray,
    lay: OfdmLayout,
    sync: SyncResult,
    phi: np.ndarray,
    theta: np.ndarray,
    phase_var: np.ndarray,
    width: int = 9,
) -> np.ndarray:
    """:func:`pilot_error_ratio_numpy` as one compiled call
    (:func:`~semcom_ota.phy.kernels.pilot_error_ratio_kernel`); same arguments and results."""
    S = Yp.shape[0]
    pp = lay.pilot_pos
    return pilot_error_ratio_kernel(
        np.ascontiguousarray(Yp, np.complex64),
        lay.pilots_complex(0, S),
        lay.pilot,
        sync.h[pp],
        sync.h_err_var[pp],
        float(sync.noise_var),
        np.ascontiguousarray(phi, np.float64),
        np.ascontiguousarray(theta, np.float64),
        np.ascontiguousarray(phase_var, np.float64),
        int(width),
    )


def pilot_error_ratio_numpy(
    Yp: np.ndarray,
    lay: OfdmLayout,
    sync: SyncResult,
    phi: np.ndarray,
    theta: np.ndarray,
    phase_var: np.ndarray,
    width: int = 9,
) -> np.ndarray:
    """Measured over predicted error of the equalised pilots, per OFDM symbol (a model check).

    Impairments the model does not know (delay spread beyond the CP, dropped samples, IQ
    imbalance, ...) show up as pilot errors larger than ``(N0 + σ_h²)/|h|² + phase_var``. The
    ratio is averaged over ``width`` symbols (centred) and kept where it exceeds 1 by more than
    three standard deviations of its estimate, else 1.0; the caller scales ``noise_var`` by it,
    so the reported variance stays honest where the model fails (e.g. around a dropped sample).

    Returns
    -------
    float64 ``[S]`` factors ≥ 1.
    """
    S = Yp.shape[0]
    pp = lay.pilot_pos
    h = sync.h[pp]
    # pilot-major [P, S], complex64 throughout (a ratio tested against 1 + 3σ)
    ph = np.multiply.outer(-lay.pilot_f, theta)
    ph -= phi
    e = np.array(Yp.T, dtype=np.complex64, order="C")
    e *= _unit_phasor(ph)  # e^{-j(φ + θk)}
    e *= (1.0 / h).astype(np.complex64)[:, None]
    e -= lay.pilots_complex(0, S, np.complex64).T
    e2 = e.real * e.real
    e2 += e.imag * e.imag
    mp = np.empty((2, S))
    mp[0] = np.dot(lay.ones_pilot_f32, e2)  # measured
    np.multiply(phase_var, lay.n_pilot, out=mp[1])
    hm = np.abs(h)
    hm *= hm
    mp[1] += float(np.add.reduce((sync.noise_var + sync.h_err_var[pp]) / hm))  # predicted
    mp = _centred_sum_last(mp, width)
    ratio = mp[0] / np.maximum(mp[1], 1e-300)
    return np.where(ratio > _ratio_limit(S, width, lay.n_pilot), ratio, 1.0)


@lru_cache(maxsize=256)
def _ratio_limit(S: int, width: int, n_pilot: int) -> np.ndarray:
    """``1 + 3/sqrt(n)``: three standard deviations of a ratio of ``n`` squared errors."""
    return 1.0 + 3.0 / np.sqrt(n_pilot * _window_count(S, width))
