"""The digital bit pipe of the separation baselines: bits <-> LDPC + QAM symbols filling a frame exactly.

    pipe = DigitalBitPipe(channel_uses=2048)
    symbols = pipe.send(bits, mcs=4, tag=2)                       # uint8 [L] -> complex64 [2048]
    rx, nv = simulate_channel(symbols, snr_db=12, channel="rayleigh", rng=0)
    res = pipe.receive(rx, nv)                                      # res.bits, res.ok, res.reason

Frame (``channel_uses`` symbols, see :mod:`semcom_ota.baselines.mcs`):

    | 32 BPSK: in-band header | ncw LDPC codewords (Gray QAM) | leftover: cyclic repeat of coded bits |

- **In-band header**: 6 bits = MCS index (4 bits, MSB first) and a 2-bit tag (the source codec of the
  schemes), coded with the first-order Reed-Muller code RM(1,5) (32 chips, minimum distance 16) and
  decoded by soft maximum likelihood (correlation with all 64 codewords). It lets the RX learn the MCS
  without any field of the PHY header (whose 3 ``flags`` bits are too few for MCS + codec).
- **Information bits** of the codewords: ``[payload length, 32 bits | payload | CRC-32 of the payload
  bytes | zeros]``, XORed with an x^7 + x^4 + 1 scrambler sequence. The receiver reports ``ok`` only when every codeword holding payload passed its
  parity checks *and* the CRC-32 matches.
- **Leftover symbols** (fewer than one codeword) repeat the coded bits cyclically; the receiver adds
  their LLRs to the first ones (chase combining), so no channel use is wasted on filler.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from semcom_ota.baselines.ldpc import get_code
from semcom_ota.baselines.mcs import CHANNELS, HEADER_SYMBOLS, Mcs, Plan, get_mcs, plan_frame
from semcom_ota.baselines.qam import get_qam
from semcom_ota.seeding import make_rng

HEADER_BITS = 6


def _rm15_codebook() -> np.ndarray:
    """All 64 codewords of RM(1,5) as uint8 ``[64, 32]``; row ``v`` encodes the 6 bits of ``v`` (MSB first)."""
    pos = np.arange(32)
    gen = np.vstack([np.ones(32, np.uint8)] + [((pos >> (4 - i)) & 1).astype(np.uint8) for i in range(5)])  # [6, 32]
    msgs = ((np.arange(64)[:, None] >> np.arange(5, -1, -1)[None, :]) & 1).astype(np.uint8)
    return (msgs @ gen) % 2


_RM_CODEBOOK = _rm15_codebook()
_RM_SIGNS = 1.0 - 2.0 * _RM_CODEBOOK.astype(np.float64)  # +1 for bit 0 (matches LLR sign)


def encode_header(mcs_index: int, tag: int) -> np.ndarray:
    """The 32 in-band header bits (uint8) of an MCS index 0..15 and a tag 0..3."""
    if not 0 <= int(mcs_index) <= 15 or not 0 <= int(tag) <= 3:
        raise ValueError(f"in-band header: mcs_index={mcs_index} (expected 0..15), tag={tag} (expected 0..3)")
    return _RM_CODEBOOK[(int(mcs_index) << 2) | int(tag)].copy()


def decode_header(llr: np.ndarray) -> tuple[int, int]:
    """Soft ML decoding of the 32 header LLRs -> (mcs_index, tag)."""
    v = int(np.argmax(_RM_SIGNS @ np.asarray(llr, np.float64)))
    return v >> 2, v & 3


def _scrambler_sequence() -> np.ndarray:
    """The 127-bit period of the ``x^7 + x^4 + 1`` scrambler (the IEEE 802.11 polynomial, initial state 1011101), uint8."""
    state = [1, 0, 1, 1, 1, 0, 1]
    out = np.empty(127, np.uint8)
    for i in range(127):
        fb = state[3] ^ state[6]
        out[i] = fb
        state = [fb] + state[:6]
    return out


_SCRAMBLER = _scrambler_sequence()


def scramble(bits: np.ndarray) -> np.ndarray:
    """XOR with the periodic x^7 + x^4 + 1 scrambler sequence (the 802.11 polynomial) (its own inverse): an all-zero word, which
    an all-erased frame decodes to, never descrambles to a valid frame."""
    return bits ^ np.resize(_SCRAMBLER, bits.size)


def _bits_from_int(value: int, n_bits: int) -> np.ndarray:
    return ((int(value) >> np.arange(n_bits - 1, -1, -1)) & 1).astype(np.uint8)


def _int_from_bits(bits: np.ndarray) -> int:
    return int(np.dot(bits.astype(np.int64), 1 << np.arange(len(bits) - 1, -1, -1, dtype=np.int64)))


def crc32_bits(payload_bits: np.ndarray) -> np.ndarray:
    """CRC-32 (zlib) of the payload bits packed MSB first into bytes (zero-padded), as 32 bits."""
    return _bits_from_int(zlib.crc32(np.packbits(payload_bits).tobytes()) & 0xFFFFFFFF, 32)


@dataclass
class PipeResult:
    """What :meth:`DigitalBitPipe.receive` recovers.

    bits: uint8 ``[L]`` payload bits (empty when the length field was unusable); ok: the payload
    passed parity and CRC; reason: None when ok, else "header", "parity", "length" or "crc";
    mcs: the MCS read from the in-band header (None if invalid); tag: the 2-bit tag;
    codeword_ok: bool per codeword.
    """

    bits: np.ndarray
    ok: bool
    reason: str | None
    mcs: Mcs | None
    tag: int
    codeword_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


class DigitalBitPipe:
    """Bits <-> complex symbols with LDPC + QAM, filling exactly ``channel_uses`` symbols.

    Parameters
    ----------
    channel_uses: symbols per frame (the in-band header's 32 included).
    """

    def __init__(self, channel_uses: int) -> None:
        if int(channel_uses) <= HEADER_SYMBOLS:
            raise ValueError(f"DigitalBitPipe channel_uses={channel_uses}: expected > {HEADER_SYMBOLS} (the in-band header)")
        self.channel_uses = int(channel_uses)

    def plan(self, mcs: Mcs | int) -> Plan:
        """The frame plan of ``mcs``; ValueError if not one codeword fits."""
        mcs = get_mcs(mcs) if isinstance(mcs, (int, np.integer)) else mcs
        plan = plan_frame(mcs, self.channel_uses)
        if plan is None or plan.payload_bits < 0:
            need = HEADER_SYMBOLS + math.ceil(648 / mcs.bits_per_symbol)
            raise ValueError(f"channel_uses={self.channel_uses}: too small for {mcs.name}; need at least {need}")
        return plan

    def send(self, bits: np.ndarray, mcs: Mcs | int, tag: int = 0) -> np.ndarray:
        """Payload bits uint8 ``[L]`` (0/1) -> complex64 ``[channel_uses]`` symbols of average power ~1."""
        b = np.asarray(bits)
        if b.ndim != 1 or (b.size and (b.min() < 0 or b.max() > 1)):
            raise ValueError(f"DigitalBitPipe.send: bits shape {b.shape}: expected a 1-D array of 0/1")
        b = b.astype(np.uint8)
        plan = self.plan(mcs)
        if b.size > plan.payload_bits:
            raise ValueError(f"DigitalBitPipe.send: {b.size} payload bits exceed the {plan.payload_bits} that "
                             f"{plan.mcs.name} carries in channel_uses={self.channel_uses}")
        code, qam = get_code(plan.n, plan.mcs.rate), get_qam(plan.mcs.order)
        info = np.zeros(plan.n_codewords * plan.k, np.uint8)
        framed = np.concatenate([_bits_from_int(b.size, 32), b, crc32_bits(b)])
        info[: framed.size] = framed
        info = scramble(info)
        coded = code.encode(info.reshape(plan.n_codewords, plan.k)).ravel()
        spare_bits = plan.spare_symbols * plan.mcs.bits_per_symbol
        coded_all = np.concatenate([coded, np.resize(coded, spare_bits)]) if spare_bits else coded
        header = get_qam(2).modulate(encode_header(plan.mcs.index, tag))
        out = np.concatenate([header, qam.modulate(coded_all)]).astype(np.complex64)
        assert out.size == self.channel_uses, (out.size, self.channel_uses)
        return out

    def receive(self, symbols: np.ndarray, noise_var: np.ndarray | float) -> PipeResult:
        """Equalised symbols complex ``[channel_uses]`` + per-symbol noise variance (``inf`` = missing)
        -> :class:`PipeResult`."""
        y = np.asarray(symbols).ravel()
        if y.size != self.channel_uses:
            raise ValueError(f"DigitalBitPipe.receive: {y.size} symbols, expected channel_uses={self.channel_uses}")
        nv = np.broadcast_to(np.asarray(noise_var, np.float64), y.shape)
        nv = np.where(np.isnan(nv) | (nv <= 0), np.inf, nv)
        empty = np.zeros(0, np.uint8)
        if not np.isfinite(nv[:HEADER_SYMBOLS]).any():
            return PipeResult(empty, False, "header", None, 0)
        mcs_index, tag = decode_header(get_qam(2).demap_llr(y[:HEADER_SYMBOLS], nv[:HEADER_SYMBOLS]))
        if mcs_index > 9:
            return PipeResult(empty, False, "header", None, tag)
        mcs = get_mcs(mcs_index)
        plan = plan_frame(mcs, self.channel_uses)
        if plan is None or plan.payload_bits < 0:
            return PipeResult(empty, False, "header", mcs, tag)
        code, qam = get_code(plan.n, mcs.rate), get_qam(mcs.order)
        llr = qam.demap_llr(y[HEADER_SYMBOLS:], nv[HEADER_SYMBOLS:]).astype(np.float64)
        n_coded = plan.n_codewords * plan.n
        comb = llr[:n_coded].copy()
        if llr.size > n_coded:  # chase-combine the cyclic repeat
            np.add.at(comb, np.arange(llr.size - n_coded) % n_coded, llr[n_coded:])
        info, cw_ok = code.decode(comb.reshape(plan.n_codewords, plan.n))
        info = scramble(info.ravel())
        length = _int_from_bits(info[:32])
        if length > plan.payload_bits:
            return PipeResult(empty, False, "length" if cw_ok[0] else "parity", mcs, tag, cw_ok)
        used = plan.codewords_for(length)
        payload = info[32 : 32 + length].copy()
        crc_ok = np.array_equal(info[32 + length : 64 + length], crc32_bits(payload))
        if not cw_ok[:used].all():
            return PipeResult(payload, False, "parity", mcs, tag, cw_ok)
        if not crc_ok:
            return PipeResult(payload, False, "crc", mcs, tag, cw_ok)
        return PipeResult(payload, True, None, mcs, tag, cw_ok)


def simulate_channel(symbols: np.ndarray, snr_db: float, channel: str = "awgn",
                     rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Symbol-level channel with perfect CSI, returning the project's RX pair (equalised, unbiased).

    AWGN: ``z = s + e``, ``e ~ CN(0, N0)``, ``N0 = 10^(-snr_db/10)``.
    Rayleigh block fading: one ``h ~ CN(0, 1)`` for the whole frame, ``y = h s + e``, zero-forcing
    equalised ``z = y / h = s + e / h`` with ``noise_var = N0 / |h|^2``.
    Input: complex ``[n]``. Output: (complex64 ``[n]``, float32 ``[n]`` noise variance).
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel={channel!r}: expected one of {CHANNELS}")
    rng = make_rng(rng)
    s = np.asarray(symbols, np.complex128).ravel()
    n0 = 10.0 ** (-float(snr_db) / 10.0)
    e = (rng.standard_normal(s.size) + 1j * rng.standard_normal(s.size)) * math.sqrt(n0 / 2.0)
    if channel == "awgn":
        return (s + e).astype(np.complex64), np.full(s.size, n0, np.float32)
    h = (rng.standard_normal() + 1j * rng.standard_normal()) / math.sqrt(2.0)
    z = (h * s + e) / h
    return z.astype(np.complex64), np.full(s.size, n0 / abs(h) ** 2, np.float32)
