#!/usr/bin/env python
"""Benchmark: text semantic codec vs semantic+RAG vs digital separation at the same channel uses.

    .venv/bin/python scripts/bench/text.py [--channel awgn] [--n-items 100] [--budget N] [--json out.json]
    .venv/bin/python scripts/bench/text.py --private-knowledge   # base vs KJV fine-tune on KJV and fortunes

Test split only (RAG thresholds tuned on val). Prints one table per metric: rows = SNR, columns = schemes.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from semcom_ota.eval.text import SCHEMES, TextEvalConfig, evaluate_text  # noqa: E402
from semcom_ota.results import write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def pivot(rows, metric: str) -> str:
    schemes = list(dict.fromkeys(r.scheme for r in rows if r.metric == metric))
    snrs = sorted({r.snr_db for r in rows})
    val = {(r.scheme, r.snr_db): r.value for r in rows if r.metric == metric}
    w = max(len(s) for s in schemes) + 1
    lines = [f"{metric} (n={rows[0].n_items} per cell; channel uses {rows[0].channel_uses}, {rows[0].channel})",
             "scheme".ljust(w) + "".join(f"{s:>8g}dB" for s in snrs)]
    for sc in schemes:
        lines.append(sc.ljust(w) + "".join(f"{val.get((sc, s), float('nan')):>10.3f}" for s in snrs))
    return "\n".join(lines)


def private_knowledge(n_items: int, snrs: list[float], channel: str) -> None:
    """Semantic codec before/after fine-tuning on KJV: similarity and BLEU on KJV and fortunes test."""
    import numpy as np

    from semcom_ota.eval.text import SymbolChannel, sample_sentences
    from semcom_ota.eval.text_metrics import sentence_bleu, similarity
    from semcom_ota.semantic.text.codec import TextSemanticCodec

    cards = {"base (web+fortunes)": ROOT / "models/text_semantic.yaml",
             "fine-tuned on kjv": ROOT / "models/text_semantic_kjv.yaml"}
    print(f"private-knowledge fine-tuning: semantic codec, {channel}, {n_items} test sentences per corpus, "
          f"full frame; cells = similarity / BLEU")
    print("model".ljust(22) + "corpus".ljust(10) + "".join(f"{s:>14g}dB" for s in snrs))
    for name, card in cards.items():
        codec = TextSemanticCodec(card)
        for corpus in ("kjv", "fortunes"):
            refs = sample_sentences(corpus, "test", n_items, 0)
            cells = []
            for snr in snrs:
                x = codec.encode_batch(refs, codec.n_symbols, snr)
                rx, nv, m, se = SymbolChannel("twin", channel, 0)(x, snr)
                hyp = codec.decode_batch(rx, nv, m, se)
                sim = float(similarity(hyp, refs, codec.lam).mean())
                bleu = float(np.mean([sentence_bleu(h, r) for h, r in zip(hyp, refs)]))
                cells.append(f"{sim:.3f} / {bleu:.3f}")
            print(name.ljust(22) + corpus.ljust(10) + "".join(f"{c:>16}" for c in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="web")
    ap.add_argument("--channel", default="awgn", choices=["awgn", "rayleigh"])
    ap.add_argument("--snr-db", default="0,5,10,15,20")
    ap.add_argument("--n-items", type=int, default=100)
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--global-size", type=int, default=5000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--private-knowledge", action="store_true",
                    help="compare the base codec with its KJV fine-tune on KJV and fortunes test")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    if a.private_knowledge:
        private_knowledge(a.n_items, [float(s) for s in a.snr_db.split(",")], a.channel)
        return
    t = time.time()
    cfg = TextEvalConfig(corpus=a.corpus, channel=a.channel, snrs_db=[float(s) for s in a.snr_db.split(",")],
                         n_items=a.n_items, budget=a.budget, schemes=SCHEMES, global_size=a.global_size,
                         card=ROOT / "models/text_semantic.yaml", rag_card=ROOT / "models/text_rag.yaml")
    rows = evaluate_text(cfg)
    print(f"text benchmark: corpus {a.corpus} test split, link twin, {time.time() - t:.0f} s "
          f"(2 CPU cores, no GPU, torch threads 1)\n")
    for metric in ("similarity", "bleu"):
        print(pivot(rows, metric) + "\n")
    if a.json:
        write_rows(a.json, rows, {"bench": "text", "corpus": a.corpus})


if __name__ == "__main__":
    main()
