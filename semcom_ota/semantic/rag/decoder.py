"""Retrieval-augmented decoding for the text codec (local + global knowledge bases).

For each received frame the receiver

1. decodes it with the JSC decoder -> text ``t0`` and the per-slot posterior ``logp [L, V]``;
2. embeds ``t0`` with MiniLM and retrieves the ``k`` nearest sentences from the local base (recent
   content at this receiver) and the global base (large, shared);
3. ranks the candidates by how well they explain what was received — the mean per-token
   log-probability of the candidate's tokens under ``logp`` (channel consistency);
4. replaces ``t0`` by the best candidate when its cosine similarity to ``t0`` is at least
   ``sim_threshold`` *and* its log-likelihood is within ``ll_margin`` of ``t0``'s own; otherwise keeps ``t0``.

The two thresholds are tuned on the val split only (:func:`tune_thresholds`), stored in the RAG card
``models/text_rag.yaml``.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from semcom_ota.config import StrictModel, validate_config
from semcom_ota.semantic.rag.kb import KnowledgeBase

log = logging.getLogger(__name__)


class RagConfig(StrictModel):
    """Retrieval settings (``models/text_rag.yaml``)."""

    k: int = 5
    sim_threshold: float = 0.8
    ll_margin: float = 1.0
    tuned_on: str = "default (not tuned)"
    #: mean MiniLM similarity of the plain semantic decode on val, per channel and SNR (dB) at the
    #: codec's full frame; the text hybrid uses it as the semantic codec's expected quality
    val_similarity: dict[str, dict[float, float]] = {}


def read_rag_config(path: str | Path) -> RagConfig:
    return validate_config(RagConfig, yaml.safe_load(Path(path).read_text()), str(path))


@dataclass
class RagChoice:
    """What RAG did to one message: the output text, whether it replaced the decode, the evidence."""

    text: str
    replaced: bool
    sim: float
    ll_gain: float
    source: str  # "decoder", "local" or "global"


class RagDecoder:
    """Text codec + knowledge bases -> corrected texts.

    Parameters
    ----------
    codec: a :class:`~semcom_ota.semantic.text.codec.TextSemanticCodec`.
    bases: mapping name -> :class:`KnowledgeBase` (e.g. ``{"local": kb_l, "global": kb_g}``).
    cfg: :class:`RagConfig`.
    """

    def __init__(self, codec, bases: dict[str, KnowledgeBase], cfg: RagConfig | None = None) -> None:
        self.codec = codec
        self.bases = dict(bases)
        self.cfg = cfg or RagConfig()

    def evidence(self, texts: Sequence[str], logp) -> list[list[tuple[str, str, float, float]]]:
        """Per message: ``(source, candidate, sim, ll_gain)`` for every retrieved candidate."""
        emb = self.codec.lam.sentence_embeddings(list(texts))
        hits_by_base = {name: kb.query(emb, self.cfg.k) for name, kb in self.bases.items()}
        out = []
        for i, t0 in enumerate(texts):
            cands: dict[str, tuple[str, float]] = {}
            for name, hits in hits_by_base.items():
                for h in hits[i]:
                    if h.text not in cands or cands[h.text][1] < h.sim:
                        cands[h.text] = (name, h.sim)
            if not cands:
                out.append([])
                continue
            ctexts = list(cands)
            ll = self.codec.candidate_logprob(logp[i], ctexts + [t0 if t0 else " "])
            out.append([(cands[c][0], c, cands[c][1], float(ll[j] - ll[-1])) for j, c in enumerate(ctexts)])
        return out

    @staticmethod
    def choose(t0: str, ev: list[tuple[str, str, float, float]], sim_threshold: float, ll_margin: float) -> RagChoice:
        if not ev:
            return RagChoice(t0, False, 0.0, 0.0, "decoder")
        src, c, sim, gain = max(ev, key=lambda e: e[3])
        if sim >= sim_threshold and gain >= -ll_margin:
            return RagChoice(c, True, sim, gain, src)
        return RagChoice(t0, False, sim, gain, "decoder")

    def correct(self, texts: Sequence[str], logp) -> list[RagChoice]:
        """Decoded ``texts`` ``[B]`` + posteriors ``logp [B, L, V]`` -> one :class:`RagChoice` each."""
        evs = self.evidence(texts, logp)
        return [self.choose(t, ev, self.cfg.sim_threshold, self.cfg.ll_margin) for t, ev in zip(texts, evs)]


def tune_thresholds(texts0: Sequence[str], evidences, ref_emb: np.ndarray, emb_of: dict[str, np.ndarray],
                    sims=(0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01),
                    margins=(0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 100.0)) -> tuple[float, float, float]:
    """Grid search of ``(sim_threshold, ll_margin)`` maximising the mean MiniLM similarity to the references.

    Use val-split messages only. ``ref_emb`` float ``[N, D]`` are the references' embeddings and
    ``emb_of`` maps every decoded text and candidate to its embedding (empty text -> zeros).
    Returns ``(sim_threshold, ll_margin, best_mean_similarity)``.
    """
    best = (1.01, 0.0, -np.inf)
    for s, m in itertools.product(sims, margins):
        outs = [RagDecoder.choose(t, ev, s, m).text for t, ev in zip(texts0, evidences)]
        score = float(np.mean([float(emb_of[o] @ r) if o.strip() else 0.0 for o, r in zip(outs, ref_emb)]))
        if score > best[2] + 1e-9:
            best = (s, m, score)
    return best
