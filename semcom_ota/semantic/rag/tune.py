"""Tune the RAG acceptance thresholds on the val split (never on test) and write ``models/text_rag.yaml``.

Protocol (mirrors the test protocol of ``semcom eval text``): ``n`` val sentences of each corpus, the
first half added to the receiver's local base, the second half in no base; the global base is the
same seeded train sample as in evaluation. Every message is sent through the twin at each SNR of
``snrs_db`` on AWGN and Rayleigh; the grid search maximises mean MiniLM similarity over all of them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import yaml

from semcom_ota.progress import progress
from semcom_ota.semantic.rag.decoder import RagConfig, RagDecoder, tune_thresholds
from semcom_ota.semantic.rag.kb import KnowledgeBase

log = logging.getLogger(__name__)


def tune_rag(card: Path, out: Path, corpora: Sequence[str] = ("web", "fortunes"), n: int = 100,
             snrs_db: Sequence[float] = (0.0, 5.0, 10.0, 15.0, 20.0), global_size: int = 5000,
             k: int = 5, seed: int = 0) -> RagConfig:
    from semcom_ota.eval.text import SymbolChannel, global_base, sample_sentences
    from semcom_ota.semantic.text.codec import TextSemanticCodec

    codec = TextSemanticCodec(card)
    lam = codec.lam
    gkb = global_base(("web", "kjv"), global_size, seed, lam.sentence_embeddings)
    refs: list[str] = []
    local: list[str] = []
    for c in corpora:
        s = sample_sentences(c, "val", n, seed)
        refs += s
        local += s[: len(s) // 2]
    lkb = KnowledgeBase.create(lam.sentence_embeddings)
    lkb.add(local)
    rag = RagDecoder(codec, {"local": lkb, "global": gkb}, RagConfig(k=k))
    texts0, evs, ref_idx = [], [], []
    cond: list[tuple[str, float]] = []
    for chan in ("awgn", "rayleigh"):
        channel = SymbolChannel("twin", chan, seed)
        for snr in progress(list(snrs_db), desc=f"tune RAG {chan}", unit="snr"):
            x = codec.encode_batch(refs, codec.n_symbols, snr)
            rx, nv, m, se = channel(x, snr)
            logp = codec.decode_logprobs(rx, nv, m, se)
            t0 = codec.texts_from_logprobs(logp)
            texts0 += t0
            evs += rag.evidence(t0, logp)
            ref_idx += list(range(len(refs)))
            cond += [(chan, float(snr))] * len(refs)
    uniq = sorted({t for t in texts0} | {e[1] for ev in evs for e in ev})
    emb = dict(zip(uniq, lam.sentence_embeddings(uniq)))
    ref_emb = lam.sentence_embeddings(refs)[ref_idx]
    base = float(np.mean([float(emb[t] @ r) if t.strip() else 0.0 for t, r in zip(texts0, ref_emb)]))
    s, m, score = tune_thresholds(texts0, evs, ref_emb, emb)
    per = [float(emb[t] @ r) if t.strip() else 0.0 for t, r in zip(texts0, ref_emb)]
    val_sim: dict[str, dict[float, float]] = {}
    for (chan, snr), v in zip(cond, per):
        val_sim.setdefault(chan, {}).setdefault(snr, []).append(v)
    val_sim = {c: {k: round(float(np.mean(v)), 4) for k, v in d.items()} for c, d in val_sim.items()}
    cfg = RagConfig(k=k, sim_threshold=s, ll_margin=m, val_similarity=val_sim,
                    tuned_on=f"val split of {list(corpora)}, {len(refs)} sentences x {len(snrs_db)} SNRs x "
                             f"AWGN+Rayleigh; mean similarity {base:.4f} without RAG -> {score:.4f} with")
    out.write_text("# RAG acceptance thresholds for the text codec; written by `semcom kb tune` (val split only).\n"
                   + yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    log.info("RAG thresholds: sim >= %.2f, ll margin %.2f (val similarity %.4f -> %.4f)", s, m, base, score)
    return cfg
