"""The integer arithmetic coder and the model-driven text coder (byte n-gram model, no LLM needed)."""

import time

import numpy as np
import pytest

from semcom_ota.baselines.arith import (
    MAX_TOTAL, ArithmeticDecodeError, ArithmeticDecoder, ArithmeticEncoder, ModelTextCoder, quantise_probs,
)
from semcom_ota.semantic.llm.ngram import EOS, ByteNgramModel

TRAIN = [
    "In the beginning, God created the heavens and the earth.",
    "The earth was formless and empty. Darkness was on the surface of the deep.",
    "God said, \"Let there be light,\" and there was light.",
    "God saw the light, and saw that it was good.",
    "God divided the light from the darkness.",
    "God called the light \"day\", and the darkness he called \"night\".",
    "There was evening and there was morning, the first day.",
] * 3

SENTENCES = [
    "", "a", "God saw that it was good.", "The LORD is my shepherd; I shall lack nothing.",
    "héllo wörld — naïve café, 日本語のテキスト ✓ 🚀", "tabs\tand\nnewlines  and   spaces ",
    "\x00 control \x7f bytes", "Z" * 300, " ".join(TRAIN[:7]),  # long: ~440 bytes
]


@pytest.fixture(scope="module")
def coder():
    return ModelTextCoder(ByteNgramModel.train(TRAIN, order=5))


def test_quantise_probs_sums_exactly_floor_one_deterministic(rng):
    p = rng.dirichlet(np.full(1000, 0.05)).astype(np.float32)
    p[:10] = 0.0  # zero-probability tokens still get frequency 1
    cum = quantise_probs(p, 1 << 16)
    f = np.diff(cum)
    assert cum[0] == 0 and cum[-1] == 1 << 16 and f.min() >= 1 and f.size == 1000
    assert np.array_equal(cum, quantise_probs(p.copy(), 1 << 16))
    assert f.argmax() == p.argmax()
    with pytest.raises(ValueError, match="total"):
        quantise_probs(p, 999)
    with pytest.raises(ValueError, match="total"):
        quantise_probs(p, MAX_TOTAL * 2)
    with pytest.raises(ValueError, match="no positive"):
        quantise_probs(np.zeros(8, np.float32), 64)


def test_raw_coder_round_trip_and_near_ideal_length(rng):
    """Random symbols from a skewed static distribution: exact decode, length within 2 bits + 0.1 % of ideal."""
    total = 1 << 20
    p = rng.dirichlet(np.full(50, 0.3))
    cum = quantise_probs(p.astype(np.float32), total)
    sym = rng.choice(50, 5000, p=p)
    enc = ArithmeticEncoder()
    for s in sym:
        enc.encode(int(cum[s]), int(cum[s + 1] - cum[s]), total)
    bits = enc.finish()
    ideal = -np.log2(np.diff(cum)[sym] / total).sum()
    assert ideal - 1 <= bits.size <= ideal * 1.001 + 2
    dec = ArithmeticDecoder(bits)
    out = []
    for _ in sym:
        s = int(np.searchsorted(cum, dec.target(total), side="right")) - 1
        dec.consume(int(cum[s]), int(cum[s + 1] - cum[s]), total)
        out.append(s)
    assert np.array_equal(out, sym)
    with pytest.raises(ValueError, match="bad interval"):
        enc.encode(5, 0, total)


@pytest.mark.parametrize("text", SENTENCES)
def test_text_round_trip_bit_exact(coder, text):
    bits = coder.compress(text)
    assert bits.dtype == np.uint8 and set(np.unique(bits)) <= {0, 1}
    assert coder.decompress(bits) == text
    assert bits.size <= coder.ideal_bits(text) + 2.5  # the coder is within ~2 bits of -log2 P


def test_in_domain_text_codes_short(coder):
    """A training sentence costs far fewer bits than its UTF-8 (8 bits/char)."""
    t = TRAIN[3]
    assert coder.compress(t).size < 1.5 * len(t)


def test_fit_gives_decodable_prefix(coder):
    text = " ".join(TRAIN[:7])
    full = coder.compress(text).size
    for max_bits in (0, 1, 20, 100, full // 2, full - 1, full, full + 50):
        fit = coder.fit(text, max_bits)
        assert fit.bits.size <= max_bits
        assert text.startswith(fit.text) and fit.chars_kept == len(fit.text)
        if fit.bits.size:
            assert coder.decompress(fit.bits) == fit.text
    assert coder.fit(text, full).text == text and coder.fit(text, full - 1).text != text


def test_corrupted_streams_fail_cleanly_never_hang(coder, rng):
    """Flipped, truncated and random streams: a ValueError or some (wrong) text, each decode fast."""
    text = TRAIN[0]
    bits = coder.compress(text)
    outcomes = {"error": 0, "wrong": 0, "same": 0}
    t0 = time.time()
    cases = [np.where(np.arange(bits.size) == i, 1 - bits, bits) for i in range(0, bits.size, 3)]
    cases += [bits[: bits.size // 2], np.ones(200, np.uint8)]
    cases += [rng.integers(0, 2, int(n)).astype(np.uint8) for n in rng.integers(0, 400, 30)]
    for b in cases:
        try:
            out = coder.decompress(b)
            outcomes["same" if out == text else "wrong"] += 1
        except ValueError:
            outcomes["error"] += 1
    assert time.time() - t0 < 60
    assert outcomes["error"] + outcomes["wrong"] >= len(cases) - 2  # a flip in the final padding bits may not matter
    with pytest.raises(ArithmeticDecodeError, match="exhausted"):  # zeros decode to byte 0 forever
        coder.decode_tokens(np.zeros(10, np.uint8))
    with pytest.raises(ValueError, match="0/1"):
        coder.decompress(np.array([0, 2, 1]))


def test_max_symbols_bounds_input_and_decoder():
    m = ByteNgramModel.train(TRAIN, order=3)
    m.max_symbols = 20
    c = ModelTextCoder(m)
    with pytest.raises(ValueError, match="max_symbols"):
        c.compress("x" * 25)
    a = ByteNgramModel.train(["a" * 40], order=3)
    bits = ModelTextCoder(a).compress("a" * 30)  # each likely "a" costs a fraction of a bit
    assert bits.size < 30
    a.max_symbols = 10
    with pytest.raises(ArithmeticDecodeError, match="max_symbols"):
        ModelTextCoder(a).decode_tokens(bits)


def test_memo_cache_returns_identical_results(coder):
    c = ModelTextCoder(coder.model, cache=16)
    b1 = c.compress(TRAIN[1])
    assert np.array_equal(b1, c.compress(TRAIN[1])) and np.array_equal(b1, coder.compress(TRAIN[1]))
    assert c.decompress(b1) == c.decompress(b1) == TRAIN[1]
    bad = np.zeros(10, np.uint8)
    e1 = pytest.raises(ValueError, c.decompress, bad)
    e2 = pytest.raises(ValueError, c.decompress, bad)
    assert str(e1.value) == str(e2.value)


def test_ngram_probabilities_are_a_distribution():
    m = ByteNgramModel.train(TRAIN, order=4)
    ctx = m.context()
    for t in m.tokenize("God saw"):
        p = ctx.next_probs()
        assert p.shape == (257,) and p.dtype == np.float32 and p.min() > 0 and abs(p.sum() - 1) < 1e-5
        ctx.append(t)
    assert ctx.next_probs()[ord(" ")] > 0.5  # "God saw" -> " the light"
    with pytest.raises(ValueError, match="order"):
        ByteNgramModel.train(TRAIN, order=8)
    with pytest.raises(ValueError, match="UTF-8"):
        m.detokenize([0xC3])
    assert m.eos_id == EOS
