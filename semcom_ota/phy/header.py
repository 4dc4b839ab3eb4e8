"""PHY header: 40 bits (version, seq, payload length, codec id, SNR index, tiers, flags) + CRC-16,
rate-1/2 convolutional code (K=7, generators 133/171 octal) with a soft-decision Viterbi decoder.

Bit layout (MSB first): version 2 | seq 8 | payload length (symbols) 14 | codec_id 4 |
SNR index 5 | n_tiers 4 | flags 3. The SNR the encoder assumed is sent as
``idx = round((snr_db - SNR_MIN_DB) / SNR_STEP_DB)`` clipped to 0..31, i.e. -10 dB .. 36.5 dB in
1.5 dB steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from semcom_ota.frames import FrameMeta

HEADER_VERSION = 1
SNR_MIN_DB = -10.0
SNR_STEP_DB = 1.5
_FIELDS = (("version", 2), ("seq", 8), ("length", 14), ("codec_id", 4), ("snr_idx", 5), ("n_tiers", 4), ("flags", 3))
HEADER_BITS = sum(w for _, w in _FIELDS)  # 40
G0, G1 = 0o133, 0o171
K = 7
N_STATES = 1 << (K - 1)


@dataclass
class HeaderFields:
    """Decoded header: ``length`` is the payload length in (complex) symbols."""

    version: int
    seq: int
    length: int
    codec_id: int
    snr_idx: int
    n_tiers: int
    flags: int

    def meta(self) -> FrameMeta:
        return FrameMeta(
            codec_id=self.codec_id,
            seq=self.seq,
            snr_db=snr_from_index(self.snr_idx),
            n_tiers=max(self.n_tiers, 1),
            flags=self.flags,
        )


def snr_to_index(snr_db: float) -> int:
    """Quantise an SNR (dB) to the 5-bit header index."""
    if not np.isfinite(snr_db):
        return 0
    return int(np.clip(round((float(snr_db) - SNR_MIN_DB) / SNR_STEP_DB), 0, 31))


def snr_from_index(idx: int) -> float:
    return SNR_MIN_DB + SNR_STEP_DB * int(idx)


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        reg = byte << 8
        for _ in range(8):
            reg = ((reg << 1) ^ 0x1021) if reg & 0x8000 else (reg << 1)
        table.append(reg & 0xFFFF)
    return table


_CRC_TABLE = _crc16_table()
_BIT_WEIGHTS = 1 << np.arange(15, -1, -1)


def crc16(bits: np.ndarray) -> np.ndarray:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of a bit array ``[n]`` (uint8 0/1, n a
    multiple of 8, MSB first) -> ``[16]`` (table driven, one step per byte)."""
    bits = np.asarray(bits, np.uint8)
    if bits.size % 8:
        raise ValueError(f"crc16: expected a whole number of bytes, got {bits.size} bits")
    reg = 0xFFFF
    for byte in np.packbits(bits).tolist():
        reg = ((reg << 8) & 0xFFFF) ^ _CRC_TABLE[((reg >> 8) ^ byte) & 0xFF]
    return ((reg & _BIT_WEIGHTS) != 0).astype(np.uint8)


def pack_header(meta: FrameMeta, length: int) -> np.ndarray:
    """Header information bits + CRC: uint8 ``[56]``."""
    vals = {
        "version": HEADER_VERSION,
        "seq": int(meta.seq) & 0xFF,
        "length": int(length),
        "codec_id": int(meta.codec_id),
        "snr_idx": snr_to_index(meta.snr_db),
        "n_tiers": int(meta.n_tiers),
        "flags": int(meta.flags),
    }
    word = 0
    for name, width in _FIELDS:
        v = vals[name]
        if not 0 <= v < (1 << width):
            raise ValueError(f"header field {name}={v}: expected 0..{(1 << width) - 1}")
        word = (word << width) | v
    info = ((word >> np.arange(HEADER_BITS - 1, -1, -1)) & 1).astype(np.uint8)
    return np.concatenate([info, crc16(info)])


def _crc_check_matrix() -> tuple[np.ndarray, np.ndarray]:
    """CRC-16 is affine over GF(2): ``crc16(info) = info·A + crc16(0)``. Returns float64 ``[56, 17]``
    (columns 0..15: ``[A; I]``, so ``bits·M + crc16(0)`` is 0 mod 2 exactly when the CRC holds;
    column 16: the info word's bit weights ``2^39 .. 2^0``, exact in float64) and ``crc16(0)``."""
    zero = crc16(np.zeros(HEADER_BITS, np.uint8)).astype(np.int64)
    m = np.zeros((HEADER_BITS + 16, 17))
    for i in range(HEADER_BITS):
        e = np.zeros(HEADER_BITS, np.uint8)
        e[i] = 1
        m[i, :16] = crc16(e) ^ zero
        m[i, 16] = float(1 << (HEADER_BITS - 1 - i))
    m[HEADER_BITS:, :16] = np.eye(16)
    return m, zero.astype(np.float64)


_CRC_MATRIX, _CRC_ZERO = _crc_check_matrix()


def unpack_header(bits: np.ndarray) -> HeaderFields | None:
    """Check the CRC of decoded bits ``[56]``; return the fields, or ``None`` if the CRC fails.

    The check is one GF(2) matrix product (same result as comparing :func:`crc16` of the 40
    information bits with the last 16 bits)."""
    bits = np.asarray(bits).reshape(-1)
    if bits.size != HEADER_BITS + 16:
        raise ValueError(f"bits: expected {HEADER_BITS + 16} header bits, got {bits.size}")
    v = bits.astype(np.float64) @ _CRC_MATRIX
    if np.fmod(v[:16] + _CRC_ZERO, 2.0).any():  # exact small integers
        return None
    return fields_from_word(int(v[16]))


def fields_from_word(word: int) -> HeaderFields:
    """Split the 40-bit information word (first bit most significant) into the header fields."""
    vals = {}
    shift = HEADER_BITS
    for name, width in _FIELDS:
        shift -= width
        vals[name] = (word >> shift) & ((1 << width) - 1)
    return HeaderFields(**vals)


_FIELD_SHIFTS = {}
_shift = HEADER_BITS
for _name, _width in _FIELDS:
    _shift -= _width
    _FIELD_SHIFTS[_name] = (_shift, (1 << _width) - 1)
_CODEC_SH, _CODEC_M = _FIELD_SHIFTS["codec_id"]
_SEQ_SH, _SEQ_M = _FIELD_SHIFTS["seq"]
_SNR_SH, _SNR_M = _FIELD_SHIFTS["snr_idx"]
_TIERS_SH, _TIERS_M = _FIELD_SHIFTS["n_tiers"]
_FLAGS_SH, _FLAGS_M = _FIELD_SHIFTS["flags"]


def meta_from_word(word: int) -> FrameMeta:
    """``fields_from_word(word).meta()`` without the intermediate fields (the receiver's per-frame path)."""
    word = int(word)
    return FrameMeta(
        codec_id=(word >> _CODEC_SH) & _CODEC_M,
        seq=(word >> _SEQ_SH) & _SEQ_M,
        snr_db=SNR_MIN_DB + SNR_STEP_DB * ((word >> _SNR_SH) & _SNR_M),
        n_tiers=max((word >> _TIERS_SH) & _TIERS_M, 1),
        flags=(word >> _FLAGS_SH) & _FLAGS_M,
    )


def header_decode_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables of the compiled header decoder (:func:`~semcom_ota.phy.kernels.header_decode_kernel`):
    :func:`_hard_decode_matrix` for the header's codeword length, the CRC check matrix and
    ``crc16(0)`` (see :func:`unpack_header`)."""
    t = (HEADER_BITS + 16 + K - 1)
    return _hard_decode_matrix(t), _CRC_MATRIX, _CRC_ZERO


def _taps(g: int) -> np.ndarray:
    return np.array([(g >> (K - 1 - i)) & 1 for i in range(K)], np.uint8)


_T0, _T1 = _taps(G0), _taps(G1)


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Rate-1/2 K=7 convolutional code: appends a 6-bit zero tail; uint8 ``[n]`` -> ``[2(n+6)]``
    (outputs interleaved c0, c1 per input bit)."""
    u = np.concatenate([np.asarray(bits, np.uint8), np.zeros(K - 1, np.uint8)]).astype(np.int64)
    c0 = np.convolve(u, _T0)[: u.size] % 2
    c1 = np.convolve(u, _T1)[: u.size] % 2
    return np.stack([c0, c1], axis=1).reshape(-1).astype(np.uint8)


def _trellis() -> tuple[np.ndarray, np.ndarray]:
    # state s = (u[t-1], ..., u[t-6]) as bits 0..5; next state s' = ((s << 1) | u) & 63
    # predecessors of s': p0 = s' >> 1 and p1 = (s' >> 1) | 32, input bit u = s' & 1
    nxt = np.arange(N_STATES)
    u = nxt & 1
    signs = np.zeros((2, N_STATES, 2))
    for which in range(2):
        prev = (nxt >> 1) | (which << (K - 2))
        reg = np.stack([u] + [(prev >> i) & 1 for i in range(K - 1)], axis=1)  # u[t], u[t-1], ..
        c0 = (reg @ _T0) % 2
        c1 = (reg @ _T1) % 2
        signs[which, :, 0] = 1 - 2 * c0
        signs[which, :, 1] = 1 - 2 * c1
    return signs, nxt


_SIGNS, _NEXT = _trellis()


def trellis_signs() -> np.ndarray:
    """float64 ``[2, 64, 2]``: the code bits (as ±1) on the branch into state ``s`` from its
    predecessor ``which`` (0: ``s >> 1``, 1: ``(s >> 1) | 32``), for the compiled Viterbi decoder
    (:func:`semcom_ota.phy.kernels.viterbi_kernel`); shared, do not modify."""
    return _SIGNS


@lru_cache(maxsize=8)
def _g0_inverse(n: int) -> np.ndarray:
    """First ``n`` coefficients of ``1 / g0(D)`` over GF(2) (``g0`` has a constant term 1)."""
    h = np.zeros(n, np.int64)
    for t in range(n):
        v = 1 if t == 0 else 0
        for i in range(1, min(K, t + 1)):
            v ^= int(_T0[i]) & int(h[t - i])
        h[t] = v
    return h


@lru_cache(maxsize=8)
def _hard_decode_matrix(t: int) -> np.ndarray:
    """uint8 ``[2t, 2t + t]`` for codewords of ``t`` trellis steps (``t - 6`` information bits).

    For hard decisions ``c`` (``[2t]``, 0/1), ``c · M`` (mod 2) is: the re-encoding of ``u = c0 / g0``
    XOR ``c`` (``2t`` columns, all 0 exactly when ``c`` is a codeword, since ``u`` is the only input
    whose first output stream is ``c0``), the tail bits ``u[t-6:]`` (6, all 0 for a terminated
    codeword) and the information bits ``u[:t-6]``. Entries 0/1; the product over GF(2) is the
    XOR of the rows where ``c = 1`` (no BLAS call, whose threading costs more than the work)."""
    h = _g0_inverse(t)
    inv = np.zeros((t, t), np.int64)  # u = c0 @ inv (mod 2): inv[i, j] = h[j - i]
    for i in range(t):
        inv[i, i:] = h[: t - i]
    n = t - (K - 1)
    enc = np.stack([conv_encode(np.eye(n, dtype=np.uint8)[i]) for i in range(n)]).astype(np.int64)  # [n, 2t]
    m = np.zeros((2 * t, 3 * t), np.int64)
    m[0::2] = np.concatenate([(inv[:, :n] @ enc) % 2, inv[:, n:], inv[:, :n]], axis=1)  # from c0
    m[np.arange(2 * t), np.arange(2 * t)] ^= 1  # XOR with c itself
    m = m.astype(np.uint8)
    m.setflags(write=False)
    return m


def hard_decode(llr: np.ndarray) -> np.ndarray | None:
    """Fast path: if the hard decisions of ``llr`` form a codeword of :func:`conv_encode` (no
    channel errors, the common case at usable SNR), return its information bits, else ``None``.

    The first output stream is ``u * g0`` over GF(2) and ``g0`` has a constant term, so ``u`` is
    ``c0 * (1/g0)`` (a power series); the codeword is then re-encoded and compared with all hard
    decisions. All of it is linear over GF(2): one matrix product (:func:`_hard_decode_matrix`)."""
    llr = np.asarray(llr).reshape(-1)
    t = llr.size // 2
    if llr.size % 2 or t <= K - 1:
        raise ValueError(f"llr: expected 2·(n+6) values with n ≥ 1, got {llr.size}")
    v = np.bitwise_xor.reduce(_hard_decode_matrix(t)[llr < 0], axis=0)
    if v[: 2 * t + K - 1].any():
        return None
    return v[2 * t + K - 1 :]


def viterbi_decode(llr: np.ndarray) -> np.ndarray:
    """Soft Viterbi decoder for :func:`conv_encode`, terminated in state 0.

    Parameters
    ----------
    llr: float ``[2(n+6)]``, log-likelihood ratios ``log P(c=0)/P(c=1)`` (positive means 0).

    Returns
    -------
    uint8 ``[n]`` decoded information bits. The add-compare-select runs over all 64 states at once.
    """
    llr = np.asarray(llr, np.float64).reshape(-1, 2)
    T = llr.shape[0]
    bm = llr @ _SIGNS.reshape(-1, 2).T  # [T, 2*64] branch metrics for both predecessors
    bm = bm.reshape(T, 2, N_STATES)
    p0 = _NEXT >> 1
    p1 = p0 | (1 << (K - 2))
    pm = np.full(N_STATES, -1e30)
    pm[0] = 0.0
    dec = np.empty((T, N_STATES), bool)
    for t in range(T):
        c0 = pm[p0] + bm[t, 0]
        c1 = pm[p1] + bm[t, 1]
        d = c1 > c0
        dec[t] = d
        pm = np.where(d, c1, c0)
    bits = np.empty(T, np.uint8)
    s = 0
    for t in range(T - 1, -1, -1):
        bits[t] = s & 1
        s = (s >> 1) | (int(dec[t, s]) << (K - 2))
    return bits[: T - (K - 1)]
