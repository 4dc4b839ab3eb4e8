"""Compiled (numba) kernels of the receiver's per-sample and per-symbol hot paths.

Each kernel fuses what the NumPy reference does in tens of array calls into one loop nest, so a
frame costs a few kernel calls instead of hundreds of small NumPy calls. The references stay in
:mod:`semcom_ota.phy.sync` and :mod:`semcom_ota.phy.equalise` (``*_numpy``) and the test suite
checks every kernel against them (tests/phy/test_kernels.py).

Kernels compile on first use (``cache=True``: the machine code is kept in ``__pycache__`` and
loaded by later processes); :func:`semcom_ota.phy.demodulator.compile_kernels` compiles or loads
all of them at once.
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
def fft_windows_kernel(buf, s0, count, sym_len, n_fft, w, phase0, offsets, work):
    """FFT windows of ``count`` OFDM symbols, CFO ramp removed, and the per-symbol CFO phasor.

    ``buf`` complex64; window ``m`` starts at ``s0 + m·sym_len + offsets[m]`` (``offsets`` int64
    ``[count]`` or empty for none); samples outside ``buf`` read as 0. ``w``: CFO in rad/sample;
    ``phase0``: ``w·(start - phase_ref)``. Returns ``win`` complex64 ``[count, n_fft]`` (to be FFT'd)
    and ``rot`` complex64 ``[count]`` (as :func:`semcom_ota.phy.equalise.ofdm_demodulate_numpy`);
    ``win`` is a view of ``work`` (complex64 1-D) when that holds ``count · n_fft`` values."""
    ramp = np.empty(n_fft, np.complex64)
    for t in range(n_fft):
        ph = np.float32(-w * t)
        ramp[t] = np.complex64(complex(math.cos(ph), math.sin(ph)))
    if work.size >= count * n_fft:
        win = work[: count * n_fft].reshape((count, n_fft))
    else:
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
def _median(a):
    """Median of float64 ``a`` (reordered in place): Wirth's selection (compiles much faster than
    ``np.median``; same value)."""
    n = a.size
    k = n // 2
    lo, hi = 0, n - 1
    while lo < hi:
        x = a[k]
        i, j = lo, hi
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    if n % 2:
        return a[k]
    m = a[0]
    for i in range(1, k):
        m = max(m, a[i])
    return 0.5 * (m + a[k])


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
        q = _median(d2) / 0.455 - 2.0 * var1
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
    """``out[k - k_lo] = exp(-j(phi + theta·k))`` for ``k = k_lo..k_hi`` (``out`` has room for a
    multiple of 4), from float64 powers of ``c = exp(-jθ)`` in four interleaved recurrences
    (steps of ``c⁴``: short dependency chains)."""
    n = k_hi - k_lo + 1
    ph = -(phi + theta * k_lo)
    v0 = complex(math.cos(ph), math.sin(ph))
    c = complex(math.cos(theta), -math.sin(theta))
    v1 = v0 * c
    v2 = v1 * c
    v3 = v2 * c
    c4 = (c * c) * (c * c)
    for i in range(0, n, 4):
        out[i] = v0
        out[i + 1] = v1
        out[i + 2] = v2
        out[i + 3] = v3
        v0 = v0 * c4
        v1 = v1 * c4
        v2 = v2 * c4
        v3 = v3 * c4


@numba.njit(**_JIT)
def pilot_error_ratio_kernel(Yp, pil, pilot_bins, hp, herr_p, noise_var, phi, theta, phase_var, width):
    """Compiled :func:`semcom_ota.phy.equalise.pilot_error_ratio` (float64 ``[S]`` factors ≥ 1);
    ``pil`` complex128 ``[S, P]``, ``pilot_bins`` int64 signed bins."""
    S, P = Yp.shape
    k_lo, k_hi = pilot_bins[0], pilot_bins[P - 1]
    for p in range(P):
        k_lo = min(k_lo, pilot_bins[p])
        k_hi = max(k_hi, pilot_bins[p])
    tab = np.empty((k_hi - k_lo + 4) // 4 * 4, np.complex128)
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
def equalise_gather_kernel(F, rot, first, count, data_idx, data_bins, hd, herr_d, noise_var, phi, theta, phase_var, inflation, slot, n):
    """Phase correction, MMSE equalisation (de-biased, ``y / h``) and de-permutation of a payload.

    F complex64 ``[.., n_fft]`` FFT outputs, rows ``first..first+count-1`` the payload symbols;
    rot complex64 per-symbol CFO phasor (same rows); hd / herr_d complex128 / float64 channel and
    its error variance on the data bins; phi, theta, phase_var, inflation float64 ``[count]``;
    slot int64 ``[≥ count·n_data]``: output index of each grid position (``≥ n``: padding).
    Returns ``symbols`` complex64 ``[n]``, ``noise_var`` float32 ``[n]`` (``inf`` where not
    received) and ``mask`` bool ``[n]``: the values of :func:`semcom_ota.phy.equalise.mmse_equalise`
    times the pilot-residual inflation, written straight to their time-order positions."""
    sym = np.empty(n, np.complex64)
    nv = np.empty(n, np.float32)
    mask = np.empty(n, np.bool_)
    _equalise_into(F, rot, first, count, data_idx, data_bins, hd, herr_d, noise_var, phi, theta, phase_var, inflation, slot, n, sym, nv, mask)
    return sym, nv, mask


@numba.njit(**_JIT)
def _equalise_into(F, rot, first, count, data_idx, data_bins, hd, herr_d, noise_var, phi, theta, phase_var, inflation, slot, n, sym, nv, mask):
    """:func:`equalise_gather_kernel` writing into ``sym``, ``nv``, ``mask`` (``[≥ n]``)."""
    nd = data_idx.size
    k_lo, k_hi = data_bins[0], data_bins[0]
    for i in range(nd):
        k_lo = min(k_lo, data_bins[i])
        k_hi = max(k_hi, data_bins[i])
    tab = np.empty((k_hi - k_lo + 4) // 4 * 4, np.complex128)
    g = np.empty(nd, np.complex128)
    kk = np.empty(nd, np.int64)
    nv_bin = np.empty(nd, np.float32)
    for i in range(nd):
        h2 = max(hd[i].real * hd[i].real + hd[i].imag * hd[i].imag, 1e-300)
        g[i] = np.complex128(np.complex64(np.conj(hd[i]) / h2))
        nv_bin[i] = np.float32((noise_var + herr_d[i]) / h2)
        kk[i] = data_bins[i] - k_lo
    inflate = False
    for s in range(count):
        if inflation[s] > 1.0:
            inflate = True
    if count * nd < n:  # not all received: the rest stays masked
        for j in range(n):
            sym[j] = 0
            nv[j] = np.inf
            mask[j] = False
    C = np.empty(nd, np.complex64)
    for s in range(count):
        r = np.complex128(rot[first + s])
        rr = r / math.sqrt(r.real * r.real + r.imag * r.imag)
        _phase_table(phi[s], theta[s], k_lo, k_hi, tab)
        for i in range(nd):
            C[i] = np.complex64(tab[kk[i]] * (g[i] * rr))
        row = first + s
        base = s * nd
        pv = np.float32(phase_var[s])
        f = np.float32(inflation[s])
        for i in range(nd):
            j = slot[base + i]
            if j < n:
                sym[j] = F[row, data_idx[i]] * C[i]
                v = nv_bin[i] + pv
                nv[j] = v * f if inflate else v
                mask[j] = True


@numba.njit(**_JIT)
def first_hit_kernel(hits, vals, lo, hi, threshold):
    """Index in ``hits`` (sorted int64) of the first value in ``[lo, hi)`` whose ``vals`` exceeds
    ``threshold`` (any, if ``threshold <= 0``), or -1."""
    thr = np.float32(threshold)  # compared in float32, like vals > threshold in NumPy
    i = np.searchsorted(hits, lo)
    while i < hits.size and hits[i] < hi:
        if threshold <= 0.0 or vals[i] > thr:
            return i
        i += 1
    return -1


@numba.njit(**_JIT)
def drift_offsets_kernel(theta, n_fft):
    """``rint(-theta · n_fft / 2π)`` as int64 (the window moves of the sampling-offset re-timing,
    :func:`semcom_ota.phy.equalise.timing_drift`) and whether any is nonzero."""
    out = np.empty(theta.size, np.int64)
    anyv = False
    for s in range(theta.size):
        v = np.rint(-theta[s] * n_fft / (2.0 * np.pi))
        out[s] = int(v)
        if out[s] != 0:
            anyv = True
    return out, anyv


# -------------------------------------------------------------------------------------------------
# small FFTs (preambles, header): radix-2, complex128, one row at a time
def fft_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tables of :func:`_fft_row` for size ``n`` (a power of two): for a power of four, radix-4
    twiddles (``w^k, w^2k, w^3k`` per butterfly and stage, complex128 ``[n-1]``) and the base-4
    digit reversal (int64 ``[n]``); otherwise radix-2 twiddles ``exp(-2πj k/n)`` (complex128
    ``[n/2]``) and the bit reversal."""
    if n < 2 or n & (n - 1):
        raise ValueError(f"n={n}: expected a power of two >= 2")
    bits = n.bit_length() - 1
    if bits % 2 == 0:  # radix 4
        digits = bits // 2
        rev = np.array([int(np.base_repr(i, 4).zfill(digits)[::-1], 4) for i in range(n)], np.int64)
        parts = []
        size = 4
        while size <= n:
            w = np.exp(-2j * np.pi * np.arange(size // 4) / size)
            parts.append(np.stack([w, w**2, w**3], axis=1).reshape(-1))
            size *= 4
        return np.concatenate(parts), rev
    rev = np.array([int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)], np.int64)
    tw = np.exp(-2j * np.pi * np.arange(n // 2) / n)
    return tw, rev


@numba.njit(**_JIT)
def _fft_row(x, tw, rev):
    """In-place FFT of complex128 ``x`` ``[n]`` (``n`` a power of two; tables from
    :func:`fft_tables`: radix 4 when ``n`` is a power of four, else radix 2)."""
    n = x.size
    for i in range(n):
        j = rev[i]
        if i < j:
            t = x[i]
            x[i] = x[j]
            x[j] = t
    if tw.size == n - 1 and n >= 4:  # radix-4 tables
        size = 4
        off = 0
        while size <= n:
            q = size // 4
            for start in range(0, n, size):
                for k in range(q):
                    i0 = start + k
                    a0 = x[i0]
                    a1 = x[i0 + q] * tw[off + 3 * k]
                    a2 = x[i0 + 2 * q] * tw[off + 3 * k + 1]
                    a3 = x[i0 + 3 * q] * tw[off + 3 * k + 2]
                    b0 = a0 + a2
                    b1 = a0 - a2
                    b2 = a1 + a3
                    d = a1 - a3
                    b3 = complex(d.imag, -d.real)  # -j·(a1 - a3)
                    x[i0] = b0 + b2
                    x[i0 + q] = b1 + b3
                    x[i0 + 2 * q] = b0 - b2
                    x[i0 + 3 * q] = b1 - b3
            off += 3 * q
            size *= 4
        return
    size = 2
    while size <= n:
        half = size // 2
        step = n // size
        for start in range(0, n, size):
            for k in range(half):
                t = tw[k * step] * x[start + k + half]
                u = x[start + k]
                x[start + k] = u + t
                x[start + k + half] = u - t
        size *= 2


@numba.njit(**_JIT)
def _derotated_fft(buf, a, n, w, d, tw, rev, out):
    """``out = fft(buf[a : a+n] · exp(-j w (t + d)))`` (samples outside ``buf`` read as 0). The
    phasors come from a float64 recurrence (the NumPy path: float32 phases mod 2π; equal within
    ~1e-6 relative)."""
    nb = buf.size
    ph0 = (-w * d) % _TWO_PI
    r = complex(math.cos(ph0), math.sin(ph0))
    c = complex(math.cos(w), -math.sin(w))
    for t in range(n):
        i = a + t
        if 0 <= i < nb:
            out[t] = np.complex128(buf[i]) * r
        else:
            out[t] = 0
        r = r * c
    _fft_row(out, tw, rev)


# -------------------------------------------------------------------------------------------------
# header
@numba.njit(**_JIT)
def header_decode_kernel(
    buf, s0, nh, sym_len, w, d, tw, rev, pilot_idx, pil, h, herr, pilot_pos, data_idx, data_pos, noise_var,
    fold, n_coded, dec_m, crc_m, crc_zero,
):
    """LLRs of the header (:func:`semcom_ota.phy.equalise.header_llrs`), their soft combination
    over the repetitions, the hard-decision decoder and the CRC check in one call.

    ``s0``: index in ``buf`` of header symbol 0's FFT window; ``w``: CFO (rad/sample); ``d``: that
    window's start minus the phase reference (samples); ``h``, ``herr`` the channel estimate and
    its error variance on the used bins. Returns ``status`` (0: codeword with a valid CRC, 1:
    codeword, CRC failed, 2: not a codeword, run the Viterbi decoder on ``coded``), the 40-bit
    information word and ``coded`` float64 ``[n_coded]`` (combined LLRs)."""
    n = rev.size
    nd = data_idx.size
    P = pilot_idx.size
    hp2 = 0.0
    for p in range(P):
        v = h[pilot_pos[p]]
        hp2 += v.real * v.real + v.imag * v.imag
    pv = noise_var / (2.0 * hp2)
    gain = np.empty(nd, np.complex128)
    for i in range(nd):
        v = h[data_pos[i]]
        h2 = max(v.real * v.real + v.imag * v.imag, 1e-300)
        gain[i] = np.conj(v) * (4.0 / (noise_var + herr[data_pos[i]] + pv * h2))
    coded = np.zeros(n_coded, np.float64)
    X = np.empty(n, np.complex128)
    for m in range(nh):
        _derotated_fft(buf, s0 + m * sym_len, n, w, d + m * sym_len, tw, rev, X)
        q = 0j
        for p in range(P):
            q += X[pilot_idx[p]] * (pil[m, p] * np.conj(h[pilot_pos[p]]))
        a = abs(q)
        u = np.conj(q) / a if a > 0 else 1.0 + 0j
        for i in range(nd):
            z = X[data_idx[i]] * gain[i] * u
            coded[fold[m * nd + i]] += z.real
    # hard decisions: re-encode / tail / information bits as XOR of matrix rows
    cols = dec_m.shape[1]
    v = np.zeros(cols, np.uint8)
    for j in range(n_coded):
        if coded[j] < 0:
            for c in range(cols):
                v[c] ^= dec_m[j, c]
    n_check = cols - (crc_m.shape[0])
    for c in range(n_check):
        if v[c]:
            return 2, 0, coded
    ok, word = _header_crc(v[n_check:], crc_m, crc_zero)
    return (0 if ok else 1), word, coded


@numba.njit(**_JIT)
def _header_crc(bits, crc_m, crc_zero):
    """CRC check of the 56 decoded header bits (uint8) as :func:`semcom_ota.phy.header.unpack_header`
    does it (``bits · crc_m + crc_zero`` even in the 16 check columns); returns ``(ok, word)``, the
    40-bit information word (0 if the check fails)."""
    for c in range(crc_m.shape[1] - 1):
        s = 0.0
        for j in range(bits.size):
            if bits[j]:
                s += crc_m[j, c]
        if int(s + crc_zero[c]) % 2:
            return False, 0
    word = 0
    for j in range(bits.size):
        if bits[j]:
            word += int(crc_m[j, crc_m.shape[1] - 1])
    return True, word


@numba.njit(**_JIT)
def viterbi_kernel(llr, signs):
    """Compiled :func:`semcom_ota.phy.header.viterbi_decode` (same add-compare-select, ties to the
    first predecessor, same traceback): ``llr`` float64 ``[2T]``, ``signs`` float64 ``[2, 64, 2]``
    (the header module's trellis outputs as ±1); returns uint8 ``[T - 6]``."""
    T = llr.size // 2
    n_states = signs.shape[1]
    top = n_states // 2
    pm = np.full(n_states, -1e30)
    pm[0] = 0.0
    nxt = np.empty(n_states)
    dec = np.empty((T, n_states), np.bool_)
    for t in range(T):
        l0 = llr[2 * t]
        l1 = llr[2 * t + 1]
        for st in range(n_states):
            p0 = st >> 1
            c0 = pm[p0] + (l0 * signs[0, st, 0] + l1 * signs[0, st, 1])
            c1 = pm[p0 | top] + (l0 * signs[1, st, 0] + l1 * signs[1, st, 1])
            d = c1 > c0
            dec[t, st] = d
            nxt[st] = c1 if d else c0
        for st in range(n_states):
            pm[st] = nxt[st]
    k = 0
    while (1 << k) < n_states:
        k += 1
    bits = np.empty(T, np.uint8)
    st = 0
    for t in range(T - 1, -1, -1):
        bits[t] = st & 1
        st = (st >> 1) | (int(dec[t, st]) << (k - 1))
    return bits[: T - k]


# -------------------------------------------------------------------------------------------------
# acquisition (Synchroniser.synchronise)
@numba.njit(**_JIT)
def channel_fit_kernel(H_ls, ls_var, D, G, atoms_h, gram_conj_n, norm_after_one, max_paths, tap_threshold):
    """Compiled :meth:`semcom_ota.phy.sync.Synchroniser.estimate_channel` (same greedy orthogonal
    least squares on the same tables); returns ``h`` complex128 and its error variance float64
    ``[n_used]``."""
    n, n_atoms = D.shape
    thr = tap_threshold * ls_var
    c0 = np.empty(n_atoms, np.complex128)
    for a in range(n_atoms):
        acc = 0j
        for i in range(n):
            acc += atoms_h[a, i] * H_ls[i]
        c0[a] = acc
    j = 0
    best = -1.0
    for a in range(n_atoms):
        v = c0[a].real * c0[a].real + c0[a].imag * c0[a].imag  # |c0|² (same arg-max as |c0|)
        if v > best:
            best, j = v, a
    rn = 1.0 / math.sqrt(n)
    R = np.empty((max_paths, n_atoms), np.complex128)
    U = np.empty((max_paths, n), np.complex128)
    b = np.empty(max_paths, np.complex128)
    for a in range(n_atoms):
        R[0, a] = G[j, a] * rn
    for i in range(n):
        U[0, i] = D[i, j] * rn
    b[0] = c0[j] * rn
    corr = np.empty(n_atoms, np.complex128)
    norm = np.empty(n_atoms, np.float64)
    for a in range(n_atoms):
        corr[a] = c0[a] - c0[j] * gram_conj_n[j, a]
        norm[a] = norm_after_one[j, a]
    norm[j] = np.inf
    floor = 1e-9 * n
    K = 1
    while K < max_paths:
        j = 0
        best = -1.0
        for a in range(n_atoms):
            c = corr[a]
            g = (c.real * c.real + c.imag * c.imag) / max(norm[a], floor)
            if g > best:
                best, j = g, a
        if best < thr:
            break
        rkk = 1.0 / math.sqrt(max(norm[j], floor))
        bk = c0[j]
        for k in range(K):
            bk -= np.conj(R[k, j]) * b[k]
        b[K] = bk * rkk
        for a in range(n_atoms):
            acc = G[j, a]
            for k in range(K):
                acc -= np.conj(R[k, j]) * R[k, a]
            R[K, a] = acc * rkk
        for i in range(n):
            acc = D[i, j]
            for k in range(K):
                acc -= R[k, j] * U[k, i]
            U[K, i] = acc * rkk
        for a in range(n_atoms):
            r = R[K, a]
            corr[a] -= b[K] * np.conj(r)
            norm[a] -= r.real * r.real + r.imag * r.imag
        norm[j] = np.inf
        K += 1
    h = np.zeros(n, np.complex128)
    err = np.zeros(n, np.float64)
    if K == 1:
        for i in range(n):
            h[i] = b[0] * U[0, i]
            err[i] = ls_var / n
        return h, err
    for i in range(n):
        acc = 0j
        e = 0.0
        for k in range(K):
            u = U[k, i]
            acc += b[k] * u
            e += u.real * u.real + u.imag * u.imag
        h[i] = acc
        err[i] = max(ls_var * e, 0.0)
    return h, err


@numba.njit(**_JIT)
def _b_ffts(buf, a, n, w, d, tw, rev, used_idx, X1, X2, Y):
    """Used bins of the FFTs of B1 (at ``buf[a]``) and B2, derotated (``d``: ``a`` minus the phase
    reference); returns ``mean|Y1-Y2|²/2`` and ``sum|Y1+Y2|²/4``; ``Y[i] = Y1 + Y2``."""
    _derotated_fft(buf, a, n, w, d, tw, rev, X1)
    _derotated_fft(buf, a + n, n, w, d + n, tw, rev, X2)
    nu = used_idx.size
    nv = 0.0
    e = 0.0
    for i in range(nu):
        y1 = X1[used_idx[i]]
        y2 = X2[used_idx[i]]
        df = y1 - y2
        s = y1 + y2
        nv += df.real * df.real + df.imag * df.imag
        e += s.real * s.real + s.imag * s.imag
        Y[i] = s
    return nv / (2.0 * nu), e / 4.0


@numba.njit(**_JIT)
def acquire_kernel(
    buf, t0, Pr, Pi, b1, cp_len, n, tw, rev, verify_threshold, a_lo_idx, a_hi_idx, a_ref_conj, shifts,
    used_idx, b_conj, path_delays, min_concentration, tap_threshold, timing_backoff, margin,
    D, G, atoms_h, gram_conj_n, norm_after_one, max_paths,
):
    """Compiled :meth:`semcom_ota.phy.sync.Synchroniser.synchronise` (``t0`` relative to ``buf``;
    ``b1``: B1's offset from A's start). Returns ``(ok, t0, cfo, rho, noise_var, energy, h, err)``;
    ``ok`` False where the NumPy path returns ``None``."""
    nu = used_idx.size
    h = np.zeros(nu, np.complex128)
    err = np.zeros(nu, np.float64)
    cfo1 = math.atan2(Pi, Pr) / math.pi
    start = t0 + b1
    nb = buf.size
    c = 0j
    e1 = 0.0
    e2 = 0.0
    for i in range(n):
        s1 = np.complex128(buf[start + i]) if 0 <= start + i < nb else 0j
        s2 = np.complex128(buf[start + n + i]) if 0 <= start + n + i < nb else 0j
        c += np.conj(s1) * s2
        e1 += s1.real * s1.real + s1.imag * s1.imag
        e2 += s2.real * s2.real + s2.imag * s2.imag
    if e1 <= 0 or e2 <= 0:
        return False, t0, 0.0, 0.0, 0.0, 0.0, h, err
    rho = abs(c) / math.sqrt(e1 * e2)
    if rho < verify_threshold:
        return False, t0, 0.0, 0.0, 0.0, 0.0, h, err
    z = c * complex(math.cos(-2 * math.pi * cfo1), math.sin(-2 * math.pi * cfo1))
    cfo_f = cfo1 + math.atan2(z.imag, z.real) / (2 * math.pi)
    # integer (even) CFO from preamble A
    X1 = np.empty(n, np.complex128)
    X2 = np.empty(n, np.complex128)
    _derotated_fft(buf, t0 + cp_len, n, 2.0 * math.pi * cfo_f / n, float(cp_len), tw, rev, X1)
    # (the NumPy path's phase is -w·a_n with a_n = cp_len..cp_len+n-1, not reduced mod 2π: |phase|
    # < 12 rad; reducing it changes the float32 phasor by rounding only)
    best = -1.0
    q = 0
    for s in range(a_lo_idx.shape[0]):
        acc = 0j
        for k in range(a_lo_idx.shape[1]):
            acc += X1[a_lo_idx[s, k]] * np.conj(X1[a_hi_idx[s, k]]) * a_ref_conj[k]
        v = abs(acc)
        if v > best:
            best, q = v, s
    cfo = cfo_f + shifts[q]
    w = 2.0 * math.pi * cfo / n
    Y = np.empty(nu, np.complex128)
    nv, e = _b_ffts(buf, t0 + b1, n, w, float(b1), tw, rev, used_idx, X1, X2, Y)
    H = np.empty(nu, np.complex128)
    for i in range(nu):
        H[i] = Y[i] * (0.5 * b_conj[i])
    # impulse response at the searched delays: one inverse FFT of the zero-filled estimate
    # (ifft(x) = conj(fft(conj(x))) / n; the reference: a matrix-vector product)
    for i in range(n):
        X2[i] = 0
    for i in range(nu):
        X2[used_idx[i]] = np.conj(H[i])
    _fft_row(X2, tw, rev)
    n_path = path_delays.size
    p = np.empty(n_path, np.float64)
    tot = 0.0
    pmax = 0.0
    scale = 1.0 / (n * n)
    for k in range(n_path):
        acc = X2[path_delays[k] % n]
        v = (acc.real * acc.real + acc.imag * acc.imag) * scale
        p[k] = v
        tot += v
        pmax = max(pmax, v)
    if tot < min_concentration * e / n:
        return False, t0, 0.0, 0.0, 0.0, 0.0, h, err
    thr = max(0.1 * pmax, tap_threshold * (nv / 2.0) * nu / (n * n))
    first = -1
    for k in range(n_path):
        if p[k] > thr:
            first = k
            break
    if first < 0:
        return False, t0, 0.0, 0.0, 0.0, 0.0, h, err
    shift = path_delays[first] - timing_backoff
    if abs(shift) > margin - 8:
        return False, t0, 0.0, 0.0, 0.0, 0.0, h, err
    t1 = t0 + shift
    if shift:
        nv, e = _b_ffts(buf, t1 + b1, n, w, float(t1 - t0 + b1), tw, rev, used_idx, X1, X2, Y)
        for i in range(nu):
            H[i] = Y[i] * (0.5 * b_conj[i])
    nv = max(nv, 1e-30)
    h, err = channel_fit_kernel(H, nv / 2.0, D, G, atoms_h, gram_conj_n, norm_after_one, max_paths, tap_threshold)
    return True, t1, cfo, rho, nv, e, h, err


# -------------------------------------------------------------------------------------------------
# whole-frame kernels: one call per stage of a frame (acquisition + header, then the payload), so a
# short frame pays a few dispatches instead of tens (the receiver's cost per frame)
@numba.njit(**_JIT)
def _windows_fft(buf, s0, count, sym_len, n_fft, w, phase0, offsets, tw, rev, F, rot):
    """:func:`fft_windows_kernel` followed by the FFT of each window (radix-2, complex128), into
    ``F`` (complex64 ``[≥ count, n_fft]``) and ``rot`` (complex64 ``[≥ count]``). The in-window CFO
    ramp comes from a float64 recurrence (the reference: float32 phases; equal within ~1e-6)."""
    ramp = np.empty(n_fft, np.complex128)
    r = 1.0 + 0j
    c = complex(math.cos(w), -math.sin(w))
    for t in range(n_fft):
        ramp[t] = r
        r = r * c
    has_off = offsets.size > 0
    nb = buf.size
    for m in range(count):
        ipos = m * sym_len
        if has_off:
            ipos += offsets[m]
        ph = np.float32(((ipos * -w) + (-phase0)) % _TWO_PI)
        rot[m] = np.complex64(complex(math.cos(ph), math.sin(ph)))
    if tw.size == n_fft - 1 and n_fft >= 4:  # radix 4: four windows at a time (one per SIMD lane)
        Yr = np.empty((n_fft, 4))
        Yi = np.empty((n_fft, 4))
        for g in range(0, count, 4):
            for v in range(4):
                m = g + v
                if m >= count:
                    for t in range(n_fft):
                        Yr[t, v] = 0.0
                        Yi[t, v] = 0.0
                    continue
                a = s0 + m * sym_len + (offsets[m] if has_off else 0)
                for t in range(n_fft):  # loaded in digit-reversed order
                    j = rev[t]
                    i = a + j
                    if 0 <= i < nb:
                        z = np.complex128(buf[i]) * ramp[j]
                        Yr[t, v] = z.real
                        Yi[t, v] = z.imag
                    else:
                        Yr[t, v] = 0.0
                        Yi[t, v] = 0.0
            _fft4_lanes(Yr, Yi, tw)
            for v in range(min(4, count - g)):
                for t in range(n_fft):
                    F[g + v, t] = np.complex64(complex(Yr[t, v], Yi[t, v]))
        return
    X = np.empty(n_fft, np.complex128)
    for m in range(count):
        a = s0 + m * sym_len + (offsets[m] if has_off else 0)
        for t in range(n_fft):
            i = a + t
            if 0 <= i < nb:
                X[t] = np.complex128(buf[i]) * ramp[t]
            else:
                X[t] = 0
        _fft_row(X, tw, rev)
        for t in range(n_fft):
            F[m, t] = np.complex64(X[t])


@numba.njit(**_JIT)
def _fft4_lanes(Yr, Yi, tw):
    """Radix-4 butterflies of :func:`_fft_row` on four transforms at once: ``Yr`` / ``Yi`` float64
    ``[n, 4]`` (bin-major, input already in digit-reversed order), in place; ``tw`` the radix-4
    table of :func:`fft_tables`. The lane loop of constant length 4 maps onto SIMD registers."""
    n = Yr.shape[0]
    size = 4
    off = 0
    while size <= n:
        q = size // 4
        for start in range(0, n, size):
            for k in range(q):
                w1 = tw[off + 3 * k]
                w2 = tw[off + 3 * k + 1]
                w3 = tw[off + 3 * k + 2]
                w1r, w1i, w2r, w2i, w3r, w3i = w1.real, w1.imag, w2.real, w2.imag, w3.real, w3.imag
                i0 = start + k
                i1 = i0 + q
                i2 = i1 + q
                i3 = i2 + q
                for v in range(4):
                    a0r = Yr[i0, v]
                    a0i = Yi[i0, v]
                    xr = Yr[i1, v]
                    xi = Yi[i1, v]
                    a1r = xr * w1r - xi * w1i
                    a1i = xr * w1i + xi * w1r
                    xr = Yr[i2, v]
                    xi = Yi[i2, v]
                    a2r = xr * w2r - xi * w2i
                    a2i = xr * w2i + xi * w2r
                    xr = Yr[i3, v]
                    xi = Yi[i3, v]
                    a3r = xr * w3r - xi * w3i
                    a3i = xr * w3i + xi * w3r
                    b0r = a0r + a2r
                    b0i = a0i + a2i
                    b1r = a0r - a2r
                    b1i = a0i - a2i
                    b2r = a1r + a3r
                    b2i = a1i + a3i
                    dr = a1r - a3r
                    di = a1i - a3i
                    Yr[i0, v] = b0r + b2r
                    Yi[i0, v] = b0i + b2i
                    Yr[i1, v] = b1r + di  # b1 - j·d
                    Yi[i1, v] = b1i - dr
                    Yr[i2, v] = b0r - b2r
                    Yi[i2, v] = b0i - b2i
                    Yr[i3, v] = b1r - di  # b1 + j·d
                    Yi[i3, v] = b1i + dr
        off += 3 * q
        size *= 4


@numba.njit(**_JIT)
def finish_kernel(
    buf, s0, nh, n_av, w, phase0, pil, h, herr, noise_var, slot, n, F, rot, sym, nv, mask,
    sym_len, n_fft, tw, rev, used_idx, pilot_idx, pilot_pos, pilot_f, dk, pilot_bins, sro_window, cpe_window,
    data_idx, data_bins, data_pos,
):
    """Everything after the header for one frame, in one call: FFT of the ``nh`` header and ``n_av``
    available payload symbols (window of symbol 0 at ``buf[s0]``, CFO ``w`` rad/sample, ``phase0``
    as in :func:`fft_windows_kernel`), the silence test (:func:`live_symbols_kernel`: mean power
    per used bin above ``noise_var + 0.2·mean|h|²``), pilot tracking over header + payload, the sampling-offset re-timing (windows
    moved and tracked again once the drift reaches a sample), the pilot residual check and the
    equalisation into ``sym`` / ``nv`` / ``mask`` (``[≥ n]``, time order). The same stages and
    values as the demodulator's step-by-step path (ofdm_demodulate → live_symbols_kernel →
    track_pilots → drift_offsets_kernel → pilot_error_ratio → equalise_payload).

    ``pil`` complex128 ``[≥ nh + n_av, P]`` pilot values from header symbol 0; ``h`` / ``herr`` the
    channel estimate on the used bins; ``F`` complex64 ``[≥ nh + n_av, n_fft]``, ``rot`` complex64
    ``[≥ nh + n_av]`` workspaces; the arguments from ``sym_len`` on are the layout's (fixed per
    receiver). Returns ``(n_rx, inflation_mean)``: payload symbols received
    (live) and the mean noise-variance inflation over them (1.0 if none)."""
    count = nh + n_av
    no_off = np.zeros(0, np.int64)
    _windows_fft(buf, s0, count, sym_len, n_fft, w, phase0, no_off, tw, rev, F, rot)
    n_rx = 0
    if n_av > 0:
        e = 0.0
        for i in range(h.size):
            e += h[i].real * h[i].real + h[i].imag * h[i].imag
        n_rx = live_symbols_kernel(F, nh, n_av, used_idx, noise_var + 0.2 * e / used_idx.size)
    S = nh + n_rx
    P = pilot_idx.size
    hp = np.empty(P, np.complex128)
    herr_p = np.empty(P, np.float64)
    for p in range(P):
        hp[p] = h[pilot_pos[p]]
        herr_p[p] = herr[pilot_pos[p]]
    nd = data_idx.size
    hd = np.empty(nd, np.complex128)
    herr_d = np.empty(nd, np.float64)
    for i in range(nd):
        hd[i] = h[data_pos[i]]
        herr_d[i] = herr[data_pos[i]]
    pil_s = pil[:S]
    Yp = pilots_received_kernel(F, rot, pilot_idx, S)
    phi, theta, pv = track_pilots_kernel(Yp, pil_s, hp, pilot_f, dk, np.zeros(0, np.float64), sro_window, cpe_window, noise_var)
    offsets, moved = drift_offsets_kernel(theta, n_fft)
    if moved:
        _windows_fft(buf, s0, S, sym_len, n_fft, w, phase0, offsets, tw, rev, F, rot)
        Yp = pilots_received_kernel(F, rot, pilot_idx, S)
        step = np.empty(S, np.float64)
        for m in range(S):
            step[m] = _TWO_PI * offsets[m] / n_fft
        phi, theta, pv = track_pilots_kernel(Yp, pil_s, hp, pilot_f, dk, step, sro_window, cpe_window, noise_var)
    infl = pilot_error_ratio_kernel(Yp, pil_s, pilot_bins, hp, herr_p, noise_var, phi, theta, pv, 9)
    _equalise_into(
        F, rot, nh, n_rx, data_idx, data_bins, hd, herr_d, noise_var, phi[nh:], theta[nh:], pv[nh:], infl[nh:], slot, n,
        sym, nv, mask,
    )  # fmt: skip
    if n_rx == 0:
        return n_rx, 1.0
    tot = 0.0
    for m in range(nh, S):
        tot += infl[m]
    return n_rx, tot / n_rx


@numba.njit(**_JIT)
def acquire_header_kernel(
    buf, t0, Pr, Pi, b1, cp_len, n, tw, rev, verify_threshold, a_lo_idx, a_hi_idx, a_ref_conj, shifts,
    used_idx, b_conj, path_delays, min_concentration, tap_threshold, timing_backoff, margin,
    D, G, atoms_h, gram_conj_n, norm_after_one, max_paths,
    header_start, nh, sym_len, pilot_idx, pil, pilot_pos, data_idx, data_pos, fold, n_coded, dec_m, crc_m, crc_zero,
    signs, h_out, err_out, coded_out,
):
    """:func:`acquire_kernel` then, if the frame is confirmed, :func:`header_decode_kernel` on its
    header and, where the hard decisions are not a codeword, :func:`viterbi_kernel` (``signs``: its
    trellis table) with the CRC check, in one call. The channel estimate, its error variance and
    the combined header LLRs are written to ``h_out`` / ``err_out`` (``[n_used]``) and
    ``coded_out`` (``[n_coded]``). Returns ``(ok, t0, cfo, rho, noise_var, energy, status, word)``:
    ``status`` 0 / 1 as in :func:`header_decode_kernel` (hard decisions: CRC passed / failed),
    3 / 4 the same after soft decoding; -1 when not ``ok``."""
    ok, t1, cfo, rho, nv, e, h, err = acquire_kernel(
        buf, t0, Pr, Pi, b1, cp_len, n, tw, rev, verify_threshold, a_lo_idx, a_hi_idx, a_ref_conj, shifts,
        used_idx, b_conj, path_delays, min_concentration, tap_threshold, timing_backoff, margin,
        D, G, atoms_h, gram_conj_n, norm_after_one, max_paths,
    )  # fmt: skip
    if not ok:
        return False, t1, cfo, rho, nv, e, -1, 0
    for i in range(h.size):
        h_out[i] = h[i]
        err_out[i] = err[i]
    start = t1 + header_start + cp_len
    w = 2.0 * np.pi * cfo / n
    status, word, coded = header_decode_kernel(
        buf, start, nh, sym_len, w, float(start - t0), tw, rev, pilot_idx, pil, h, err, pilot_pos, data_idx, data_pos,
        nv, fold, n_coded, dec_m, crc_m, crc_zero,
    )  # fmt: skip
    for j in range(n_coded):
        coded_out[j] = coded[j]
    if status == 2:  # channel errors: soft decoding
        crc_ok, word = _header_crc(viterbi_kernel(coded, signs), crc_m, crc_zero)
        status = 3 if crc_ok else 4
    return True, t1, cfo, rho, nv, e, status, word


#: outcomes of :func:`frame_kernel`
FRAME_NEED_HEADER = 0  # the header is not in the buffer yet (nothing acquired)
FRAME_NOT_CONFIRMED = 1  # the preambles did not confirm a frame
FRAME_HEADER = 2  # acquired, header decoded: the caller goes on (payload not finished here)
FRAME_DONE = 3  # acquired, header valid, payload finished into the output arrays

#: why :func:`frames_kernel` stopped
FRAMES_FULL = 0  # its output arrays are full
FRAMES_SAMPLES = 1  # the samples ahead are too few to go on (the caller waits or flushes)
FRAMES_CROSSINGS = 2  # the cached coarse crossings end (the caller computes the next block)
FRAMES_STEP = 3  # a candidate it cannot take whole (the caller takes it step by step)

_HDR_VERSION_SHIFT, _HDR_LENGTH_SHIFT, _HDR_TIERS_SHIFT = 38, 16, 3


@numba.njit(**_JIT)
def frame_kernel(
    buf, base, d1, hi, total, hdr_need, half, window, smooth, hits, vals, hit_lo, hit_hi, inframe_threshold, bad_any,
    version, guess_n, guess_n_ofdm, guess_slot, guess_pil, payload_start, h_out, err_out, coded_out, work, rot,
    sym, nv, mask, acq_args, hdr_args, fin_args,
):
    """One detected candidate, start to finish, in one call (positions relative to ``buf``, whose
    first sample has the absolute index ``base``; ``total``: samples in ``buf``).

    The Schmidl–Cox peak in ``[d1, hi)`` (:func:`sc_peak_kernel`, smoothing ``smooth``) gives
    the coarse start ``t0``; then :func:`acquire_header_kernel`; then, only if the header passed
    its CRC (hard or soft decoded), is valid (``version``, ``n_tiers ≥ 1``), announces ``guess_n``
    payload symbols (whose de-permutation table ``guess_slot`` and pilot values ``guess_pil`` the
    caller passed: those of the previous frame's size), the whole payload plus ``hdr_need``
    samples is in ``buf``, no bad sample is known (``bad_any`` False), the cached coarse crossings
    (``hits``/``vals``, absolute starts, valid in ``[hit_lo, hit_hi)``) cover the payload and none there
    exceeds ``inframe_threshold`` (no frame may cut this one short), :func:`finish_kernel` into
    ``sym`` / ``nv`` / ``mask`` (``work``: complex64 workspace ``[≥ (nh + guess_n_ofdm)·n_fft]``,
    ``rot`` ``[≥ nh + guess_n_ofdm]``). Otherwise the caller takes over from the outcome (the same
    decisions as the step-by-step receiver).

    ``acq_args``, ``hdr_args``, ``fin_args``: the static arguments of the acquisition, header and
    payload kernels (tuples). Returns ``(outcome, t0, P, t1, cfo, rho, noise_var, energy,
    status, word, n_rx, inflation)`` with ``outcome`` one of ``FRAME_*``."""
    i, P = sc_peak_kernel(buf[d1 : hi + half + window - 1], half, window, smooth)
    t0 = d1 + i
    if t0 + hdr_need > total:
        return FRAME_NEED_HEADER, t0, P, t0, 0.0, 0.0, 0.0, 0.0, -1, 0, 0, 1.0
    (b1, cp_len, n, tw, rev, vthr, a_lo_idx, a_hi_idx, a_ref_conj, shifts, used_idx, b_conj,
     path_delays, min_conc, tap_thr, backoff, margin, D, G, atoms_h, gram_conj_n, norm_after_one, max_paths) = acq_args  # fmt: skip
    (header_start, nh, sym_len, pilot_idx, pil_h, pilot_pos, data_idx, data_pos, fold, n_coded, dec_m, crc_m, crc_zero,
     signs) = hdr_args  # fmt: skip
    ok, t1, cfo, rho, nvar, e, status, word = acquire_header_kernel(
        buf, t0, P.real, P.imag, b1, cp_len, n, tw, rev, vthr, a_lo_idx, a_hi_idx, a_ref_conj, shifts, used_idx,
        b_conj, path_delays, min_conc, tap_thr, backoff, margin, D, G, atoms_h, gram_conj_n,
        norm_after_one, max_paths, header_start, nh, sym_len, pilot_idx, pil_h, pilot_pos, data_idx, data_pos,
        fold, n_coded, dec_m, crc_m, crc_zero, signs, h_out, err_out, coded_out,
    )  # fmt: skip
    if not ok:
        return FRAME_NOT_CONFIRMED, t0, P, t1, cfo, rho, nvar, e, -1, 0, 0, 1.0
    length = (word >> _HDR_LENGTH_SHIFT) & 0x3FFF
    fine = (
        (status == 0 or status == 3)
        and (word >> _HDR_VERSION_SHIFT) & 0x3 == version
        and (word >> _HDR_TIERS_SHIFT) & 0xF >= 1
        and length == guess_n
        and guess_n >= 1
        and not bad_any
    )
    pay_start = t1 + payload_start
    end = pay_start + guess_n_ofdm * sym_len
    if not fine or end + hdr_need > total or pay_start + base < hit_lo or end + base > hit_hi:
        return FRAME_HEADER, t0, P, t1, cfo, rho, nvar, e, status, word, 0, 1.0
    k = np.searchsorted(hits, pay_start + base)
    while k < hits.size and hits[k] < end + base:
        if vals[k] > np.float32(inframe_threshold):
            return FRAME_HEADER, t0, P, t1, cfo, rho, nvar, e, status, word, 0, 1.0
        k += 1
    start = t1 + header_start + cp_len
    w = 2.0 * np.pi * cfo / n
    (f_sym_len, f_n_fft, f_tw, f_rev, f_used_idx, f_pilot_idx, f_pilot_pos, f_pilot_f, f_dk, f_pilot_bins, f_sro,
     f_cpe, f_data_idx, f_data_bins, f_data_pos) = fin_args  # fmt: skip
    F = work[: (nh + guess_n_ofdm) * f_n_fft].reshape((nh + guess_n_ofdm, f_n_fft))
    n_rx, inflation = finish_kernel(
        buf, start, nh, guess_n_ofdm, w, w * (start - t0), guess_pil, h_out, err_out, nvar, guess_slot, guess_n, F,
        rot, sym, nv, mask, f_sym_len, f_n_fft, f_tw, f_rev, f_used_idx, f_pilot_idx, f_pilot_pos, f_pilot_f, f_dk,
        f_pilot_bins, f_sro, f_cpe, f_data_idx, f_data_bins, f_data_pos,
    )  # fmt: skip
    return FRAME_DONE, t0, P, t1, cfo, rho, nvar, e, status, word, n_rx, inflation


@numba.njit(**_JIT)
def frames_kernel(
    buf, base, total, search, min_block, stride, peak_span, hdr_need, half, window, hits, vals, hit_lo, hit_hi,
    inframe_threshold, bad_any, version, guess_n, guess_n_ofdm, guess_slot, guess_pil, payload_start, n_used,
    work, rot, sym, nv, mask, rec_i, rec_f, coded, acq_args, hdr_args, fin_args,
):
    """Receive, one after the other, the frames that :func:`frame_kernel` can take start to
    finish, beginning the search at ``search`` (relative to ``buf``, whose first sample has the
    absolute index ``base``; ``total``: samples in ``buf``), the decisions those of the
    step-by-step receiver. Stops before the first candidate it cannot take whole (the caller
    takes that one step by step), when the cached coarse crossings (``hits``/``vals``, valid in
    ``[hit_lo, hit_hi)``, absolute) or the samples run out, or after ``sym.shape[0]`` frames.

    Frame ``k`` goes to ``sym[k]`` / ``nv[k]`` / ``mask[k]`` (``[max_frames, guess_n]``),
    ``rec_i[k] = (t0, t1, header word, n_rx)`` (t0: coarse start, t1: synchronised start,
    relative) and ``rec_f[k] = (cfo, rho, noise_var, snr_db, inflation)``. Returns ``(frames,
    search, candidates, stop)``: frames received, where the search stands (relative), the
    candidates examined (frames plus preambles not confirmed) and why it stopped (``FRAMES_*``)."""
    max_frames = sym.shape[0]
    nu = n_used
    h = np.empty(nu, np.complex128)
    err = np.empty(nu, np.float64)
    n_fft = fin_args[1]
    done = 0
    candidates = 0
    stop = FRAMES_FULL
    last = total - half - window  # last start with a full metric window
    while done < max_frames:
        start = max(search, 0)
        if total - start < min_block + half + window or start > last:
            stop = FRAMES_SAMPLES
            break
        a = start + base
        if a < hit_lo or a >= hit_hi:
            stop = FRAMES_CROSSINGS
            break
        lim = min(last + 1 + base, hit_hi)
        k = np.searchsorted(hits, a)
        if k >= hits.size or hits[k] >= lim:
            stop = FRAMES_CROSSINGS if lim < last + 1 + base else FRAMES_SAMPLES
            break
        d1 = max(hits[k] - base - stride, 0)
        if d1 + peak_span > last + 1:
            stop = FRAMES_SAMPLES
            break
        hi = min(d1 + peak_span, total - half - window + 1)
        outcome, t0, P, t1, cfo, rho, nvar, e, status, word, n_rx, inflation = frame_kernel(
            buf, base, d1, hi, total, hdr_need, half, window, stride + 1, hits, vals, hit_lo, hit_hi,
            inframe_threshold, bad_any, version, guess_n, guess_n_ofdm, guess_slot, guess_pil, payload_start, h,
            err, coded, work, rot, sym[done], nv[done], mask[done], acq_args, hdr_args, fin_args,
        )  # fmt: skip
        if outcome == FRAME_NOT_CONFIRMED:
            candidates += 1
            search = t0 + half
            continue
        if outcome != FRAME_DONE:
            stop = FRAMES_STEP
            break
        candidates += 1
        pay_start = t1 + payload_start
        if n_rx == guess_n_ofdm:
            search = max(search, pay_start + guess_n_ofdm * fin_args[0])
        else:
            search = max(search, pay_start + n_rx * fin_args[0])
        sig = e / nu - nvar / 2.0
        rec_i[done, 0] = t0
        rec_i[done, 1] = t1
        rec_i[done, 2] = word
        rec_i[done, 3] = n_rx
        rec_f[done, 0] = cfo
        rec_f[done, 1] = rho
        rec_f[done, 2] = nvar
        rec_f[done, 3] = 10.0 * math.log10(max(sig, 1e-12 * nvar) / nvar * nu / n_fft)
        rec_f[done, 4] = inflation
        done += 1
    return done, search, candidates, stop
