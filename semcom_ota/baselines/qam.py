"""Gray-mapped BPSK, QPSK and square 16/64/256-QAM at unit average power, with max-log LLR demapping.

    mod = Qam(16)
    syms = mod.modulate(bits)                              # uint8 [n * 4] -> complex64 [n]
    llr = mod.demap_llr(rx, noise_var)                     # complex [n], float [n] -> float32 [n * 4]

Mapping (IEEE 802.11 style): of the ``m = log2(M)`` bits of a symbol, the first ``m/2`` pick the
in-phase level and the last ``m/2`` the quadrature level, each a binary-reflected Gray code over the
PAM levels ``-(L-1), ..., L-1`` (``L = sqrt(M)``); BPSK maps bit 0 -> -1, bit 1 -> +1 on the real axis.
LLR convention: ``log P(b=0 | y) / P(b=1 | y)`` (positive means 0).

The receiver model is the project's (docs/architecture.md): ``y = s + e``, ``e ~ CN(0, noise_var)``
per symbol, so each real dimension carries noise of variance ``noise_var / 2`` and the max-log LLR of a
bit on the I rail is ``(min_{a: b=1} (Re y - a)^2 - min_{a: b=0} (Re y - a)^2) / noise_var``.
Symbols with ``noise_var = inf`` (not received) give LLR 0 (erasure).
"""

from __future__ import annotations

import functools

import numpy as np

#: modulation order -> name
MODULATIONS = {2: "BPSK", 4: "QPSK", 16: "16QAM", 64: "64QAM", 256: "256QAM"}


def _gray_pam(bits_per_rail: int) -> tuple[np.ndarray, np.ndarray]:
    """PAM levels (unnormalised, increasing) and the Gray label bits of each level: ``[L]``, ``[L, b]``."""
    L = 1 << bits_per_rail
    idx = np.arange(L)
    gray = idx ^ (idx >> 1)
    levels = (2 * idx - (L - 1)).astype(np.float64)
    labels = ((gray[:, None] >> np.arange(bits_per_rail - 1, -1, -1)[None, :]) & 1).astype(np.uint8)
    return levels, labels


class Qam:
    """A Gray-mapped constellation of order ``M`` in {2, 4, 16, 64, 256} at unit average power.

    Attributes
    ----------
    order: M; bits_per_symbol: m = log2 M; name: e.g. "16QAM".
    points: complex128 ``[M]``; point ``i`` carries the bits of ``i`` written MSB first.
    """

    def __init__(self, order: int) -> None:
        if int(order) not in MODULATIONS:
            raise ValueError(f"Qam(order={order}): expected one of {sorted(MODULATIONS)}")
        self.order = int(order)
        self.name = MODULATIONS[self.order]
        self.bits_per_symbol = int(np.log2(self.order))
        if self.order == 2:
            self._rail_bits = 1
            self._levels, self._labels = np.array([-1.0, 1.0]), np.array([[0], [1]], np.uint8)
            self._scale = 1.0
        else:
            self._rail_bits = self.bits_per_symbol // 2
            self._levels, self._labels = _gray_pam(self._rail_bits)
            self._scale = 1.0 / np.sqrt(2.0 * (self.order - 1) / 3.0)  # E|s|^2 of square QAM = 2(M-1)/3
        # per rail: level index for each label value (label bits read MSB first)
        lab_val = (self._labels.astype(np.int64) << np.arange(self._rail_bits - 1, -1, -1)).sum(axis=1)
        self._level_of_label = np.empty(len(lab_val), np.float64)
        self._level_of_label[lab_val] = self._levels * self._scale
        allbits = ((np.arange(self.order)[:, None] >> np.arange(self.bits_per_symbol - 1, -1, -1)) & 1).astype(np.uint8)
        self.points = self.modulate(allbits.ravel()).astype(np.complex128)

    def __repr__(self) -> str:
        return f"Qam({self.order})"

    def _rail_value(self, bits: np.ndarray) -> np.ndarray:
        """bits ``[n, b]`` -> label values ``[n]``."""
        return (bits.astype(np.int64) << np.arange(bits.shape[1] - 1, -1, -1)).sum(axis=1)

    def modulate(self, bits: np.ndarray) -> np.ndarray:
        """uint8/bool ``[n * m]`` of 0/1 -> complex64 ``[n]`` unit-average-power symbols."""
        b = np.asarray(bits).ravel()
        m = self.bits_per_symbol
        if b.size % m:
            raise ValueError(f"{self!r}.modulate: {b.size} bits is not a multiple of {m} bits per symbol")
        if b.size and (b.min() < 0 or b.max() > 1):
            raise ValueError(f"{self!r}.modulate: bits must be 0/1, got values in [{b.min()}, {b.max()}]")
        b = b.reshape(-1, m)
        if self.order == 2:
            return (2.0 * b[:, 0] - 1.0).astype(np.complex64)
        rb = self._rail_bits
        i = self._level_of_label[self._rail_value(b[:, :rb])]
        q = self._level_of_label[self._rail_value(b[:, rb:])]
        return (i + 1j * q).astype(np.complex64)

    def _rail_llr(self, y: np.ndarray, nv: np.ndarray) -> np.ndarray:
        """Max-log LLRs of the bits of one rail: ``y`` float ``[n]``, ``nv`` ``[n]`` -> ``[n, rail_bits]``."""
        lv = self._levels * self._scale  # [L]
        d2 = (y[:, None] - lv[None, :]) ** 2  # [n, L]
        out = np.empty((y.size, self._rail_bits), np.float64)
        for j in range(self._rail_bits):
            one = self._labels[:, j].astype(bool)
            out[:, j] = d2[:, one].min(axis=1) - d2[:, ~one].min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            llr = out / nv[:, None]
        llr[~np.isfinite(nv)] = 0.0
        return llr

    def demap_llr(self, symbols: np.ndarray, noise_var: np.ndarray | float) -> np.ndarray:
        """Max-log LLRs of every bit.

        Input: ``symbols`` complex ``[n]`` (equalised, unbiased: ``s + e``, ``e ~ CN(0, noise_var)``);
        ``noise_var`` float ``[n]`` or scalar (> 0; ``inf`` = not received).
        Output: float32 ``[n * m]`` in the bit order of :meth:`modulate`.
        """
        y = np.asarray(symbols).ravel()
        nv = np.broadcast_to(np.asarray(noise_var, np.float64), y.shape).astype(np.float64)
        if np.any(~(nv > 0)):
            raise ValueError(f"{self!r}.demap_llr: noise_var must be > 0 (inf for missing symbols), got min {nv.min()}")
        if self.order == 2:
            with np.errstate(invalid="ignore", divide="ignore"):
                llr = -4.0 * y.real / nv  # exact for BPSK: ((y+1)^2 - (y-1)^2) / nv
            llr[~np.isfinite(nv)] = 0.0
            return llr.astype(np.float32)
        li = self._rail_llr(y.real.astype(np.float64), nv)
        lq = self._rail_llr(y.imag.astype(np.float64), nv)
        return np.concatenate([li, lq], axis=1).ravel().astype(np.float32)


@functools.lru_cache(maxsize=None)
def get_qam(order: int) -> Qam:
    """A cached :class:`Qam`."""
    return Qam(order)
