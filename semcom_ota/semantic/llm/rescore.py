"""Receiver-side LLM prior for the text codec: rescoring the low-confidence tokens of a decode.

    lm = load_next_token_model("gemma3-270m")               # or "byte-ngram" (no extra needed)
    rescorer = LlmRescorer(codec, lm, RescoreConfig(weight=0.3))
    texts = rescorer.rescore(logp, base_texts, extra=[[rag_candidate], ...])    # logp [B, L, V]

For one received frame, with the JSC decoder's per-slot log-probabilities ``logp [L, V]`` (restricted
vocabulary):

1. **low-confidence slots**: among the word slots of the argmax decode (after ``[CLS]``, before the
   first ``[SEP]``/``[PAD]``), the ``positions`` slots whose top probability is lowest, if below
   ``confidence``;
2. **candidates**: every combination of the ``top_k`` tokens at those slots (the argmax and the most
   probable non-special tokens: no truncation, no ``[UNK]``; the other slots at their argmax), ranked by decoder log-probability ``sum_l logp[l, y_l]``; the ``n_best`` best, plus the
   ``extra`` texts (e.g. the RAG candidate: scored by re-tokenising it with the LAM tokenizer), plus
   the base text (the semantic(+RAG) output); duplicates after detokenisation are merged;
3. **score**: ``decoder log-prob + weight * LM log-prob`` (nats), the LM scoring each candidate as a
   whole sentence through its own tokenizer (:meth:`score_texts`), so any next-token model works
   (Gemma's SentencePiece or the byte n-gram). Every candidate is scored as the lower-case LAM
   detokenisation the decoder itself produces (MiniLM is uncased), so case does not bias the LM;
4. the argmax is the output. ``weight = 0`` gives back the decoder's own choice; ``weight`` is chosen
   on val messages (:func:`tune_weight`), never on test.

The base text always stays in the candidate set, and a slot the decoder is sure of (top probability
``>= confidence``) is never changed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

WEIGHT_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


@dataclass
class RescoreConfig:
    """Candidate-set size and LM weight of :class:`LlmRescorer`."""

    positions: int = 4  # least-confident slots searched
    top_k: int = 3  # tokens tried per slot
    n_best: int = 8  # beam candidates kept (by decoder log-prob) for LM scoring
    confidence: float = 0.9  # a slot with top probability >= this is never changed
    weight: float = 0.3  # LM log-prob weight (nats per nat); tune on val
    tuned_on: str = "default (not tuned)"


@dataclass
class Evidence:
    """One message's candidates: output texts, the texts the LM scored, decoder and LM log-probs.

    ``texts[0]`` is the base text (the semantic(+RAG) output). ``dec`` and ``lm`` are float64 ``[C]``
    (nats); ``lm`` is filled by :meth:`LlmRescorer.score`.
    """

    texts: list[str]
    normalised: list[str]
    dec: np.ndarray
    lm: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def choose(self, weight: float) -> int:
        """Index of the best candidate at ``weight`` (ties -> the lowest index, the base first)."""
        return int(np.argmax(self.dec + weight * self.lm))


def sentence_logprob(lm, texts: Sequence[str]) -> np.ndarray:
    """Log-probability (nats) of each text as a whole sentence (its tokens + the end token) under a
    next-token model: float64 ``[B]``. Uses ``lm.score_texts`` when the model has it (batched), else
    the incremental :meth:`context` API of :class:`~semcom_ota.baselines.arith.NextTokenModel`."""
    if hasattr(lm, "score_texts"):
        return np.asarray(lm.score_texts(list(texts)), np.float64)
    out = np.zeros(len(texts), np.float64)
    for i, t in enumerate(texts):
        ctx = lm.context()
        for tok in list(lm.tokenize(t)) + [lm.eos_id]:
            out[i] += float(np.log(max(float(ctx.next_probs()[tok]), 1e-30)))
            ctx.append(tok)
    return out


class LlmRescorer:
    """Text codec + next-token model -> rescored texts (see the module docstring).

    Parameters
    ----------
    codec: a :class:`~semcom_ota.semantic.text.codec.TextSemanticCodec` (its LAM tokenizer and
        restricted vocabulary).
    lm: a next-token model (``load_next_token_model("gemma3-270m" | "byte-ngram")``).
    cfg: :class:`RescoreConfig`.
    """

    def __init__(self, codec, lm, cfg: RescoreConfig | None = None) -> None:
        self.codec, self.lm = codec, lm
        self.cfg = cfg or RescoreConfig()
        lam = codec.lam
        self._vocab = np.asarray(codec.model.vocab_ids.numpy(), np.int64)
        unk = int(np.searchsorted(self._vocab, lam.tokenizer.unk_token_id))
        self._table = np.full(lam.vocab_size, unk, np.int64)  # LAM id -> restricted index
        self._table[self._vocab] = np.arange(len(self._vocab))
        self._stop = {int(np.searchsorted(self._vocab, t)) for t in (lam.sep_id, lam.pad_id)}
        special = [t for t in (lam.sep_id, lam.pad_id, lam.cls_id, lam.tokenizer.unk_token_id) if t is not None]
        self._special = np.asarray(sorted({int(np.searchsorted(self._vocab, t)) for t in special}), np.int64)
        self._max_tokens = codec.card.arch.max_tokens

    # ---------------------------------------------------------------- candidates
    def _detok(self, idx: np.ndarray) -> str:
        return self.codec.lam.detokenize(self._vocab[idx])

    def normalise(self, texts: Sequence[str]) -> list[str]:
        """Texts as the decoder would write them (LAM tokenise -> detokenise: lower case, its spacing)."""
        ids, _ = self.codec.lam.tokenize(list(texts), self._max_tokens)
        return [self.codec.lam.detokenize(row) for row in ids]

    def text_logprob(self, logp: torch.Tensor | np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Decoder log-probability (nats, summed over all ``L`` slots) of each text re-tokenised: ``[C]``."""
        lp = np.asarray(logp, np.float64)
        ids, _ = self.codec.lam.tokenize(list(texts), self._max_tokens)
        y = self._table[ids]
        return lp[np.arange(lp.shape[0])[None, :], y].sum(1)

    def low_confidence(self, logp: np.ndarray) -> np.ndarray:
        """Slots (ascending top probability, at most ``positions``) the search may change: int ``[m]``."""
        best = logp.argmax(-1)
        end = len(best)
        for l in range(1, len(best)):
            if int(best[l]) in self._stop:
                end = l
                break
        slots = np.arange(1, end)
        top = np.exp(logp[slots, best[slots]])
        order = np.argsort(top, kind="stable")
        keep = [s for s, p in zip(slots[order], top[order]) if p < self.cfg.confidence]
        return np.asarray(keep[: self.cfg.positions], np.int64)

    def evidence_one(self, logp, base: str, extra: Sequence[str] = ()) -> Evidence:
        """Candidates of one message (``logp [L, V]``) with their decoder log-probs (LM not yet scored)."""
        lp = np.asarray(logp, np.float64)
        best = lp.argmax(-1)
        total = float(lp[np.arange(len(best)), best].sum())
        slots = self.low_confidence(lp)
        beams: list[tuple[float, np.ndarray]] = [(total, best)]
        if len(slots):
            ranked = np.argsort(-lp[slots], axis=-1)[:, : self.cfg.top_k + len(self._special)]
            # alternatives are words: no special token (no truncation, no [UNK]); the argmax stays first
            alts = [np.array([best[s]] + [int(a) for a in r if a != best[s] and a not in self._special],
                             np.int64)[: self.cfg.top_k] for s, r in zip(slots, ranked)]
            for combo in itertools.product(*[range(len(a)) for a in alts]):
                if not any(combo):
                    continue
                y = best.copy()
                d = 0.0
                for s, a, c in zip(slots, alts, combo):
                    y[s] = a[c]
                    d += lp[s, a[c]] - lp[s, best[s]]
                beams.append((total + d, y))
            beams.sort(key=lambda b: -b[0])
            beams = beams[: max(1, self.cfg.n_best)]
        # the base (semantic(+RAG) output) first, then the extras, then the beams; merge duplicates
        texts, norm, dec = [], [], []
        seen: dict[str, int] = {}

        def add(text: str, nt: str, d: float) -> None:
            if nt in seen:
                dec[seen[nt]] = max(dec[seen[nt]], d)
                return
            seen[nt] = len(texts)
            texts.append(text)
            norm.append(nt)
            dec.append(d)

        outside = [base] + [e for e in extra if e]
        for t, nt, d in zip(outside, self.normalise(outside), self.text_logprob(lp, outside)):
            add(t, nt, float(d))
        for d, y in beams:
            t = self._detok(y)
            add(t, t, float(d))
        return Evidence(texts, norm, np.asarray(dec, np.float64))

    def score(self, evs: Sequence[Evidence]) -> list[Evidence]:
        """Fill ``lm`` of every evidence (one LM call over all distinct candidate texts)."""
        uniq = list(dict.fromkeys(t if t.strip() else " " for e in evs for t in e.normalised))
        lm = dict(zip(uniq, sentence_logprob(self.lm, uniq))) if uniq else {}
        for e in evs:
            e.lm = np.array([lm[t if t.strip() else " "] for t in e.normalised], np.float64)
        return list(evs)

    def evidence(self, logp, base_texts: Sequence[str], extra: Sequence[Sequence[str]] | None = None) -> list[Evidence]:
        """Scored candidates per message: ``logp [B, L, V]``, ``base_texts [B]``, ``extra [B][*]``."""
        if len(base_texts) != len(logp):
            raise ValueError(f"LlmRescorer: {len(base_texts)} base texts for {len(logp)} decoder outputs")
        extra = extra if extra is not None else [()] * len(base_texts)
        lp = logp.numpy() if isinstance(logp, torch.Tensor) else np.asarray(logp)
        return self.score([self.evidence_one(lp[i], b, x) for i, (b, x) in enumerate(zip(base_texts, extra))])

    def rescore(self, logp, base_texts: Sequence[str], extra: Sequence[Sequence[str]] | None = None,
                weight: float | None = None) -> list[str]:
        """The best candidate of each message at ``weight`` (default ``cfg.weight``): ``[B]`` texts."""
        w = self.cfg.weight if weight is None else float(weight)
        return [e.texts[e.choose(w)] for e in self.evidence(logp, base_texts, extra)]


def tune_weight(evs: Sequence[Evidence], ref_emb: np.ndarray, embed, grid: Sequence[float] = WEIGHT_GRID
                ) -> tuple[float, float, dict[float, float]]:
    """The LM weight maximising mean MiniLM similarity to the references (val messages only).

    ``evs`` scored evidences ``[N]``, ``ref_emb`` float ``[N, D]`` unit-norm reference embeddings,
    ``embed(texts) -> [C, D]`` unit-norm embeddings (empty text scores 0). Returns
    ``(weight, best mean similarity, {weight: mean similarity})``; ties go to the smaller weight.
    """
    if len(evs) != len(ref_emb):
        raise ValueError(f"tune_weight: {len(evs)} evidences for {len(ref_emb)} references")
    uniq = list(dict.fromkeys(t for e in evs for t in e.texts if t.strip()))
    emb = dict(zip(uniq, embed(uniq))) if uniq else {}
    table = {}
    for w in grid:
        outs = [e.texts[e.choose(w)] for e in evs]
        table[float(w)] = float(np.mean([float(emb[o] @ r) if o.strip() else 0.0 for o, r in zip(outs, ref_emb)]))
    best = max(table, key=lambda w: (table[w], -w))
    return best, table[best], table
