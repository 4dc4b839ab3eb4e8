"""Frame layout shared by TX and RX: subcarriers, preambles, pilots, payload permutation.

Frame (samples, relative to the start ``t0`` of preamble A)::

    [0, S)            preamble A: CP + Schmidl–Cox symbol (even bins only -> period n_fft/2)
    [S, S+2N+2C)      preamble B block: CP of length 2C, then B, B (full-band Zadoff–Chu)
    header            n_header_symbols OFDM symbols (BPSK, rate-1/2 convolutional code)
    payload           ceil(n / n_data) OFDM symbols (analog symbols, pilots)

with ``N = n_fft``, ``C = cp_len``, ``S = N + C``. A guard of zeros precedes and follows the burst.
Every OFDM symbol has the same mean time-domain power ``backoff_rms²``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from semcom_ota.phy.config import PhyConfig

#: Header: 40 information bits + CRC-16, convolutionally coded (K=7, rate 1/2) with a 6-bit tail.
HEADER_INFO_BITS = 40
HEADER_CRC_BITS = 16
CONV_K = 7
HEADER_CODED_BITS = 2 * (HEADER_INFO_BITS + HEADER_CRC_BITS + CONV_K - 1)  # 124
MAX_PAYLOAD_SYMBOLS = (1 << 14) - 1


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % p for p in range(2, int(math.isqrt(n)) + 1))


class OfdmLayout:
    """Everything derived from a :class:`PhyConfig` (computed once, shared by TX and RX).

    Attributes
    ----------
    used, pilot, data: signed bin indices (int64, increasing); pilot_f, data_f (data_f32): the same
        as float64 (float32); pilot_gaps: ``diff(pilot)`` (float64).
    used_idx, data_idx, pilot_idx: the same as FFT array indices (``bin % n_fft``).
    pilot_pos, data_pos: positions of pilot / data bins inside ``used``.
    sym_len: samples per OFDM symbol (``n_fft + cp_len``).
    tx_scale: time-domain scale (``x = ifft(X) * tx_scale`` gives mean power ``backoff_rms²``
        when ``sum |X|² = n_used``).
    a_freq: complex128 ``[n_fft]`` preamble A in frequency (QPSK on the even used bins).
    a_time: complex64 ``[sym_len]`` preamble A with its CP, scaled like every OFDM symbol.
    b_freq: complex128 ``[n_used]`` preamble B values on the used bins (unit modulus).
    b_block: complex64 ``[2 n_fft + 2 cp_len]`` the B block (CP of 2·cp_len, B, B).
    header_interleave: permutation of the header's coded-bit slots (TX); header_fold: int64
        ``[n_header_symbols · n_data]``, the coded bit each slot carries (RX).

    Receiver constants (read-only by convention): ``ones_pilot*`` (pilot sums as dot products),
    ``fft_n`` (``arange(n_fft)``), ``data_plane`` (``[2, n_data]`` phase plane of the equaliser),
    ``header_sample_offsets`` (``[n_header_symbols, n_fft]`` sample offsets of the header's FFT
    windows).
    """

    def __init__(self, cfg: PhyConfig) -> None:
        self.cfg = cfg
        N, C = cfg.n_fft, cfg.cp_len
        self.n_fft, self.cp_len = N, C
        lo = cfg.dc_null_half + 1
        hi = cfg.dc_null_half + cfg.n_used_half
        self.used = np.r_[np.arange(-hi, -lo + 1), np.arange(lo, hi + 1)].astype(np.int64)
        self.pilot = np.array(sorted(cfg.pilot_bins), dtype=np.int64)
        self.data = np.setdiff1d(self.used, self.pilot)
        self.used_idx = self.used % N
        self.pilot_idx = self.pilot % N
        self.data_idx = self.data % N
        self.pilot_pos = np.searchsorted(self.used, self.pilot)
        self.data_pos = np.searchsorted(self.used, self.data)
        self.n_used, self.n_pilot, self.n_data = self.used.size, self.pilot.size, self.data.size
        self.pilot_gaps = np.diff(self.pilot).astype(np.float64)  # bins between adjacent pilots
        self.pilot_f, self.data_f = self.pilot.astype(np.float64), self.data.astype(np.float64)
        self.data_f32 = self.data.astype(np.float32)
        # receiver constants: sums over pilots as dot products, sample offsets of FFT windows
        self.ones_pilot = np.ones(self.n_pilot)
        self.ones_pilot_c = np.ones(self.n_pilot, np.complex128)
        self.ones_pilot_f32 = np.ones(self.n_pilot, np.float32)
        self.fft_n = np.arange(N, dtype=np.float64)
        # equaliser phase as one [S, 2] @ [2, n_data] product (cheaper than broadcasting an
        # outer product and a per-symbol offset over [S, n_data]): rows (slope, offset)
        self.data_plane = np.stack([-self.data_f32, np.ones(self.n_data, np.float32)])  # a - θ k
        self.sym_len = N + C
        self.tx_scale = cfg.backoff_rms * N / math.sqrt(self.n_used)

        # preamble A: QPSK on the even used bins, boosted so that sum |X|² = n_used
        rng = np.random.default_rng([cfg.seed, 0xA])
        even = self.used[self.used % 2 == 0]
        xa = np.zeros(N, np.complex128)
        qa = np.exp(1j * (np.pi / 4 + np.pi / 2 * rng.integers(0, 4, even.size)))
        xa[even % N] = qa * math.sqrt(self.n_used / even.size)
        self.a_freq = xa
        a = np.fft.ifft(xa) * self.tx_scale
        self.a_time = np.concatenate([a[-C:], a]).astype(np.complex64)
        self.half = N // 2

        # preamble B: Zadoff–Chu of prime length >= n_used, truncated to the used bins
        L = self.n_used
        p = L
        while not _is_prime(p):
            p += 1
        u = cfg.zc_root % p or 1
        k = np.arange(L)
        self.b_freq = np.exp(-1j * np.pi * u * k * (k + 1) / p)
        xb = np.zeros(N, np.complex128)
        xb[self.used_idx] = self.b_freq
        b = np.fft.ifft(xb) * self.tx_scale
        self.b_time = b.astype(np.complex64)
        self.b_block = np.concatenate([b[-2 * C :], b, b]).astype(np.complex64)

        # sample offsets relative to t0 (start of A)
        self.a_len = self.sym_len
        self.b_len = 2 * N + 2 * C
        self.b1_start = self.a_len + 2 * C
        self.b2_start = self.b1_start + N
        self.header_start = self.a_len + self.b_len
        self.n_header_symbols = -(-HEADER_CODED_BITS // self.n_data)
        self.payload_start = self.header_start + self.n_header_symbols * self.sym_len

        # pilots: base pattern times a per-symbol polarity (seeded ±1 sequence of length 127)
        rng = np.random.default_rng([cfg.seed, 0xB1])
        self.pilot_base = np.where(rng.integers(0, 2, self.n_pilot) == 1, -1.0, 1.0)
        self.pilot_polarity = np.where(rng.integers(0, 2, 127) == 1, -1.0, 1.0)
        self._pilot_table = self.pilot_polarity[:, None] * self.pilot_base[None, :]
        # the values of every symbol a frame can have (header + longest payload), so that
        # pilots(first, count) is a slice
        n_max = self.n_header_symbols + self.n_payload_symbols(MAX_PAYLOAD_SYMBOLS)
        self._pilot_rows = self._pilot_table[np.arange(n_max) % self.pilot_polarity.size]
        self._sym_offsets = self.sym_len * np.arange(n_max, dtype=np.float64)
        self._sym_offsets.setflags(write=False)
        self._pilot_rows_c = {t: self._pilot_rows.astype(t) for t in (np.complex64, np.complex128)}
        for a in (self._pilot_rows, *self._pilot_rows_c.values()):
            a.setflags(write=False)

        # padding of the last payload symbol (at most n_data - 1 values)
        q = np.random.default_rng([cfg.seed, 0xF111]).integers(0, 4, self.n_data)
        self._filler = np.exp(1j * (np.pi / 4 + np.pi / 2 * q)).astype(np.complex64)
        self._filler.setflags(write=False)

        # header interleaver over the coded bits of all header symbols
        n_hdr_bits = self.n_header_symbols * self.n_data
        self.header_interleave = np.random.default_rng([cfg.seed, 0x4EAD]).permutation(n_hdr_bits)
        # receiver side: coded bit (0..HEADER_CODED_BITS-1) carried by each header slot (grid
        # order), so that the soft combination of the repetitions is one bincount
        self.header_fold = np.empty(n_hdr_bits, np.int64)
        self.header_fold[self.header_interleave] = np.arange(n_hdr_bits) % HEADER_CODED_BITS
        # sample offsets of the header's FFT windows from the first one: [n_header_symbols, n_fft]
        self.header_sample_offsets = (
            self.sym_len * np.arange(self.n_header_symbols, dtype=np.float64)[:, None] + np.arange(N, dtype=np.float64)[None, :]
        )

    # ---------------------------------------------------------------------------------------------
    def pilots(self, first: int, count: int) -> np.ndarray:
        """Pilot values float64 ``[count, n_pilot]`` of OFDM symbols ``first..first+count-1``
        (symbol 0 = first header symbol); shared, do not modify."""
        if 0 <= first and first + count <= self._pilot_rows.shape[0]:
            return self._pilot_rows[first : first + count]
        m = (first + np.arange(count)) % self.pilot_polarity.size
        return self._pilot_table[m]

    def pilots_complex(self, first: int, count: int, dtype: type = np.complex128) -> np.ndarray:
        """:meth:`pilots` as complex64 or complex128 (so that products with received pilots stay
        in one dtype); shared, do not modify."""
        rows = self._pilot_rows_c.get(dtype)
        if rows is not None and 0 <= first and first + count <= rows.shape[0]:
            return rows[first : first + count]
        return self.pilots(first, count).astype(dtype)

    def symbol_offsets(self, count: int) -> np.ndarray:
        """float64 ``[count]``: ``sym_len · m``, the sample offset of OFDM symbol ``m`` from symbol 0;
        shared, do not modify."""
        if count <= self._sym_offsets.size:
            return self._sym_offsets[:count]
        return self.sym_len * np.arange(count, dtype=np.float64)

    def n_payload_symbols(self, n: int) -> int:
        """OFDM symbols that carry ``n`` payload symbols."""
        return -(-int(n) // self.n_data)

    def burst_len(self, n: int) -> int:
        """Samples of a whole burst carrying ``n`` payload symbols, guards included."""
        return 2 * self.cfg.guard_len + self.payload_start + self.n_payload_symbols(n) * self.sym_len

    def payload_index(self, n_ofdm: int) -> np.ndarray:
        """int64 ``[n_ofdm · n_data]``: grid position (symbol-major over data bins) of each payload
        position in time order; permuted within blocks of ``perm_block_symbols`` OFDM symbols."""
        return _payload_index(self.n_data, self.cfg.perm_block_symbols, self.cfg.seed, int(n_ofdm))

    def payload_slot(self, n_ofdm: int, n: int) -> np.ndarray:
        """int64 ``[n_ofdm · n_data]``: the inverse of ``payload_index(n_ofdm)[:n]``, i.e. the
        time-order position of each grid position (``n`` for the padding); shared, do not modify."""
        return _payload_slot(self.n_data, self.cfg.perm_block_symbols, self.cfg.seed, int(n_ofdm), int(n))

    def filler(self, count: int) -> np.ndarray:
        """complex64 ``[count]`` unit-power QPSK that pads the last payload OFDM symbol."""
        return self._filler[: max(count, 0)]

    def to_time(self, grid_used: np.ndarray) -> np.ndarray:
        """OFDM modulate complex ``[S, n_used]`` (values on the used bins) to complex64 ``[S · sym_len]``
        with cyclic prefixes, all symbols in one batched IFFT."""
        S = grid_used.shape[0]
        X = np.zeros((S, self.n_fft), np.complex64)
        X[:, self.used_idx] = grid_used
        x = np.fft.ifft(X, axis=1)
        x *= self.tx_scale
        out = np.empty((S, self.sym_len), np.complex64)
        out[:, self.cp_len :] = x
        out[:, : self.cp_len] = x[:, -self.cp_len :]
        return out.reshape(-1)


@lru_cache(maxsize=64)
def _perm(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 0x9E3, size]).permutation(size)


@lru_cache(maxsize=256)
def _payload_index(n_data: int, block_symbols: int, seed: int, n_ofdm: int) -> np.ndarray:
    total = n_data * n_ofdm
    block = n_data * block_symbols
    parts = []
    for s in range(0, total, block):
        size = min(block, total - s)
        parts.append(s + _perm(size, seed))
    idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    idx.setflags(write=False)
    return idx


@lru_cache(maxsize=256)
def _payload_slot(n_data: int, block_symbols: int, seed: int, n_ofdm: int, n: int) -> np.ndarray:
    pos = _payload_index(n_data, block_symbols, seed, n_ofdm)[:n]
    slot = np.full(n_data * n_ofdm, n, np.int64)
    slot[pos] = np.arange(pos.size)
    slot.setflags(write=False)
    return slot
