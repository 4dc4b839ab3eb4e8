"""LAM backend: offline MiniLM, tokenizer round trip, sentence embeddings, feature cache."""

import numpy as np
import pytest
import torch

from semcom_ota.semantic.lam import bundled_minilm_path, cached_token_features, load_lam, resolve_lam_source


def test_loads_offline_and_embeds_unit_norm_384(lam):
    assert lam.dim == 384 and lam.vocab_size == 30522
    e = lam.sentence_embeddings(["A man is playing a guitar.", "Someone plays an instrument.",
                                 "The quarterly tax report is due on Friday."])
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2  # paraphrase closer than unrelated


def test_same_path_takes_a_local_directory(lam):
    local = load_lam(str(bundled_minilm_path()))  # a plain local path, no "bundled:" alias
    a = local.sentence_embeddings(["hello world"])
    np.testing.assert_allclose(a, lam.sentence_embeddings(["hello world"]), atol=1e-6)
    with pytest.raises(ValueError, match="unknown bundled model"):
        resolve_lam_source("bundled:gpt-5")


def test_subword_tokens_and_round_trip(lam):
    ids, attn = lam.tokenize(["In the beginning God created the heavens and the earth."], 40)
    assert ids.shape == (1, 40) and ids[0, 0] == lam.cls_id and attn[0].sum() == 13
    assert lam.detokenize(ids[0]) == "in the beginning god created the heavens and the earth."
    long_ids, long_attn = lam.tokenize(["word " * 100], 12)
    assert long_attn[0].all() and long_ids[0, -1] == lam.sep_id  # truncated, [SEP] kept


def test_feature_cache_matches_direct_features(lam, tmp_path):
    texts = ["Jesus wept.", "You will meet a tall dark stranger."]
    ids, attn, feats = cached_token_features(lam, texts, 16, "t", cache_dir=tmp_path)
    direct = lam.token_features(ids, attn).numpy()
    np.testing.assert_allclose(np.asarray(feats, np.float32), direct, atol=2e-2)
    ids2, _, feats2 = cached_token_features(lam, texts, 16, "t", cache_dir=tmp_path)  # served from disk
    assert isinstance(feats2, np.memmap) and np.array_equal(ids, ids2)
    assert len(list(tmp_path.glob("*.feat.npy"))) == 1
