"""Text metrics: BLEU (1-4 gram, own implementation), exact match, token accuracy, semantic similarity.

All metrics compare *normalised* text: lower case (the MiniLM LAM is uncased, so every scheme is
scored case-insensitively), words and punctuation split apart, whitespace collapsed.

- :func:`sentence_bleu` — Papineni et al. 2002 BLEU of one hypothesis against one reference:
  geometric mean of modified n-gram precisions ``p_1..p_N`` (uniform weights) times the brevity
  penalty ``BP = exp(1 - r/c)`` if ``c < r`` else 1. ``smooth=True`` adds 1 to numerator and
  denominator of ``p_n`` for ``n > 1`` (Lin & Och 2004 "add-one"), so short sentences don't score 0;
  ``smooth=False`` is plain BLEU (any zero precision -> 0).
- :func:`corpus_bleu` — clipped counts and lengths summed over the corpus, then one BLEU.
- :func:`similarity` — cosine of MiniLM sentence embeddings (mean pooling, unit norm).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", re.IGNORECASE)


def normalise_words(text: str) -> list[str]:
    """Lower-case word/punctuation tokens: ``"Hello, World!" -> ["hello", ",", "world", "!"]``."""
    if not isinstance(text, str):
        raise TypeError(f"normalise_words(text): expected str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def bleu_stats(hyp: list[str], ref: list[str], max_n: int = 4) -> tuple[list[int], list[int], int, int]:
    """Clipped n-gram matches ``[max_n]``, n-gram totals ``[max_n]``, hypothesis and reference lengths."""
    match, total = [], []
    for n in range(1, max_n + 1):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        match.append(sum(min(c, r[g]) for g, c in h.items()))
        total.append(max(len(hyp) - n + 1, 0))
    return match, total, len(hyp), len(ref)


def _bleu_from_stats(match, total, c: int, r: int, smooth: bool) -> float:
    if c == 0:
        return 1.0 if r == 0 else 0.0
    logs = []
    for n, (m, t) in enumerate(zip(match, total), start=1):
        if smooth and n > 1:
            m, t = m + 1, t + 1
        if t == 0 or m == 0:
            return 0.0
        logs.append(math.log(m / t))
    bp = 1.0 if c >= r else math.exp(1.0 - r / c)
    return bp * math.exp(sum(logs) / len(logs))


def sentence_bleu(hyp: str, ref: str, max_n: int = 4, smooth: bool = True) -> float:
    """BLEU-``max_n`` of one hypothesis against one reference, in [0, 1]."""
    if not 1 <= max_n <= 4:
        raise ValueError(f"sentence_bleu(max_n={max_n}): expected 1..4")
    return _bleu_from_stats(*bleu_stats(normalise_words(hyp), normalise_words(ref), max_n), smooth=smooth)


def corpus_bleu(hyps: Sequence[str], refs: Sequence[str], max_n: int = 4) -> float:
    """Corpus BLEU-``max_n`` (statistics summed over sentence pairs, no smoothing), in [0, 1]."""
    if len(hyps) != len(refs):
        raise ValueError(f"corpus_bleu: {len(hyps)} hypotheses vs {len(refs)} references (expected equal)")
    M, T, C, R = [0] * max_n, [0] * max_n, 0, 0
    for h, r in zip(hyps, refs):
        m, t, c, rr = bleu_stats(normalise_words(h), normalise_words(r), max_n)
        M = [a + b for a, b in zip(M, m)]
        T = [a + b for a, b in zip(T, t)]
        C, R = C + c, R + rr
    return _bleu_from_stats(M, T, C, R, smooth=False)


def exact_match(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """float ``[B]``: 1 where the normalised word sequences are identical."""
    return np.array([float(normalise_words(h) == normalise_words(r)) for h, r in zip(hyps, refs)])


def token_accuracy(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """float ``[B]``: fraction of reference word positions reproduced at the same position."""
    out = []
    for h, r in zip(hyps, refs):
        hw, rw = normalise_words(h), normalise_words(r)
        out.append(sum(a == b for a, b in zip(hw, rw)) / max(len(rw), 1))
    return np.array(out)


def similarity(hyps: Sequence[str], refs: Sequence[str], lam=None) -> np.ndarray:
    """float ``[B]``: cosine of MiniLM sentence embeddings of hypothesis and reference (empty text -> 0)."""
    if lam is None:
        from semcom_ota.semantic.lam import load_lam

        lam = load_lam()
    eh = lam.sentence_embeddings([h for h in hyps])
    er = lam.sentence_embeddings([r for r in refs])
    sim = np.sum(eh * er, axis=1)
    return np.where([bool(h.strip()) for h in hyps], sim, 0.0)


def text_scores(hyps: Sequence[str], refs: Sequence[str], lam=None) -> dict[str, float]:
    """Mean ``bleu`` (sentence BLEU-4, smoothed), ``corpus_bleu``, ``exact_match``, ``token_acc``, ``similarity``."""
    return {
        "bleu": float(np.mean([sentence_bleu(h, r) for h, r in zip(hyps, refs)])),
        "corpus_bleu": corpus_bleu(hyps, refs),
        "exact_match": float(exact_match(hyps, refs).mean()),
        "token_acc": float(token_accuracy(hyps, refs).mean()),
        "similarity": float(similarity(hyps, refs, lam).mean()),
    }


def gap_to_better(chosen: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int = 2000,
                  seed: int = 0) -> tuple[float, float, float]:
    """How far a per-message choice between two schemes lands from the better of them, with a paired
    bootstrap 95 % interval.

    ``chosen``, ``a``, ``b``: per-message scores ``[N]`` of the same messages (e.g. similarity of the
    hybrid, semantic+rag and digital-llm). The gap is ``mean(chosen) - max(mean(a), mean(b))``; the
    interval resamples the messages (the same indices for the three arrays, ``n_boot`` times) and
    takes the 2.5 / 97.5 percentiles of the resampled gaps. Returns ``(gap, lo, hi)``.
    """
    arrs = [np.asarray(x, float) for x in (chosen, a, b)]
    n = len(arrs[0])
    if n == 0 or any(x.shape != (n,) for x in arrs):
        raise ValueError(f"gap_to_better: expected three non-empty 1-D arrays of one length, got shapes "
                         f"{[x.shape for x in arrs]}")
    if n_boot < 1:
        raise ValueError(f"gap_to_better: n_boot={n_boot}, expected >= 1")
    gap = float(arrs[0].mean() - max(arrs[1].mean(), arrs[2].mean()))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    c, x, y = (v[idx].mean(axis=1) for v in arrs)
    boot = c - np.maximum(x, y)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return gap, float(lo), float(hi)
