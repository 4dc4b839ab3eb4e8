"""Arithmetic coding of text driven by a next-token model (the "LLM arithmetic coding" baseline).

    coder = ModelTextCoder(model)                 # model: any NextTokenModel (Gemma, byte n-gram, ...)
    bits = coder.compress("In the beginning")    # uint8 [L] of 0/1 (no padding to bytes)
    coder.decompress(bits)                        # -> "In the beginning" (bit-exact round trip)
    fit = coder.fit("a long text ...", max_bits=400)   # longest token prefix whose code fits

The coder is the classic 32-bit integer arithmetic coder of Witten, Neal and Cleary (1987): state
``low``/``high`` are 32-bit, the output is a bit stream, underflow (the E3 case) is handled with
pending bits (the carry). A symbol is coded with its integer interval ``[cum, cum + freq)`` out of
``total`` (``total <= 2^24``, so the interval never collapses: after renormalisation
``high - low >= 2^30``). The decoder pads the stream with zeros, so the encoder drops trailing zero
bits.

Bit-exactness between the two ends rests on :func:`quantise_probs`: the model's next-token
probabilities (float32 ``[V]``) become integer frequencies summing to exactly ``total`` with a floor
of 1 per token (every token stays codable), computed in float64 from the same float32 vector at both
ends. Encoder and decoder query the model through the same incremental calls
(:meth:`NextTokenContext.append` one token at a time), so a model whose forward pass is deterministic
(CPU, same thread count) yields identical probabilities on both sides.

Termination: the model's end-of-sequence token is coded after the text. The decoder stops at it;
on a corrupted stream it stops with :class:`ArithmeticDecodeError` once it has read more than
``OVERRUN_BITS`` past the end of the stream or decoded ``max_symbols`` tokens, so it never hangs.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

PRECISION = 32
_FULL = (1 << PRECISION) - 1
_HALF = 1 << (PRECISION - 1)
_QUARTER = 1 << (PRECISION - 2)
MAX_TOTAL = 1 << 24  # frequency total; <= 2^(PRECISION-2), small enough that rounding costs < 0.02 bit/symbol
OVERRUN_BITS = 2 * PRECISION  # a valid stream needs at most PRECISION zero bits past its end


class ArithmeticDecodeError(ValueError):
    """The bit stream does not decode to a terminated token sequence (corrupted or truncated)."""


class NextTokenContext(Protocol):
    """One growing prefix of a :class:`NextTokenModel`."""

    def next_probs(self) -> np.ndarray:
        """Probabilities of the next token given the prefix: float32 ``[V]`` (non-negative, sum ~1)."""

    def append(self, token: int) -> None:
        """Extend the prefix by ``token``."""


class NextTokenModel(Protocol):
    """A causal model of token sequences that drives :class:`ModelTextCoder`.

    Attributes: ``name``; ``vocab_size`` V; ``eos_id`` (the end token, never produced by
    :meth:`tokenize`); ``total`` (frequency total for :func:`quantise_probs`, ``V < total <= 2^24``);
    ``max_symbols`` (a decoder stops after this many tokens).
    """

    name: str
    vocab_size: int
    eos_id: int
    total: int
    max_symbols: int

    def tokenize(self, text: str) -> list[int]:
        """Text -> token ids with ``detokenize(tokenize(text)) == text`` exactly."""

    def detokenize(self, ids: Sequence[int]) -> str:
        """Token ids -> text; raises ValueError when the ids are not a valid text."""

    def context(self) -> NextTokenContext:
        """A fresh, empty prefix (the model's start-of-text state)."""


def quantise_probs(p: np.ndarray, total: int) -> np.ndarray:
    """Probabilities float ``[V]`` -> cumulative integer frequencies int64 ``[V + 1]``.

    ``freq = 1 + floor(q * (total - V))`` with ``q = p / sum(p)`` in float64; the rounding remainder
    goes to the first most probable token, so ``cum[-1] == total`` exactly and every ``freq >= 1``.
    Deterministic: the same float32 ``p`` gives the same frequencies on any machine.
    """
    q = np.asarray(p, np.float32).astype(np.float64)
    v = q.size
    if q.ndim != 1 or v < 2:
        raise ValueError(f"quantise_probs: expected a 1-D probability vector of >= 2 tokens, got shape {q.shape}")
    if not v < total <= MAX_TOTAL:
        raise ValueError(f"quantise_probs: total={total}: expected vocab size {v} < total <= {MAX_TOTAL}")
    q = np.where(np.isfinite(q) & (q > 0), q, 0.0)
    s = q.sum()
    if not s > 0:
        raise ValueError("quantise_probs: the model gave no positive probability")
    f = np.floor(q * ((total - v) / s)).astype(np.int64) + 1
    f[int(np.argmax(q))] += total - int(f.sum())
    cum = np.zeros(v + 1, np.int64)
    np.cumsum(f, out=cum[1:])
    return cum


class ArithmeticEncoder:
    """32-bit integer arithmetic encoder (bit output, pending-bit carry handling)."""

    def __init__(self) -> None:
        self.low, self.high, self.pending = 0, _FULL, 0
        self.bits: list[int] = []

    def _emit(self, bit: int) -> None:
        self.bits.append(bit)
        if self.pending:
            self.bits.extend([1 - bit] * self.pending)
            self.pending = 0

    def encode(self, cum_low: int, freq: int, total: int) -> None:
        """Code the interval ``[cum_low, cum_low + freq)`` of ``[0, total)``."""
        if freq <= 0 or cum_low < 0 or cum_low + freq > total or total > MAX_TOTAL:
            raise ValueError(f"ArithmeticEncoder.encode: bad interval [{cum_low}, {cum_low + freq}) of {total}")
        rng = self.high - self.low + 1
        self.high = self.low + (rng * (cum_low + freq)) // total - 1
        self.low = self.low + (rng * cum_low) // total
        while True:
            if self.high < _HALF:
                self._emit(0)
            elif self.low >= _HALF:
                self._emit(1)
                self.low -= _HALF
                self.high -= _HALF
            elif self.low >= _QUARTER and self.high < 3 * _QUARTER:
                self.pending += 1
                self.low -= _QUARTER
                self.high -= _QUARTER
            else:
                break
            self.low = 2 * self.low
            self.high = 2 * self.high + 1

    def finish(self) -> np.ndarray:
        """Terminate; returns the stream as uint8 ``[L]`` (trailing zeros dropped: the decoder pads with zeros)."""
        self.pending += 1
        self._emit(0 if self.low < _QUARTER else 1)
        out = np.asarray(self.bits, np.uint8)
        nz = np.flatnonzero(out)
        return out[: nz[-1] + 1] if nz.size else out[:0]


class ArithmeticDecoder:
    """Inverse of :class:`ArithmeticEncoder`: reads bits (zeros past the end, at most ``OVERRUN_BITS``)."""

    def __init__(self, bits: np.ndarray) -> None:
        b = np.asarray(bits).ravel()
        if b.size and (b.min() < 0 or b.max() > 1):
            raise ValueError("ArithmeticDecoder: bits must be 0/1")
        self.bits = b.astype(np.uint8).tolist()
        self.pos = 0
        self.low, self.high, self.value = 0, _FULL, 0
        for _ in range(PRECISION):
            self.value = (self.value << 1) | self._next_bit()

    def _next_bit(self) -> int:
        p = self.pos
        self.pos += 1
        if p < len(self.bits):
            return self.bits[p]
        if p - len(self.bits) >= OVERRUN_BITS:
            raise ArithmeticDecodeError(f"bit stream exhausted: read {OVERRUN_BITS} bits past its end "
                                        f"({len(self.bits)} bits) without an end token")
        return 0

    def target(self, total: int) -> int:
        """The cumulative frequency in ``[0, total)`` that the next symbol's interval contains."""
        rng = self.high - self.low + 1
        return ((self.value - self.low + 1) * total - 1) // rng

    def consume(self, cum_low: int, freq: int, total: int) -> None:
        """Remove the decoded symbol's interval (same arithmetic as the encoder)."""
        rng = self.high - self.low + 1
        self.high = self.low + (rng * (cum_low + freq)) // total - 1
        self.low = self.low + (rng * cum_low) // total
        while True:
            if self.high < _HALF:
                pass
            elif self.low >= _HALF:
                self.low -= _HALF
                self.high -= _HALF
                self.value -= _HALF
            elif self.low >= _QUARTER and self.high < 3 * _QUARTER:
                self.low -= _QUARTER
                self.high -= _QUARTER
                self.value -= _QUARTER
            else:
                break
            self.low = 2 * self.low
            self.high = 2 * self.high + 1
            self.value = (self.value << 1) | self._next_bit()


@dataclass
class Fit:
    """:meth:`ModelTextCoder.fit` result: ``bits`` uint8 ``[L]``, ``n_tokens`` of ``tokens_total`` sent,
    ``chars_kept`` (length of the decoded prefix text), ``text`` (that prefix)."""

    bits: np.ndarray
    n_tokens: int
    tokens_total: int
    chars_kept: int
    text: str


class ModelTextCoder:
    """Lossless text <-> bits with a :class:`NextTokenModel` driving the arithmetic coder.

    ``cache`` > 0 memoises (LRU, per instance) the model pass of each token sequence and the decoded
    text of each bit stream: both are deterministic functions of their input, so repeated calls
    (the same sentence at several SNRs in an evaluation) return identical results without
    re-running the model. The first call for any input always runs the real encoder/decoder.
    """

    def __init__(self, model: NextTokenModel, cache: int = 0) -> None:
        for attr in ("vocab_size", "eos_id", "total", "max_symbols", "tokenize", "detokenize", "context"):
            if not hasattr(model, attr):
                raise TypeError(f"ModelTextCoder: {type(model).__name__} lacks NextTokenModel.{attr}")
        self.model = model
        self.cache = int(cache)
        self._iv_memo: OrderedDict = OrderedDict()
        self._dec_memo: OrderedDict = OrderedDict()

    def _memo(self, memo: OrderedDict, key, fn):
        if not self.cache:
            return fn()
        if key in memo:
            memo.move_to_end(key)
            hit = memo[key]
        else:
            try:
                hit = fn()
            except ValueError as err:  # incl. ArithmeticDecodeError: a corrupt stream stays corrupt
                hit = err
            memo[key] = hit
            if len(memo) > self.cache:
                memo.popitem(last=False)
        if isinstance(hit, Exception):
            raise hit
        return hit

    def intervals(self, tokens: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`model_pass`, memoised when ``cache`` > 0."""
        key = tuple(int(t) for t in tokens)
        return self._memo(self._iv_memo, key, lambda: self.model_pass(key))

    def model_pass(self, tokens: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """One incremental pass of the model over ``tokens``.

        Returns int64 ``[N, 2]`` (cum_low, freq) of each token and int64 ``[N + 1, 2]`` of the end
        token at each prefix length 0..N (so any prefix can be terminated without another pass).
        """
        m = self.model
        ctx = m.context()
        tok_iv = np.zeros((len(tokens), 2), np.int64)
        eos_iv = np.zeros((len(tokens) + 1, 2), np.int64)
        for i in range(len(tokens) + 1):
            cum = quantise_probs(ctx.next_probs(), m.total)
            eos_iv[i] = cum[m.eos_id], cum[m.eos_id + 1] - cum[m.eos_id]
            if i == len(tokens):
                break
            t = int(tokens[i])
            if not 0 <= t < m.vocab_size or t == m.eos_id:
                raise ValueError(f"token {t} at position {i}: expected 0..{m.vocab_size - 1}, not the end token")
            tok_iv[i] = cum[t], cum[t + 1] - cum[t]
            ctx.append(t)
        return tok_iv, eos_iv

    def _code(self, tok_iv: np.ndarray, eos: np.ndarray) -> np.ndarray:
        enc = ArithmeticEncoder()
        total = self.model.total
        for lo, f in tok_iv.tolist():
            enc.encode(lo, f, total)
        enc.encode(int(eos[0]), int(eos[1]), total)
        return enc.finish()

    def tokenize(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, got {type(text).__name__}")
        ids = list(self.model.tokenize(text))
        if len(ids) >= self.model.max_symbols:
            raise ValueError(f"text of {len(ids)} tokens: the {self.model.name} coder codes at most "
                             f"{self.model.max_symbols - 1} (max_symbols)")
        return ids

    def compress(self, text: str) -> np.ndarray:
        """Text -> uint8 ``[L]`` bits."""
        tokens = self.tokenize(text)
        tok_iv, eos_iv = self.intervals(tokens)
        return self._code(tok_iv, eos_iv[-1])

    def fit(self, text: str, max_bits: int) -> Fit:
        """The longest token prefix of ``text`` whose coded stream has at most ``max_bits`` bits
        (one model pass; the empty prefix codes the end token alone and may still not fit: then
        ``bits`` is empty and ``n_tokens`` is 0)."""
        if int(max_bits) < 0:
            raise ValueError(f"max_bits={max_bits}: expected >= 0")
        tokens = self.tokenize(text)
        tok_iv, eos_iv = self.intervals(tokens)
        # ideal code length of each prefix, then exact coding from the longest candidate down
        cost = np.concatenate([[0.0], np.cumsum(-np.log2(tok_iv[:, 1] / self.model.total))])
        cost += -np.log2(eos_iv[:, 1] / self.model.total)
        # cost is not monotonic in k (the end token's cost varies): try every plausible k, longest first;
        # the coded stream is within a few bits of the ideal length
        for k in np.flatnonzero(cost <= max_bits + 4)[::-1].tolist():
            bits = self._code(tok_iv[:k], eos_iv[k])
            if bits.size <= max_bits:
                try:  # a prefix that splits a character (UTF-8 bytes) is not a text: shorter then
                    kept = text if k == len(tokens) else self.model.detokenize(tokens[:k])
                except ValueError:
                    continue
                return Fit(bits, k, len(tokens), len(kept), kept)
        return Fit(np.zeros(0, np.uint8), 0, len(tokens), 0, "")

    def decode_tokens(self, bits: np.ndarray) -> list[int]:
        """Bits -> token ids (end token excluded); :class:`ArithmeticDecodeError` if none is reached."""
        m = self.model
        dec = ArithmeticDecoder(bits)
        ctx = m.context()
        out: list[int] = []
        for _ in range(m.max_symbols):
            cum = quantise_probs(ctx.next_probs(), m.total)
            t = int(np.searchsorted(cum, dec.target(m.total), side="right")) - 1
            dec.consume(int(cum[t]), int(cum[t + 1] - cum[t]), m.total)
            if t == m.eos_id:
                return out
            out.append(t)
            ctx.append(t)
        raise ArithmeticDecodeError(f"no end token within max_symbols={m.max_symbols} tokens")

    def decompress(self, bits: np.ndarray) -> str:
        """Inverse of :meth:`compress`; raises ValueError (:class:`ArithmeticDecodeError`) on a corrupt stream."""
        b = np.asarray(bits, np.uint8).ravel()
        key = (b.size, np.packbits(b).tobytes())
        return self._memo(self._dec_memo, key, lambda: self.model.detokenize(self.decode_tokens(b)))

    def ideal_bits(self, text: str) -> float:
        """``-log2`` of the quantised probability of ``text`` + end token (the coder is within ~2 bits)."""
        tok_iv, eos_iv = self.intervals(self.tokenize(text))
        return float(-np.log2(tok_iv[:, 1] / self.model.total).sum() - math.log2(eos_iv[-1, 1] / self.model.total))
