"""BLEU / exact match / token accuracy against hand-computed values."""

import math

import pytest

from semcom_ota.eval.text_metrics import (corpus_bleu, exact_match, normalise_words, sentence_bleu,
                                          token_accuracy)

HYP = "the cat sat on the mat"
REF = "The cat is on the mat."


def test_normalise_words_lowercases_and_splits_punctuation():
    assert normalise_words("Hello, World!") == ["hello", ",", "world", "!"]


def test_bleu_hand_computed():
    # p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0/3 (the reference's final "." is a token: r = 7, c = 6)
    bp = math.exp(1 - 7 / 6)
    assert sentence_bleu(HYP, REF, max_n=1, smooth=False) == pytest.approx(bp * 5 / 6)
    assert sentence_bleu(HYP, REF, max_n=2, smooth=False) == pytest.approx(bp * math.sqrt(5 / 6 * 3 / 5))
    assert sentence_bleu(HYP, REF, max_n=3, smooth=False) == pytest.approx(bp * (5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))
    assert sentence_bleu(HYP, REF, max_n=4, smooth=False) == 0.0
    # add-one smoothing for n > 1: 5/6 * 4/6 * 2/5 * 1/4 = 1/18
    assert sentence_bleu(HYP, REF, max_n=4, smooth=True) == pytest.approx(bp * (1 / 18) ** 0.25)


def test_bleu_clipping_and_brevity():
    assert sentence_bleu("the the the the", "the cat", max_n=1, smooth=False) == pytest.approx(0.25)
    assert sentence_bleu("the cat", "the cat sat on the mat", max_n=2, smooth=False) == pytest.approx(math.exp(-2))
    assert sentence_bleu(REF, REF) == pytest.approx(1.0)
    assert sentence_bleu("", REF) == 0.0


def test_corpus_bleu_sums_statistics():
    # identical pairs -> 1; one perfect pair + one empty hypothesis -> brevity penalty exp(1 - 14/7)
    assert corpus_bleu([REF, REF], [REF, REF]) == pytest.approx(1.0)
    assert corpus_bleu([REF, ""], [REF, REF]) == pytest.approx(math.exp(1 - 14 / 7))
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_bleu([REF], [REF, REF])


def test_exact_match_and_token_accuracy():
    assert list(exact_match([REF.lower(), HYP], [REF, REF])) == [1.0, 0.0]
    # positions: the cat sat/is on the mat . -> 5 of 7 reference words
    assert token_accuracy([HYP], [REF])[0] == pytest.approx(5 / 7)


def test_gap_to_better_measures_the_choice_against_the_better_scheme():
    import numpy as np

    from semcom_ota.eval.text_metrics import gap_to_better

    a = np.array([0.9, 0.8, 1.0, 0.7])  # better on average (0.85)
    b = np.array([0.0, 1.0, 1.0, 0.0])  # 0.5
    poor = np.array([0.1, 0.0, 0.2, 0.1])
    assert gap_to_better(a, a, poor) == (0.0, 0.0, 0.0)  # always the clearly better scheme: no gap, no spread
    g, lo, hi = gap_to_better(a, a, b, n_boot=500)  # the better scheme is uncertain on 4 messages: the
    assert g == 0.0 and lo < 0.0 == hi              # interval says so (resamples where b wins)
    best = np.maximum(a, b)  # the oracle per-message choice: +0.05, the interval stays above 0
    g, lo, hi = gap_to_better(best, a, b, n_boot=500)
    assert g == pytest.approx(0.05) and 0.0 <= lo <= g <= hi
    worst = np.minimum(a, b)
    g, lo, hi = gap_to_better(worst, a, b, n_boot=500)
    assert g == pytest.approx(0.45 - 0.85) and lo <= g <= hi <= 0
    with pytest.raises(ValueError, match="one length"):
        gap_to_better(a, a, b[:3])
    with pytest.raises(ValueError, match="n_boot"):
        gap_to_better(a, a, b, n_boot=0)
