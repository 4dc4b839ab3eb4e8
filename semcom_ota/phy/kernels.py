"""Compiled (numba) kernels of the receiver's per-sample and per-symbol hot paths.

Each kernel fuses what the NumPy reference does in tens of array calls into one loop nest, so a
frame costs a few kernel calls instead of hundreds of small NumPy calls. The references stay in
:mod:`semcom_ota.phy.sync` and :mod:`semcom_ota.phy.equalise` (``*_numpy``) and the test suite
checks every kernel against them (tests/phy/test_kernels.py).

Kernels compile on first use (``cache=True``: the machine code is kept in ``__pycache__`` and
loaded by later processes); :func:`warm_up` compiles or loads all of them at once.
Dtypes follow the references: complex64 samples and FFT outputs, float32 metrics, float64 (or
complex128) per-symbol quantities. Where a reference computes per-element phases in float32, the
kernels build the phasors by a float64 recurrence over the bins (more accurate, equal within
~1e-6 relative).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_JIT = {"cache": True, "fastmath": False, "nogil": True}
_TWO_PI = 2.0 * math.pi


# -------------------------------------------------------------------------------------------------
# detection
@numba.njit(**_JIT)
def coarse_detect_kernel(x, half, window, stride, threshold):
    """Compiled :func:`semcom_ota.phy.sync.coarse_detect` (same arguments and results)."""
    L = x.size
    k = window // stride
    h = half // stride
    nb = (L - half) // stride
    m = nb - k + 1
    if m <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    Pb = np.empty(nb, np.complex64)
    for b in range(nb):
        acc = np.complex64(0)
        for i in range(b * stride, (b + 1) * stride):
            acc += np.conj(x[i]) * x[i + half]
        Pb[b] = acc
    Eb = np.empty(nb + h, np.float32)
    for b in range(nb + h):
        e = np.float32(0)
        for i in range(b * stride, (b + 1) * stride):
            v = x[i]
            e += v.real * v.real + v.imag * v.imag
        Eb[b] = e
    thr = np.float32(threshold)
    tiny = np.float32(1e-30)
    hits = np.empty(m, np.int64)
    vals = np.empty(m, np.float32)
    cnt = 0
    for i in range(m):
        p = Pb[i]
        r1 = Eb[i]
        r2 = Eb[i + h]
        for j in range(1, k):
            p += Pb[i + j]
            r1 += Eb[i + j]
            r2 += Eb[i + h + j]
        p2 = p.real * p.real + p.imag * p.imag
        den = r1 * r2
        if p2 > thr * den and r1 > tiny:
            hits[cnt] = i * stride
            vals[cnt] = p2 / den
            cnt += 1
    return hits[:cnt].copy(), vals[:cnt].copy()


@numba.njit(**_JIT)
def sc_peak_kernel(x, half, window, smooth):
    """Arg-max of the Schmidl–Cox metric ``|P|²/(R1 R2)`` of ``x`` (complex64 ``[L]``) after a
    moving sum of ``smooth`` values (``np.convolve(m, ones(smooth), "same")``); returns the start
    ``d`` and ``P[d]`` (complex128), as :func:`semcom_ota.phy.sync.schmidl_cox` computes them
    (running sums in float64)."""
    L = x.size
    m = L - half - window + 1
    if m <= 0:
        return 0, 0j
    cp = np.empty(L - half + 1, np.complex128)
    cp[0] = 0
    acc = 0j
    for i in range(L - half):
        acc += np.complex128(np.conj(x[i]) * x[i + half])
        cp[i + 1] = acc
    ce = np.empty(L + 1, np.float64)
    ce[0] = 0.0
    e = 0.0
    for i in range(L):
        v = x[i]
        e += np.float64(v.real * v.real + v.imag * v.imag)
        ce[i + 1] = e
    met = np.empty(m, np.float64)
    for d in range(m):
        P = cp[window + d] - cp[d]
        r1 = ce[window + d] - ce[d]
        r2 = ce[window + half + d] - ce[half + d]
        met[d] = (P.real * P.real + P.imag * P.imag) / max(r1 * r2, 1e-300)
    lo = smooth // 2
    best, arg = -1.0, 0
    for i in range(m):
        s = 0.0
        for t in range(max(i - lo, 0), min(i - lo + smooth, m)):
            s += met[t]
        if s > best:
            best, arg = s, i
    return arg, cp[window + arg] - cp[arg]


# -------------------------------------------------------------------------------------------------
# OFDM demodulation
@numba.njit(**_JIT)
def fft_windows_kernel(buf, s0, count, sym_len, n_fft, w, phase0, offsets):
    """FFT windows of ``count`` OFDM symbols, CFO ramp removed, and the per-symbol CFO phasor.

    ``buf`` complex64; window ``m`` starts at ``s0 + m·sym_len + offsets[m]`` (``offsets`` int64
    ``[count]`` or empty for none); samples outside ``buf`` read as 0. ``w``: CFO in rad/sample;
    ``phase0``: ``w·(start - phase_ref)``. Returns ``win`` complex64 ``[count, n_fft]`` (to be FFT'd)
    and ``rot`` complex64 ``[count]`` (as :func:`semcom_ota.phy.equalise.ofdm_demodulate_numpy`)."""
    ramp = np.empty(n_fft, np.complex64)
    for t in range(n_fft):
        ph = np.float32(-w * t)
        ramp[t] = np.complex64(complex(math.cos(ph), math.sin(ph)))
    win = np.empty((count, n_fft), np.complex64)
    rot = np.empty(count, np.complex64)
    has_off = offsets.size > 0
    n = buf.size
    for m in range(count):
        ipos = m * sym_len
        if has_off:
            ipos += offsets[m]
        a = s0 + ipos
        for t in range(n_fft):
            i = a + t
            if 0 <= i < n:
                win[m, t] = buf[i] * ramp[t]
            else:
                win[m, t] = 0
        ph = (ipos * -w) + (-phase0)
        ph = np.float32(ph % _TWO_PI)
        rot[m] = np.complex64(complex(math.cos(ph), math.sin(ph)))
    return win, rot


@numba.njit(**_JIT)
def pilots_received_kernel(F, rot, pilot_idx, count):
    """``F[:count, pilot_idx] * rot[:count, None]``, complex64 ``[count, n_pilot]``."""
    P = pilot_idx.size
    out = np.empty((count, P), np.complex64)
    for s in range(count):
        r = rot[s]
        for p in range(P):
            out[s, p] = F[s, pilot_idx[p]] * r
    return out


@numba.njit(**_JIT)
def live_symbols_kernel(F, first, count, used_idx, thr):
    """Number of symbols ``first..first+count-1`` of ``F`` up to the last whose mean power over the
    used bins exceeds ``thr`` (0 if none): the silence test of the receiver."""
    n_used = used_idx.size
    for s in range(first + count - 1, first - 1, -1):
        e = 0.0
        for i in range(n_used):
            v = F[s, used_idx[i]]
            e += np.float64(v.real * v.real + v.imag * v.imag)
        if e / n_used > thr:
            return s - first + 1
    return 0


# -------------------------------------------------------------------------------------------------
# pilot tracking
@numba.njit(**_JIT)
def _centred_sum_1d(a, width):
    """:func:`semcom_ota.phy.equalise._centred_sum` of a 1-D array (same cumulative-sum method)."""
    n = a.size
    out = a.copy()
    if width <= 1 or n <= 1:
        return out
    h = width // 2
    c = np.zeros(n + width + 1, a.dtype)
    acc = a[0] - a[0]
    for i in range(n):
        acc += a[i]
        c[h + 1 + i] = acc
    for j in range(h + 1 + n, n + width + 1):
        c[j] = c[h + n]
    for i in range(n):
        out[i] = c[width + i] - c[i]
    return out


@numba.njit(**_JIT)
def _window_count(n, width):
    out = np.ones(n)
    if width <= 1 or n <= 1:
        return out
    for i in range(n):
        lo = min(max(i - width // 2, 0), n)
        hi = min(max(i - width // 2 + width, 0), n)
        out[i] = hi - lo
    return out


@numba.njit(**_JIT)
def _unwrap_rows(ang):
    """``np.unwrap(ang, axis=1)`` in place (period 2π, discontinuity π)."""
    rows, S = ang.shape
    for p in range(rows):
        corr = 0.0
        prev = ang[p, 0]
        for s in range(1, S):
            cur = ang[p, s]
            dd = cur - prev
            prev = cur
            ddmod = ((dd + math.pi) % _TWO_PI) - math.pi
            if ddmod == -math.pi and dd > 0:
                ddmod = math.pi
            pc = ddmod - dd
            if abs(dd) < math.pi:
                pc = 0.0
            corr += pc
            ang[p, s] = cur + corr


@numba.njit(**_JIT)
def track_pilots_kernel(Yp, pil, hp, pilot_f, dk, step, sro_window, cpe_window, noise_var):
    """Compiled :func:`semcom_ota.phy.equalise.track_pilots_numpy`.

    Yp complex64 ``[S, P]`` received pilots (CFO phase removed), pil complex128 ``[S, P]`` their
    values, hp complex128 ``[P]`` channel at the pilots, pilot_f / dk float64 pilot bins and gaps,
    step float64 ``[S]`` phase slope of each window move (empty: none). Returns ``phi``, ``theta``,
    ``phase_var`` float64 ``[S]``."""
    S, P = Yp.shape
    Q = np.empty((P, S), np.complex128)
    for p in range(P):
        hc = np.conj(hp[p])
        for s in range(S):
            Q[p, s] = np.complex128(Yp[s, p]) * pil[s, p] * hc
    has_step = step.size > 0
    if has_step:
        for p in range(P):
            for s in range(S):
                ph = -pilot_f[p] * step[s]
                Q[p, s] *= complex(math.cos(ph), math.sin(ph))
    ang = np.empty((P - 1, S), np.float64)
    wgt = np.empty((P - 1, S), np.float64)
    row = np.empty(S, np.complex128)
    for p in range(P - 1):
        for s in range(S):
            row[s] = Q[p + 1, s] * np.conj(Q[p, s])
        D = _centred_sum_1d(row, sro_window)
        for s in range(S):
            wgt[p, s] = abs(D[s]) * dk[p]
            ang[p, s] = math.atan2(D[s].imag, D[s].real)
    if S > 1:
        big = 0.0
        for p in range(P - 1):
            for s in range(S - 1):
                big = max(big, abs(ang[p, s + 1] - ang[p, s]))
        if big >= math.pi:
            _unwrap_rows(ang)
    theta = np.empty(S, np.float64)
    Qc = np.empty(S, np.complex128)
    for s in range(S):
        num = 0.0
        den = 0.0
        for p in range(P - 1):
            num += ang[p, s] * wgt[p, s]
            den += dk[p] * wgt[p, s]
        th = num / max(den, 1e-300)
        theta[s] = th
        acc = 0j
        for p in range(P):
            ph = np.float32(-pilot_f[p] * th)
            acc += Q[p, s] * np.complex128(np.complex64(complex(math.cos(ph), math.sin(ph))))
        Qc[s] = acc
    hp2 = 0.0
    for p in range(P):
        hp2 += hp[p].real * hp[p].real + hp[p].imag * hp[p].imag
    var1 = noise_var / (2.0 * hp2)
    # averaging width of the common phase (see equalise._cpe_window)
    w, q = 1, 0.0
    if S >= 3 and cpe_window > 1:
        d2 = np.empty(S - 1, np.float64)
        for s in range(S - 1):
            z = Qc[s + 1] * np.conj(Qc[s])
            a = math.atan2(z.imag, z.real)
            d2[s] = a * a
        q = np.median(d2) / 0.455 - 2.0 * var1
        if q <= var1:
            w, q = cpe_window, max(q, 0.0)
        else:
            w = int(math.sqrt(12.0 * var1 / q))
            w = max(1, min(cpe_window, w))
            if w % 2 == 0:
                w = max(w - 1, 1)
    C = _centred_sum_1d(Qc, w)
    n_avg = _window_count(S, w)
    phi = np.empty(S, np.float64)
    phase_var = np.empty(S, np.float64)
    for s in range(S):
        phi[s] = math.atan2(C[s].imag, C[s].real)
        pv = var1 / n_avg[s]
        if q != 0.0:
            pv += q * (n_avg[s] * n_avg[s] - 1.0) / 12.0
        phase_var[s] = pv
        if has_step:
            theta[s] += step[s]
    return phi, theta, phase_var


# -------------------------------------------------------------------------------------------------
# equalisation, pilot residual check, de-permutation
@numba.njit(**_JIT)
def _phase_table(phi, theta, k_lo, k_hi, out):
    """``out[k - k_lo] = exp(-j(phi + theta·k))`` for ``k = k_lo..k_hi`` (float64 recurrence)."""
    ph = -(phi + theta * k_lo)
    v = complex(math.cos(ph), math.sin(ph))
    c = complex(math.cos(theta), -math.sin(theta))
    out[0] = v
    for i in range(1, k_hi - k_lo + 1):
        v = v * c
        out[i] = v


@numba.njit(**_JIT)
def pilot_error_ratio_kernel(Yp, pil, pilot_bins, hp, herr_p, noise_var, phi, theta, phase_var, width):
    """Compiled :func:`semcom_ota.phy.equalise.pilot_error_ratio` (float64 ``[S]`` factors ≥ 1);
    ``pil`` complex128 ``[S, P]``, ``pilot_bins`` int64 signed bins."""
    S, P = Yp.shape
    k_lo, k_hi = pilot_bins[0], pilot_bins[P - 1]
    for p in range(P):
        k_lo = min(k_lo, pilot_bins[p])
        k_hi = max(k_hi, pilot_bins[p])
    tab = np.empty(k_hi - k_lo + 1, np.complex128)
    inv_h = np.empty(P, np.complex128)
    pred = 0.0
    for p in range(P):
        inv_h[p] = 1.0 / hp[p]
        a = abs(hp[p])
        pred += (noise_var + herr_p[p]) / (a * a)
    meas = np.empty(S, np.float64)
    predicted = np.empty(S, np.float64)
    for s in range(S):
        _phase_table(phi[s], theta[s], k_lo, k_hi, tab)
        e2 = 0.0
        for p in range(P):
            e = np.complex128(Yp[s, p]) * tab[pilot_bins[p] - k_lo] * inv_h[p] - pil[s, p]
            e2 += e.real * e.real + e.imag * e.imag
        meas[s] = e2
        predicted[s] = phase_var[s] * P + pred
    meas = _centred_sum_1d(meas, width)
    predicted = _centred_sum_1d(predicted, width)
    cnt = _window_count(S, width)
    out = np.empty(S, np.float64)
    for s in range(S):
        ratio = meas[s] / max(predicted[s], 1e-300)
        out[s] = ratio if ratio > 1.0 + 3.0 / math.sqrt(P * cnt[s]) else 1.0
    return out


@numba.njit(**_JIT)
def equalise_gather_kernel(F, rot, first, count, data_idx, data_bins, hd, herr_d, noise_var, phi, theta, phase_var, inflation, pos, n_avail):
    """Phase correction, MMSE equalisation (de-biased, ``y / h``) and de-permutation of a payload.

    F complex64 ``[.., n_fft]`` FFT outputs, rows ``first..first+count-1`` the payload symbols;
    rot complex64 per-symbol CFO phasor (same rows); hd / herr_d complex128 / float64 channel and
    its error variance on the data bins; phi, theta, phase_var, inflation float64 ``[count]``;
    pos int64 ``[n]`` grid position of each payload symbol; ``n_avail`` grid positions received.
    Returns ``symbols`` complex64 ``[n]``, ``noise_var`` float32 ``[n]`` (``inf`` where
    ``pos >= n_avail``) and ``mask`` bool ``[n]``: the values of
    :func:`semcom_ota.phy.equalise.mmse_equalise` times the pilot-residual inflation, gathered."""
    nd = data_idx.size
    k_lo, k_hi = data_bins[0], data_bins[0]
    for i in range(nd):
        k_lo = min(k_lo, data_bins[i])
        k_hi = max(k_hi, data_bins[i])
    tab = np.empty(k_hi - k_lo + 1, np.complex128)
    g = np.empty(nd, np.complex128)
    nv_bin = np.empty(nd, np.float32)
    for i in range(nd):
        h2 = max(hd[i].real * hd[i].real + hd[i].imag * hd[i].imag, 1e-300)
        g[i] = np.complex128(np.complex64(np.conj(hd[i]) / h2))
        nv_bin[i] = np.float32((noise_var + herr_d[i]) / h2)
    inflate = False
    for s in range(count):
        if inflation[s] > 1.0:
            inflate = True
    Z = np.empty(count * nd, np.complex64)
    NV = np.empty(count * nd, np.float32)
    for s in range(count):
        r = rot[first + s]
        _phase_table(phi[s], theta[s], k_lo, k_hi, tab)
        rr = np.complex128(r) / abs(np.complex128(r))
        pv = np.float32(phase_var[s])
        f = np.float32(inflation[s])
        base = s * nd
        for i in range(nd):
            y = np.complex128(F[first + s, data_idx[i]])
            Z[base + i] = np.complex64(y * (rr * tab[data_bins[i] - k_lo]) * g[i])
            v = nv_bin[i] + pv
            if inflate:
                v *= f
            NV[base + i] = v
    n = pos.size
    sym = np.empty(n, np.complex64)
    nv = np.empty(n, np.float32)
    mask = np.empty(n, np.bool_)
    for j in range(n):
        t = pos[j]
        if t < n_avail:
            sym[j] = Z[t]
            nv[j] = NV[t]
            mask[j] = True
        else:
            sym[j] = 0
            nv[j] = np.inf
            mask[j] = False
    return sym, nv, mask


def warm_up() -> None:
    """Compile (or load from the cache) every kernel for the dtypes the receiver uses."""
    x = np.zeros(256, np.complex64)
    coarse_detect_kernel(x, 32, 48, 8, 0.15)
    sc_peak_kernel(x, 32, 48, 9)
    off = np.zeros(0, np.int64)
    win, rot = fft_windows_kernel(x, 0, 2, 80, 64, 0.01, 0.0, off)
    fft_windows_kernel(x, 0, 2, 80, 64, 0.01, 0.0, np.zeros(2, np.int64))
    pidx = np.array([1, 5], np.int64)
    Yp = pilots_received_kernel(win, rot, pidx, 2)
    live_symbols_kernel(win, 0, 2, pidx, 0.1)
    pil = np.ones((2, 2), np.complex128)
    hp = np.ones(2, np.complex128)
    pf = np.array([1.0, 5.0])
    for step in (np.zeros(0), np.zeros(2)):
        phi, theta, pv = track_pilots_kernel(Yp, pil, hp, pf, np.array([4.0]), step, 4, 5, 0.1)
    infl = pilot_error_ratio_kernel(Yp, pil, pidx, hp, np.zeros(2), 0.1, phi, theta, pv, 9)
    equalise_gather_kernel(win, rot, 0, 2, pidx, pidx, hp, np.zeros(2), 0.1, phi, theta, pv, infl, np.arange(4, dtype=np.int64), 4)
