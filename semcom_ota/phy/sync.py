"""Receiver front end: Schmidl–Cox detection, CFO (fractional + integer), timing, channel and
noise estimation from the preambles (DESIGN §3). All stages vectorised over whole buffers.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import numpy as np

from semcom_ota.phy.kernels import acquire_kernel, coarse_detect_kernel, fft_tables
from semcom_ota.phy.layout import OfdmLayout


def _phasor(phase: np.ndarray) -> np.ndarray:
    """complex128 ``exp(1j * phase)`` of float64 ``phase`` (cos/sin: several times faster than the
    complex exp, same values)."""
    out = np.empty(phase.shape, np.complex128)
    np.cos(phase, out=out.real)
    np.sin(phase, out=out.imag)
    return out


def _unit_phasor(phase: np.ndarray) -> np.ndarray:
    """complex64 ``exp(1j * phase)`` (float32 cos/sin: much faster than a complex exp)."""
    ph = np.asarray(phase, np.float32)
    out = np.empty(ph.shape, np.complex64)
    np.cos(ph, out=out.real)
    np.sin(ph, out=out.imag)
    return out


def sc_window(layout: OfdmLayout) -> int:
    """Schmidl–Cox correlation window (samples): A is periodic with period ``n_fft/2`` over its whole
    CP + symbol, so the window spans ``n_fft/2 + cp_len`` samples and the metric peaks (at 1 without
    noise) exactly at A's start."""
    return layout.half + layout.cp_len


def schmidl_cox(x: np.ndarray, half: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Schmidl–Cox statistics for every start ``d`` of a buffer.

    Parameters
    ----------
    x: complex64 ``[L]``; half: lag (``n_fft/2``); window: correlation length ``W``.

    Returns
    -------
    ``P`` complex128 ``[L-half-W+1]`` with ``P[d] = sum_{n=d}^{d+W-1} conj(x[n]) x[n+half]``,
    ``R1``, ``R2`` float64 (window energies at ``d`` and ``d+half``) and ``floor``: window energies
    below it are rounding noise of the running sums (treated as silence). The metric is
    ``|P|² / (R1 R2)`` in 0..1.
    """
    L = x.size
    m = L - half - window + 1
    if m <= 0:
        z = np.zeros(0)
        return z.astype(np.complex128), z, z, 0.0
    prod = np.conj(x[:-half]) * x[half:]
    cp = np.empty(prod.size + 1, np.complex128)
    cp[0] = 0
    np.cumsum(prod, out=cp[1:])
    P = cp[window : window + m] - cp[:m]
    e = x.real * x.real + x.imag * x.imag
    ce = np.empty(L + 1, np.float64)
    ce[0] = 0
    np.cumsum(e, out=ce[1:])
    Rw = ce[window:] - ce[:-window]
    floor = 1e-9 * ce[-1] / max(L, 1) * window + 1e-30
    return P, Rw[:m], Rw[half : half + m], floor


def coarse_detect(x: np.ndarray, half: int, window: int, stride: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`coarse_detect_numpy` as one compiled loop (:func:`~semcom_ota.phy.kernels.coarse_detect_kernel`;
    same arguments and results, block sums in float32 summed in a possibly different order)."""
    if half % stride or window % stride:
        raise ValueError(f"half={half}, window={window}: expected multiples of stride={stride}")
    return coarse_detect_kernel(np.ascontiguousarray(x, np.complex64), int(half), int(window), int(stride), float(threshold))


def coarse_detect_numpy(x: np.ndarray, half: int, window: int, stride: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Schmidl–Cox test on a grid of starts ``d = 0, stride, 2·stride, ...`` from block sums (no
    running sums, so no rounding drift and silence gives exactly 0).

    Parameters
    ----------
    x: complex64 ``[L]``; half, window: as in :func:`schmidl_cox` (both multiples of ``stride``).

    Returns
    -------
    int64 indices ``d`` (multiples of ``stride``) whose metric exceeds ``threshold``, and the metric
    there (float32); near a preamble the grid is within a few samples of the exact peak, which
    :func:`schmidl_cox` then refines.
    """
    L = x.size
    k = window // stride
    h = half // stride
    nb = (L - half) // stride  # blocks of the lag product
    m = nb - k + 1  # grid positions with a full window
    if m <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    n = nb * stride
    prod = np.conj(x[:n]) * x[half : half + n]
    # block sums as matrix-vector products (BLAS): several times faster than .sum(axis=1) on
    # a short axis
    Pb = prod.reshape(nb, stride) @ np.ones(stride, np.complex64)
    xf = x[: n + half].view(np.float32)
    Eb = (xf * xf).reshape(nb + h, 2 * stride) @ np.ones(2 * stride, np.float32)
    P = Pb[:m].copy()
    R = Eb[: m + h].copy()
    for j in range(1, k):
        P += Pb[j : j + m]
        R += Eb[j : j + m + h]
    R1, R2 = R[:m], R[h : h + m]
    p2 = P.real * P.real + P.imag * P.imag
    den = R1 * R2
    idx = np.flatnonzero((p2 > threshold * den) & (R1 > 1e-30))
    return idx * stride, p2[idx] / den[idx]


@dataclass
class SyncResult:
    """Outcome of synchronising one detected frame.

    t0: absolute sample index of A's start such that the FFT windows (``t0 + offset + cp_len``)
        start ``timing_backoff`` samples before the first channel path.
    phase_ref: absolute index where the CFO derotation has zero phase.
    cfo: CFO in subcarrier spacings (``cfo_hz = cfo * sample_rate_hz / n_fft``).
    h: complex128 ``[n_used]`` channel estimate on the used bins (FFT units).
    h_err_var: float64 ``[n_used]`` its error variance.
    noise_var: float, per-bin noise variance (FFT units), from ``mean|B1-B2|²/2``.
    snr_db: estimated SNR in the channel's definition (mean active sample power / N0).
    rho: B1/B2 correlation coefficient (0..1), the detection's confidence.
    """

    t0: int
    phase_ref: int
    cfo: float
    h: np.ndarray
    h_err_var: np.ndarray
    noise_var: float
    snr_db: float
    rho: float


class Synchroniser:
    """Acquire a frame from the coarse Schmidl–Cox peak: CFO, fine timing, channel, noise, SNR.

    Steps: fractional CFO from the Schmidl–Cox phase (±1 subcarrier), its residual from the B1/B2
    correlation (±0.5), the even integer part by testing which shift concentrates the B channel
    estimate in the expected delay window, fine timing from the first significant path of the
    estimated impulse response, then the final LS estimate projected on the taps
    ``[-timing_backoff-2, cp_len)`` with tap selection (threshold ``tap_threshold`` times the tap's
    estimation noise) and a per-bin error variance.
    """

    def __init__(self, layout: OfdmLayout) -> None:
        self.lay = layout
        cfg = layout.cfg
        N = layout.n_fft
        self.N = N
        self.q_max = int(math.floor((cfg.max_cfo_subcarriers + 1.0) / 2.0))
        self.margin = 32 + N // 4  # samples either side of the coarse timing kept for refinement
        # integer CFO from preamble A: differential products of adjacent even bins (channel-robust)
        even = layout.used[layout.used % 2 == 0]
        self.a_lo, self.a_hi = even[:-1], even[1:]
        xa = layout.a_freq
        self.a_ref = xa[self.a_lo % N] * np.conj(xa[self.a_hi % N])
        self.shifts = 2 * np.arange(-self.q_max, self.q_max + 1)
        self.a_lo_idx = (self.a_lo[None, :] + self.shifts[:, None]) % N  # [Q, pairs]
        self.a_hi_idx = (self.a_hi[None, :] + self.shifts[:, None]) % N
        self.a_ref_conj = np.conj(self.a_ref)[None, :]
        self.a_n = np.arange(layout.cp_len, layout.cp_len + N)
        self.first_path_window = (-N // 4, N // 4 + N // 8)  # delays searched for the first path (samples)
        frac = (self.first_path_window[1] - self.first_path_window[0]) / N
        self.path_delays = np.arange(*self.first_path_window)
        self.path_idx = self.path_delays % N
        self.min_concentration = frac + 0.2 * (1.0 - frac)
        self.est_delays = np.arange(-cfg.timing_backoff - 2, cfg.cp_len, 0.5)
        self.atoms = self._basis(self.est_delays)  # [n_used, n_atoms]
        self.atoms_h = np.ascontiguousarray(self.atoms.conj().T)
        self.gram = self.atoms_h @ self.atoms
        n_used = layout.n_used
        self.gram_conj_n = np.conj(self.gram) / n_used  # corr update after the first atom
        self.norm_after_one = n_used - np.abs(self.gram) ** 2 / n_used  # norm after the first atom
        self.max_paths = 16
        self.b_conj = np.conj(layout.b_freq)
        # impulse response at the searched delays from the used bins: one matrix-vector product
        self.idft_path = np.exp(2j * np.pi * np.outer(self.path_delays, layout.used) / N) / N  # [n_path, n_used]
        self.b_n = np.arange(2 * N, dtype=np.float64)
        # compiled path (power-of-two FFT sizes): radix-2 tables and contiguous index tables
        self.fft_tw, self.fft_rev = fft_tables(N) if N & (N - 1) == 0 else (None, None)
        self.a_ref_conj_1d = np.ascontiguousarray(self.a_ref_conj[0])
        self.path_delays_i64 = self.path_delays.astype(np.int64)
        #: arguments of the compiled acquisition after ``(buf, t0, P.real, P.imag)``
        self.acquire_args = (
            layout.b1_start, layout.cp_len, N, self.fft_tw, self.fft_rev, cfg.verify_threshold, self.a_lo_idx,
            self.a_hi_idx, self.a_ref_conj_1d, self.shifts, layout.used_idx, self.b_conj,
            self.path_delays_i64, self.min_concentration, cfg.tap_threshold, cfg.timing_backoff, self.margin,
            self.atoms, self.gram, self.atoms_h, self.gram_conj_n, self.norm_after_one, self.max_paths,
        )  # fmt: skip

    def _basis(self, taps: np.ndarray) -> np.ndarray:
        return np.exp(-2j * np.pi * np.outer(self.lay.used, taps) / self.N)

    # ---------------------------------------------------------------------------------------------
    def _b_ffts(self, buf: np.ndarray, base: int, t0: int, cfo: float, ref: int) -> tuple[np.ndarray, float, float]:
        """Used bins of the FFTs of B1 and B2 at timing ``t0`` after derotating by ``cfo``.

        Returns ``Y`` complex128 ``[2, n_used]``, the per-bin noise variance ``mean|Y1 - Y2|² / 2``
        and ``sum |H_ls|²`` over the used bins (``H_ls = mean(Y) · conj(b)``, ``|b| = 1``)."""
        N = self.N
        start = t0 + self.lay.b1_start - base
        ph = (-2.0 * np.pi * cfo / N) * (self.b_n + (start + base - ref))
        seg = buf[start : start + 2 * N] * _unit_phasor(np.mod(ph, 2.0 * np.pi, out=ph))
        Y = np.take(np.fft.fft(seg.reshape(2, N), axis=1), self.lay.used_idx, axis=1)
        d = Y[0] - Y[1]
        s = Y[0] + Y[1]
        nv = float(np.vdot(d, d).real) / (2.0 * d.size)
        e = float(np.vdot(s, s).real) / 4.0
        return Y, nv, e

    def synchronise(self, buf: np.ndarray, base: int, t0: int, P: complex) -> SyncResult | None:
        """Acquire the frame whose coarse A start is ``t0`` (absolute). ``buf`` holds samples from
        absolute index ``base`` and must cover ``[t0 - margin, t0 + header_start + margin)``.
        Returns ``None`` when the B preamble does not confirm a frame.

        One compiled call (:func:`~semcom_ota.phy.kernels.acquire_kernel`) for power-of-two FFT
        sizes, else :meth:`synchronise_numpy`; the two agree within float rounding."""
        if self.fft_tw is None:
            return self.synchronise_numpy(buf, base, t0, P)
        P = complex(P)
        ok, t1, cfo, rho, nv, e, h, err = acquire_kernel(buf, int(t0 - base), P.real, P.imag, *self.acquire_args)
        if not ok:
            return None
        return self.result(int(t1) + base, t0, cfo, h, err, nv, e, rho)

    def result(self, t0: int, phase_ref: int, cfo: float, h: np.ndarray, err: np.ndarray, nv: float, e: float, rho: float) -> SyncResult:
        """A :class:`SyncResult` from the compiled acquisition's outputs (``e``: ``sum|H_ls|²``
        over the used bins, FFT units; the SNR estimate is derived from it and ``nv``)."""
        lay = self.lay
        sig_pow = e / lay.n_used - nv / 2.0
        snr_bin = max(sig_pow, 1e-12 * nv) / nv
        snr_db = 10.0 * math.log10(snr_bin * lay.n_used / self.N)
        return SyncResult(t0=t0, phase_ref=phase_ref, cfo=cfo, h=h, h_err_var=err, noise_var=nv, snr_db=snr_db, rho=rho)

    def synchronise_numpy(self, buf: np.ndarray, base: int, t0: int, P: complex) -> SyncResult | None:
        """:meth:`synchronise` in NumPy (the reference; any FFT size)."""
        lay, N, cfg = self.lay, self.N, self.lay.cfg
        ref = t0
        cfo1 = cmath.phase(P) / math.pi  # fractional (mod 2) from the half-symbol repetition
        # residual from B1/B2 (lag N): phase 2π·cfo_res, unambiguous within ±0.5
        start = t0 + lay.b1_start - base
        seg = buf[start : start + 2 * N].astype(np.complex128)
        s1, s2 = seg[:N], seg[N:]
        c = complex(np.vdot(s1, s2))
        e1 = float(np.vdot(s1, s1).real)
        e2 = float(np.vdot(s2, s2).real)
        if e1 <= 0 or e2 <= 0:
            return None
        rho = abs(c) / math.sqrt(e1 * e2)
        if rho < cfg.verify_threshold:
            return None
        frac = cmath.phase(c * cmath.exp(-2j * math.pi * cfo1)) / (2 * math.pi)
        cfo_f = cfo1 + frac
        # integer (even) part from A: the shift that makes adjacent-bin products coherent
        a0 = t0 + lay.cp_len - base
        YA = np.fft.fft(buf[a0 : a0 + N] * _unit_phasor((-2.0 * np.pi * cfo_f / N) * self.a_n))  # |phase| < 12 rad
        metric = np.abs((YA[self.a_lo_idx] * np.conj(YA[self.a_hi_idx])) @ self.a_ref_conj[0])
        cfo = cfo_f + float(self.shifts[int(np.argmax(metric))])
        # first path -> fine timing (power delay profile from the zero-filled LS estimate)
        Y, nv, e = self._b_ffts(buf, base, t0, cfo, ref)
        H_ls = (Y[0] + Y[1]) * (0.5 * self.b_conj)
        p = self.idft_path @ H_ls  # impulse response at the searched delays
        p = p.real * p.real + p.imag * p.imag
        # confirmation: a real preamble puts most of the estimate's energy at plausible delays
        # (noise spreads it over all n_fft delays: about (hi_d - lo_d) / n_fft of it lands there;
        # the energy over all delays is sum |H_ls|² / n_fft by Parseval)
        if float(p.sum()) < self.min_concentration * e / N:
            return None
        thr = max(0.1 * float(p.max()), cfg.tap_threshold * (nv / 2.0) * lay.n_used / N**2)
        above = p > thr
        first = int(np.argmax(above))  # the first significant delay
        if not above[first]:
            return None
        shift = int(self.path_delays[first]) - cfg.timing_backoff
        if abs(shift) > self.margin - 8:
            return None
        t0 += shift
        if shift:
            Y, nv, e = self._b_ffts(buf, base, t0, cfo, ref)
            H_ls = (Y[0] + Y[1]) * (0.5 * self.b_conj)
        nv = max(nv, 1e-30)
        h_hat, err = self.estimate_channel(H_ls, nv / 2.0)
        sig_pow = e / lay.n_used - nv / 2.0
        snr_bin = max(sig_pow, 1e-12 * nv) / nv
        snr_db = 10.0 * math.log10(snr_bin * lay.n_used / N)
        return SyncResult(t0=t0, phase_ref=ref, cfo=cfo, h=h_hat, h_err_var=err, noise_var=nv, snr_db=snr_db, rho=rho)

    def estimate_channel(self, H_ls: np.ndarray, ls_var: float) -> tuple[np.ndarray, np.ndarray]:
        """Sparse (orthogonal matching pursuit) fit of an LS channel estimate.

        Parameters
        ----------
        H_ls: complex ``[n_used]`` LS estimate on the used bins; ls_var: its error variance per bin.

        Returns
        -------
        ``h`` complex128 ``[n_used]`` and its error variance float64 ``[n_used]``.

        Atoms are paths at delays ``[-timing_backoff-2, cp_len)`` on a half-sample grid (fractional
        delays need no long sinc tails). Greedy orthogonal least squares: the path that removes
        the most residual energy is added while it removes more than ``tap_threshold · ls_var``; the estimate is the LS refit on the chosen
        paths, whose error variance is ``ls_var · diag(D (D^H D)^-1 D^H)`` (about ``ls_var · K / n_used``).
        """
        D, G = self.atoms, self.gram
        n, n_atoms = D.shape
        thr = self.lay.cfg.tap_threshold * ls_var
        # Gram–Schmidt in atom space, one chosen atom at a time: row k of R holds <u_k, d_j> for
        # the orthonormal basis u_1..u_K of the chosen atoms; norm_j = |d_j|² - sum_k |R_kj|² is the
        # energy of atom j orthogonal to them, corr_j = <d_j, residual>, b_k = <u_k, H_ls>
        c0 = self.atoms_h @ H_ls  # correlations of every atom with the estimate
        # first atom (every atom has energy n): the largest |correlation|; R_0 = G_j / sqrt(n)
        j = int(np.argmax(np.abs(c0)))
        rn = 1.0 / math.sqrt(n)
        R = np.empty((self.max_paths, n_atoms), np.complex128)
        U = np.empty((self.max_paths, n), np.complex128)
        b = np.empty(self.max_paths, np.complex128)
        R[0] = G[j] * rn
        U[0] = D[:, j] * rn
        b[0] = c0[j] * rn
        corr = c0 - c0[j] * self.gram_conj_n[j]
        norm = self.norm_after_one[j].copy()
        norm[j] = np.inf
        floor = 1e-9 * n
        K = 1
        while K < self.max_paths:
            # residual energy removed by adding atom j (orthogonal least squares: the right
            # criterion for a dictionary of strongly correlated half-sample delays)
            gain = np.abs(corr)
            gain *= gain
            gain /= np.maximum(norm, floor)
            j = int(np.argmax(gain))
            if gain[j] < thr:
                break
            rc = R[:K, j].conj()
            rkk = 1.0 / math.sqrt(max(float(norm[j]), floor))
            R[K] = (G[j] - rc @ R[:K]) * rkk
            U[K] = (D[:, j] - R[:K, j] @ U[:K]) * rkk
            b[K] = (c0[j] - rc @ b[:K]) * rkk
            r = R[K]
            corr -= b[K] * r.conj()
            r = np.abs(r)
            r *= r
            norm -= r
            norm[j] = np.inf
            K += 1
        if K == 1:  # one path: the LS refit is the projection on it; |atom|² / n = 1/n per bin
            return b[0] * U[0], np.full(n, ls_var / n)
        Uk = U[:K]
        h_hat = b[:K] @ Uk
        err = ls_var * np.ones(K) @ (Uk.real * Uk.real + Uk.imag * Uk.imag)
        return h_hat, np.maximum(err, 0.0)
