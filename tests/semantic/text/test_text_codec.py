"""text-semantic codec: frame contract, budgets, truncation, shipped-weights quality, rate adapter."""

from pathlib import Path

import numpy as np
import pytest
import torch

from semcom_ota.channel.twin import ChannelTwin
from semcom_ota.eval.text_metrics import sentence_bleu, similarity, token_accuracy
from semcom_ota.frames import RxSemanticFrame
from semcom_ota.semantic.text.codec import TextSemanticCodec

CARD = Path(__file__).resolve().parents[3] / "models" / "text_semantic.yaml"
# 20 dB AWGN, full frame, 48 held-out test sentences. The shipped weights score BLEU ~0.45 and
# similarity ~0.68 here; a randomly initialised codec scores BLEU 0.00 and similarity ~0.08.
BLEU_FLOOR = 0.30
SIM_FLOOR = 0.50


def through_twin(codec, texts, budget, snr_db, kind="awgn", seed=0, keep=None):
    """Encode, pass the twin, optionally erase slots not in ``keep`` (bool [budget]), decode."""
    x = codec.encode_batch(texts, budget, snr_db)
    zh, nv = ChannelTwin(kind)(torch.from_numpy(x), snr_db, generator=torch.Generator().manual_seed(seed))
    m = np.ones(x.shape, bool) if keep is None else np.broadcast_to(keep, x.shape)
    return codec.decode_batch(zh.numpy() * m, np.where(m, nv.numpy(), 1e4), m, snr_db)


@pytest.mark.parametrize("budget", [7, 96, 240, 500])
def test_frame_contract_budget_exact_unit_power_tiers(codec, budget):
    f = codec.encode("Blessed are the meek, for they shall inherit the earth.", budget, snr_db=10.0)
    assert f.n == budget and f.symbols.dtype == np.complex64
    assert np.mean(np.abs(f.symbols) ** 2) == pytest.approx(1.0, rel=1e-4)
    assert f.tiers[-1] == budget and all(b > a for a, b in zip([0] + f.tiers[:-1], f.tiers))
    assert f.meta.codec_id == 6 and 1 <= len(f.tiers) <= 15


def test_bad_input_is_named(codec):
    with pytest.raises(TypeError, match="expected str"):
        codec.encode(123, 64)
    with pytest.raises(ValueError, match="budget=0"):
        codec.encode("hi", 0)


def test_truncated_frame_decodes_and_degrades_gracefully(codec, test_sentences):
    texts = test_sentences[:16]
    n = codec.n_symbols
    f = codec.encode(texts[0], n, 20.0)
    cut = f.truncate(f.tiers[1])  # keep two of eight tiers
    rx = RxSemanticFrame(np.concatenate([cut.symbols, np.zeros(n - cut.n, np.complex64)]),
                         np.arange(n) < cut.n, np.where(np.arange(n) < cut.n, 0.01, np.inf), 20.0, f.meta)
    assert isinstance(codec.decode(rx).content, str)
    full = through_twin(codec, texts, n, 20.0)
    quarter = through_twin(codec, texts, n, 20.0, keep=np.arange(n) < n // 4)
    s_full, s_q = similarity(full, texts).mean(), similarity(quarter, texts).mean()
    assert s_full > s_q > 0.2  # worse, but still about the right thing


def test_budget_above_frame_repeats_most_important_symbols(codec, test_sentences):
    texts = test_sentences[:16]
    n = codec.n_symbols
    one = similarity(through_twin(codec, texts, n, 0.0, seed=1), texts).mean()
    two = similarity(through_twin(codec, texts, 2 * n, 0.0, seed=1), texts).mean()
    assert two > one  # repeats are combined at the receiver (inverse-variance weighting)


def test_shipped_weights_reconstruct_held_out_text(codec, test_sentences):
    texts = test_sentences
    hyp = through_twin(codec, texts, codec.n_symbols, 20.0)
    bleu = np.mean([sentence_bleu(h, r) for h, r in zip(hyp, texts)])
    sim = similarity(hyp, texts).mean()
    untrained = TextSemanticCodec(CARD, untrained=True)
    hyp0 = through_twin(untrained, texts, codec.n_symbols, 20.0)
    bleu0 = np.mean([sentence_bleu(h, r) for h, r in zip(hyp0, texts)])
    sim0 = similarity(hyp0, texts).mean()
    assert bleu > BLEU_FLOOR > bleu0 and sim > SIM_FLOOR > sim0, (bleu, sim, bleu0, sim0)


def test_rate_adapter_orders_by_importance(codec, test_sentences):
    texts = test_sentences
    n = codec.n_symbols
    first_half = np.arange(n) < n // 2  # the importance order puts the most important first
    keep_most = token_accuracy(through_twin(codec, texts, n, 10.0, keep=first_half), texts).mean()
    keep_least = token_accuracy(through_twin(codec, texts, n, 10.0, keep=~first_half), texts).mean()
    assert keep_most > keep_least + 0.05, (keep_most, keep_least)
