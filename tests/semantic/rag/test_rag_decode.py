"""Retrieval-augmented decoding: in-base content is corrected at low SNR; out-of-base is not harmed much."""

from pathlib import Path

import numpy as np
import pytest
import torch

from semcom_ota.channel.twin import ChannelTwin
from semcom_ota.eval.text_metrics import similarity
from semcom_ota.semantic.rag.decoder import RagConfig, RagDecoder, read_rag_config
from semcom_ota.semantic.rag.kb import KnowledgeBase

MODELS = Path(__file__).resolve().parents[3] / "models"


@pytest.fixture(scope="module")
def codec(lam):
    from semcom_ota.semantic.text.codec import TextSemanticCodec

    return TextSemanticCodec(MODELS / "text_semantic.yaml")


def decode(codec, texts, snr_db, seed=0):
    x = codec.encode_batch(texts, codec.n_symbols, snr_db)
    zh, nv = ChannelTwin("awgn")(torch.from_numpy(x), snr_db, generator=torch.Generator().manual_seed(seed))
    logp = codec.decode_logprobs(zh.numpy(), nv.numpy(), np.ones(x.shape, bool), snr_db)
    return codec.texts_from_logprobs(logp), logp


def test_rag_improves_in_base_content_at_low_snr(codec, lam):
    from semcom_ota.eval.text import sample_sentences

    inside = sample_sentences("web", "test", 24, 3)
    outside = sample_sentences("fortunes", "test", 24, 3)
    distract = sample_sentences("web", "train", 300, 3)
    kb = KnowledgeBase.create(lam.sentence_embeddings)
    kb.add(distract + inside)
    cfg = read_rag_config(MODELS / "text_rag.yaml")
    rag = RagDecoder(codec, {"local": kb}, cfg)
    texts = inside + outside
    hyp, logp = decode(codec, texts, 0.0)
    out = [c.text for c in rag.correct(hyp, logp)]
    s0, s1 = similarity(hyp, texts), similarity(out, texts)
    assert s1[:24].mean() > s0[:24].mean() + 0.05, (s0[:24].mean(), s1[:24].mean())
    assert s1[24:].mean() > s0[24:].mean() - 0.05  # content outside the base is left (mostly) alone


def test_choose_respects_thresholds():
    ev = [("local", "a candidate", 0.9, -0.5), ("global", "another", 0.95, -3.0)]
    assert RagDecoder.choose("t0", ev, 0.85, 1.0).text == "a candidate"  # best log-likelihood first
    assert RagDecoder.choose("t0", ev, 0.95, 1.0).text == "t0"  # below the similarity threshold
    assert RagDecoder.choose("t0", ev, 0.85, 0.25).text == "t0"  # too unlikely given what was received
    assert RagDecoder.choose("t0", [], 0.0, 100.0).replaced is False
