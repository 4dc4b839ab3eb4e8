"""Per-symbol stages after synchronisation: OFDM demodulation of a run of symbols, pilot tracking
(common phase and sampling-offset phase slope; pilots only, never decision-directed) and MMSE
equalisation with de-biasing and a per-symbol noise variance."""

from __future__ import annotations

import numpy as np

from semcom_ota.phy.layout import OfdmLayout
from semcom_ota.phy.sync import SyncResult


def ofdm_demodulate(buf: np.ndarray, base: int, lay: OfdmLayout, sync: SyncResult, first: int, count: int) -> np.ndarray:
    """FFT ``count`` OFDM symbols (symbol 0 = first header symbol) in one batch, after CFO derotation.

    Parameters
    ----------
    buf: complex64 samples, ``buf[0]`` at absolute index ``base``.

    Returns
    -------
    complex64 ``[count, n_used]`` (FFT units, same scale as ``sync.h``).
    """
    N, L = lay.n_fft, lay.sym_len
    if count <= 0:
        return np.zeros((0, lay.n_used), np.complex64)
    start = sync.t0 + lay.header_start + first * L + lay.cp_len  # absolute FFT window start of symbol `first`
    s0 = start - base
    blk = buf[s0 : s0 + count * L]
    if blk.size < count * L:  # the last window may lack up to cp_len trailing samples
        blk = np.concatenate([blk, np.zeros(count * L - blk.size, np.complex64)])
    win = blk.reshape(count, L)[:, :N]
    w = 2.0 * np.pi * sync.cfo / N
    sym_phase = np.exp(-1j * w * (start - sync.phase_ref + L * np.arange(count)))
    ramp = np.exp(-1j * w * np.arange(N))
    x = win * (sym_phase[:, None] * ramp[None, :]).astype(np.complex64)
    return np.fft.fft(x, axis=1)[:, lay.used_idx].astype(np.complex64)


def _centred_sum(a: np.ndarray, width: int) -> np.ndarray:
    """Centred moving sum along axis 0 (edges use the available part)."""
    n = a.shape[0]
    if width <= 1 or n <= 1:
        return a.copy()
    c = np.concatenate([np.zeros((1,) + a.shape[1:], a.dtype), np.cumsum(a, axis=0)])
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) - width // 2 + width, 0, n)
    return c[hi] - c[lo]


def _cpe_window(c: np.ndarray, var1: float, w_max: int) -> tuple[int, float]:
    """Pick the (odd) averaging width for the common phase and estimate the phase-noise increment
    variance per symbol ``q`` from successive pilot phasors ``c`` ``[S]`` (noise variance ``var1``
    each): minimises ``var1/w + q (w²-1)/12``."""
    if c.size < 3 or w_max <= 1:
        return 1, 0.0
    d = np.angle(c[1:] * np.conj(c[:-1]))
    q = max(float(np.median(d * d)) / 0.455 - 2.0 * var1, 0.0)
    if q <= 0.0:
        return w_max, 0.0
    w = int(np.sqrt(12.0 * var1 / q))
    w = max(1, min(w_max, w))
    return w if w % 2 else max(w - 1, 1), q


def track_pilots(Y: np.ndarray, lay: OfdmLayout, sync: SyncResult, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove the common phase and the sampling-offset phase slope of each OFDM symbol.

    Parameters
    ----------
    Y: complex64 ``[S, n_used]`` demodulated symbols (from :func:`ofdm_demodulate`).
    first: index of ``Y[0]`` in the symbol numbering (0 = first header symbol), for the pilot values.

    Returns
    -------
    ``Y`` corrected (complex64 ``[S, n_used]``) and the phase-error variance per symbol (float64 ``[S]``).
    The slope (rad/bin) comes from adjacent pilot pairs, averaged over ``sro_window`` symbols; the
    common phase from all pilots after removing the slope, averaged over ``cpe_window`` symbols.
    """
    cfg = lay.cfg
    S = Y.shape[0]
    pp = lay.pilot_pos
    ref = (sync.h[pp][None, :] * lay.pilots(first, S)).astype(np.complex128)
    Q = Y[:, pp].astype(np.complex128) * np.conj(ref)  # ≈ |h|² e^{j(φ + θ k)}
    dk = np.diff(lay.pilot).astype(np.float64)
    D = _centred_sum(Q[:, 1:] * np.conj(Q[:, :-1]), cfg.sro_window)  # [S, P-1]
    w = np.abs(D)
    ang = np.angle(D)
    theta = np.sum(w * dk * ang, axis=1) / np.maximum(np.sum(w * dk * dk, axis=1), 1e-300)
    Qc = (Q * np.exp(-1j * theta[:, None] * lay.pilot[None, :])).sum(axis=1)
    # common phase: average over w symbols, w chosen from the observed phase wander (phase noise)
    hp2 = float(np.sum(np.abs(sync.h[pp]) ** 2))
    var1 = sync.noise_var / (2.0 * hp2)  # phase variance of one symbol's pilot phasor
    w, q = _cpe_window(Qc, var1, cfg.cpe_window)
    c = _centred_sum(Qc[:, None], w)[:, 0]
    phi = np.angle(c)
    k = lay.used.astype(np.float64)
    corr = np.exp(-1j * (phi[:, None] + theta[:, None] * k[None, :])).astype(np.complex64)
    n_avg = _centred_sum(np.ones((S, 1)), w)[:, 0]
    phase_var = var1 / n_avg + q * (n_avg * n_avg - 1.0) / 12.0
    return Y * corr, phase_var


def mmse_equalise(Y: np.ndarray, lay: OfdmLayout, sync: SyncResult, phase_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-subcarrier MMSE equalisation of the data bins followed by de-biasing.

    For one stream per subcarrier, the de-biased MMSE estimate equals ``y / h``; its error variance
    is ``(N0 + σ_h²) / |h|²`` (``σ_h²`` the channel-estimate error) plus the pilot phase-error
    variance.

    Returns
    -------
    ``z`` complex64 ``[S, n_data]`` (unbiased: ``z = x + e``) and ``noise_var`` float32 ``[S, n_data]``.
    """
    dp = lay.data_pos
    h = sync.h[dp]
    h2 = np.abs(h) ** 2
    g = (np.conj(h) / np.maximum(h2, 1e-300)).astype(np.complex64)
    z = Y[:, dp] * g[None, :]
    nv_bin = (sync.noise_var + sync.h_err_var[dp]) / np.maximum(h2, 1e-300)
    nv = nv_bin[None, :] + phase_var[:, None]
    return z, nv.astype(np.float32)
