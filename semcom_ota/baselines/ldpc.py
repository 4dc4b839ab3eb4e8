"""IEEE 802.11n/ac LDPC codes: quasi-cyclic parity-check matrices, systematic encoding, BP decoding.

    code = LdpcCode(1944, "1/2")
    cw = code.encode(info_bits)                    # uint8 [B, k] -> uint8 [B, n], H @ cw = 0 (mod 2)
    bits, ok = code.decode(llr)                    # float [B, n] LLRs -> uint8 [B, k], bool [B]

LLR convention (whole package): ``L = log P(b=0 | y) / P(b=1 | y)``; positive means bit 0.

Decoding uses the maintained ``ldpc`` package (``ldpc.BpDecoder``, C++ belief propagation). Its
``received_vector`` mode decodes a hard-decision word under a per-bit crossover probability; setting
that probability to ``1 / (1 + exp(|L|))`` from the channel LLRs makes the decoder's initial messages
exactly ``|L|`` with the sign of the hard decision, i.e. soft-input BP on the channel LLRs.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import scipy.sparse as sp

from semcom_ota.baselines.ldpc_tables import CODEWORD_LENGTHS, RATES, base_matrix

log = logging.getLogger(__name__)

#: |LLR| clip before turning LLRs into crossover probabilities (exp(-30) ~ 1e-13 stays representable)
LLR_CLIP = 30.0

_RATE_VALUES = {"1/2": 1 / 2, "2/3": 2 / 3, "3/4": 3 / 4, "5/6": 5 / 6}


def lift(base: np.ndarray, z: int) -> sp.csr_matrix:
    """Lift a base matrix ``[mb, nb]`` (shift ``s >= 0``, -1 = zero block) to a binary CSR matrix
    ``[mb z, nb z]`` (uint8): block ``(i, j)`` has ones at ``(i z + r, j z + (r + s) mod z)``."""
    rows, cols = np.nonzero(base >= 0)
    shifts = base[rows, cols].astype(np.int64)
    r = np.arange(z)
    ii = (rows[:, None] * z + r[None, :]).ravel()
    jj = (cols[:, None] * z + (r[None, :] + shifts[:, None]) % z).ravel()
    data = np.ones(ii.size, np.uint8)
    return sp.csr_matrix((data, (ii, jj)), shape=(base.shape[0] * z, base.shape[1] * z))


class LdpcCode:
    """One IEEE 802.11n/ac LDPC code.

    Parameters
    ----------
    n: codeword length, 648, 1296 or 1944.
    rate: "1/2", "2/3", "3/4" or "5/6".
    max_iter: maximum BP iterations.
    bp_method: "product_sum" (sum-product, default) or "minimum_sum" (normalised min-sum).
    ms_scaling_factor: min-sum normalisation (used by "minimum_sum" only).

    Attributes
    ----------
    n, k, z: codeword length, information bits, lifting size.
    H: scipy CSR ``[n - k, n]`` uint8 parity-check matrix.
    """

    def __init__(self, n: int, rate: str, max_iter: int = 50, bp_method: str = "product_sum", ms_scaling_factor: float = 0.75) -> None:
        if int(n) not in CODEWORD_LENGTHS or str(rate) not in RATES:
            raise ValueError(f"LdpcCode(n={n}, rate={rate!r}): expected n in {CODEWORD_LENGTHS} and rate in {RATES}")
        if bp_method not in ("product_sum", "minimum_sum"):
            raise ValueError(f"LdpcCode bp_method={bp_method!r}: expected 'product_sum' or 'minimum_sum'")
        if int(max_iter) < 1:
            raise ValueError(f"LdpcCode max_iter={max_iter}: expected >= 1")
        self.n, self.rate = int(n), str(rate)
        self.z = self.n // 24
        self.base = base_matrix(self.n, self.rate)
        self.mb = self.base.shape[0]
        self.kb = 24 - self.mb
        self.k = self.kb * self.z
        self.H = lift(self.base, self.z)
        self.max_iter, self.bp_method, self.ms_scaling_factor = int(max_iter), bp_method, float(ms_scaling_factor)
        self._check_structure()
        self._H_sys = self.H[:, : self.k].tocsr()
        self._decoder = None

    @property
    def rate_value(self) -> float:
        return _RATE_VALUES[self.rate]

    def __repr__(self) -> str:
        return f"LdpcCode(n={self.n}, rate={self.rate!r}, k={self.k}, z={self.z})"

    def _check_structure(self) -> None:
        """The parity part must be: column kb with shifts (h, 0, h) at rows (0, x, mb-1), then a dual diagonal."""
        par = self.base[:, self.kb :]
        col0 = np.nonzero(par[:, 0] >= 0)[0]
        ok = len(col0) == 3 and col0[0] == 0 and col0[-1] == self.mb - 1 and par[0, 0] == par[-1, 0] and par[col0[1], 0] == 0
        for j in range(1, self.mb):
            ok &= bool(np.array_equal(np.nonzero(par[:, j] >= 0)[0], [j - 1, j])) and bool(np.all(par[[j - 1, j], j] == 0))
        if not ok:
            raise ValueError(f"{self!r}: base matrix parity part is not the 802.11 dual-diagonal structure")
        self._x = int(col0[1])  # the row holding the unshifted identity of the first parity column
        self._h0 = int(par[0, 0])

    # ------------------------------------------------------------------ encoding
    def encode(self, info_bits: np.ndarray) -> np.ndarray:
        """Systematic encoding via the dual-diagonal parity structure (IEEE 802.11-2012 Annex F).

        Input: ``info_bits`` uint8/bool ``[B, k]`` or ``[k]`` of 0/1.
        Output: uint8 ``[B, n]`` (or ``[n]``): ``[info | parity]`` with ``H c = 0 (mod 2)``.
        """
        u = np.asarray(info_bits)
        single = u.ndim == 1
        u2 = np.atleast_2d(u)
        if u2.ndim != 2 or u2.shape[1] != self.k:
            raise ValueError(f"{self!r}.encode: info_bits shape {u.shape}: expected [B, {self.k}] or [{self.k}]")
        if u2.size and (u2.min() < 0 or u2.max() > 1):
            raise ValueError(f"{self!r}.encode: info_bits must be 0/1, got values in [{u2.min()}, {u2.max()}]")
        u2 = u2.astype(np.uint8)
        b, z, mb = u2.shape[0], self.z, self.mb
        # lambda_i = sum_j P^{s_ij} u_j for every block row i: [B, mb, z]
        lam = (np.asarray((self._H_sys @ u2.T.astype(np.int32)))).T % 2
        lam = lam.reshape(b, mb, z).astype(np.uint8)
        p = np.zeros((b, mb, z), np.uint8)
        # summing all block rows cancels the dual diagonal and the two P^h0 blocks: p0 = sum_i lambda_i
        p[:, 0] = np.bitwise_xor.reduce(lam, axis=1)
        # row 0: lambda_0 + P^h0 p0 + p1 = 0 ;  (P^s x)[r] = x[(r + s) mod z]
        p0_h = np.roll(p[:, 0], -self._h0, axis=1)
        acc = lam[:, 0] ^ p0_h
        if mb > 1:
            p[:, 1] = acc
        # row i (1 <= i <= mb-2): lambda_i + [i == x] p0 + p_i + p_{i+1} = 0
        for i in range(1, mb - 1):
            nxt = lam[:, i] ^ p[:, i]
            if i == self._x:
                nxt ^= p[:, 0]
            p[:, i + 1] = nxt
        cw = np.concatenate([u2, p.reshape(b, mb * z)], axis=1)
        return cw[0] if single else cw

    def syndrome_ok(self, codewords: np.ndarray) -> np.ndarray:
        """bool ``[B]``: whether each codeword ``[B, n]`` satisfies every parity check."""
        c = np.atleast_2d(np.asarray(codewords)).astype(np.int32)
        return ~np.any((self.H @ c.T) % 2, axis=0)

    # ------------------------------------------------------------------ decoding
    def _bp(self):
        if self._decoder is None:
            from ldpc import BpDecoder

            self._decoder = BpDecoder(
                self.H, error_channel=np.full(self.n, 0.1), max_iter=self.max_iter, bp_method=self.bp_method,
                ms_scaling_factor=self.ms_scaling_factor, schedule="parallel", input_vector_type="received_vector",
            )
        return self._decoder

    def decode(self, llr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Soft-input belief propagation.

        Input: ``llr`` float ``[B, n]`` or ``[n]`` channel LLRs (``log P(0)/P(1)``; 0 = erased).
        Output: ``(info_bits uint8 [B, k], ok bool [B])``; ``ok`` is False when BP ended without
        satisfying every parity check (the info bits are then the best guess and must not be trusted).
        """
        L = np.asarray(llr, dtype=np.float64)
        single = L.ndim == 1
        L2 = np.atleast_2d(L)
        if L2.ndim != 2 or L2.shape[1] != self.n:
            raise ValueError(f"{self!r}.decode: llr shape {L.shape}: expected [B, {self.n}] or [{self.n}]")
        if np.isnan(L2).any():
            raise ValueError(f"{self!r}.decode: llr contains NaN")
        L2 = np.clip(L2, -LLR_CLIP, LLR_CLIP)
        hard = (L2 < 0).astype(np.uint8)
        probs = 1.0 / (1.0 + np.exp(np.abs(L2)))
        dec = self._bp()
        out = np.empty((L2.shape[0], self.k), np.uint8)
        ok = np.empty(L2.shape[0], bool)
        for i in range(L2.shape[0]):
            dec.update_channel_probs(probs[i])
            cw = dec.decode(hard[i])
            ok[i] = bool(dec.converge)
            out[i] = cw[: self.k]
        return (out[0], ok[0]) if single else (out, ok)


@functools.lru_cache(maxsize=None)
def get_code(n: int, rate: str) -> LdpcCode:
    """A cached :class:`LdpcCode` (building H and the decoder once per process)."""
    return LdpcCode(n, rate)
