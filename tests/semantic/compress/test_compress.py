"""Compression of the LAM encoder: ONNX agrees with torch, int8 is small and close, pruning shrinks,
the budget picker honours its budget, and a model that mismatches its card is refused."""

import numpy as np
import pytest
import torch

from semcom_ota.semantic.compress import budget as B
from semcom_ota.semantic.compress.onnx_runtime import OrtLamEncoder, export_lam_onnx
from semcom_ota.semantic.compress.prune import prune_ffn, prune_heads, prune_layers
from semcom_ota.semantic.lam import load_lam

SENTENCES = [
    "In the beginning God created the heavens and the earth.",
    "The earth was formless and empty, and darkness was on the surface of the deep.",
    "A soft answer turns away wrath, but a harsh word stirs up anger.",
    "You will be successful in a business venture this week.",
    "All the world's a stage, and all the men and women merely players.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Radio waves carry the symbols from the transmitter to the receiver.",
    "She sold her old bicycle and bought a small boat for the summer.",
] * 2


@pytest.fixture(scope="module")
def lam():
    torch.set_num_threads(1)
    return load_lam()


@pytest.fixture(scope="module")
def builder(lam, tmp_path_factory):
    ref = B._torch_embed(lam.model, lam.tokenizer, SENTENCES)
    pairs = [(SENTENCES[i], SENTENCES[i]) for i in range(8)]
    ev = B.EvalSet(SENTENCES, pairs, ref)
    return B.CandidateBuilder(lam, ev, calibration=SENTENCES, distill_texts=SENTENCES * 4,
                              work_dir=tmp_path_factory.mktemp("compress"), repeats=2, distill_steps=2)


def test_onnx_export_matches_torch_for_any_batch_and_length(lam, tmp_path):
    path = export_lam_onnx(lam.model, tmp_path / "m.onnx")
    enc = OrtLamEncoder(path, lam.tokenizer)
    for texts in (SENTENCES[:1], SENTENCES[:5]):
        ids, attn = lam.tokenize(texts, 40)
        ref = lam.token_features(ids, attn).numpy()
        got = enc.token_features(ids, attn)
        m = attn[..., None]
        assert np.max(np.abs((got - ref) * m)) < 1e-3
    assert enc.provider == "CPUExecutionProvider"
    np.testing.assert_allclose(enc.sentence_embeddings(SENTENCES[:3]), lam.sentence_embeddings(SENTENCES[:3]), atol=1e-4)


def test_pruning_shrinks_and_still_runs(lam):
    n0 = sum(p.numel() for p in lam.model.parameters())
    small = prune_ffn(prune_heads(prune_layers(lam.model, 3), 6), 0.5)
    n1 = sum(p.numel() for p in small.parameters())
    assert len(small.encoder.layer) == 3 and small.encoder.layer[0].attention.self.query.out_features == 6 * 32
    assert n1 < 0.8 * n0  # the token embeddings (12M of 22M) are untouched
    ids, attn = lam.tokenize(SENTENCES[:2], 24)
    with torch.no_grad():
        out = small(input_ids=torch.tensor(ids), attention_mask=torch.tensor(attn).long()).last_hidden_state
    assert out.shape == (2, 24, 384) and torch.isfinite(out).all()
    assert len(lam.model.encoder.layer) == 6  # the teacher is untouched
    with pytest.raises(ValueError, match="expected 1..6"):
        prune_layers(lam.model, 7)


@pytest.mark.slow
def test_picker_meets_a_size_budget_with_least_compression(builder):
    chosen, measured = B.pick_least_compression(builder, budget_ms=None, budget_mb=40.0)
    names = [m.name for m in measured]
    assert names == ["torch-fp32", "ort-fp32", "ort-int8"]  # stops at the first that fits
    assert chosen.name == "ort-int8" and chosen.size_mb <= 40.0
    fp32 = measured[1]
    assert fp32.size_mb / chosen.size_mb >= 3.5
    assert chosen.cosine_to_fp32 > 0.95 and measured[0].cosine_to_fp32 > 0.9999


@pytest.mark.slow
def test_picker_says_when_nothing_meets_the_budget_and_card_checks_the_file(builder, lam, tmp_path):
    chosen, measured = B.pick_least_compression(builder, budget_ms=1e-6, budget_mb=None, names=("ort-fp32",))
    assert chosen is None and len(measured) == 1
    card = B.write_card(measured[0], tmp_path / "card.yaml", "minilm", 1e-6, None, 1)
    import shutil

    shutil.copy(measured[0].path, tmp_path / "encoder_fp32.onnx")
    enc = B.load_compressed_encoder(card, lam.tokenizer)
    assert enc.sentence_embeddings(SENTENCES[:1]).shape == (1, 384)
    with open(tmp_path / "encoder_fp32.onnx", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ValueError, match="does not match its card"):
        B.load_compressed_encoder(card, lam.tokenizer)
