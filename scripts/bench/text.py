#!/usr/bin/env python
"""Benchmark: text semantic codec vs semantic+RAG vs digital separation at the same channel uses.

    .venv/bin/python scripts/bench/text.py [--channel awgn] [--n-items 100] [--budget N] [--json out.json]

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="web")
    ap.add_argument("--channel", default="awgn", choices=["awgn", "rayleigh"])
    ap.add_argument("--snr-db", default="0,5,10,15,20")
    ap.add_argument("--n-items", type=int, default=100)
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--global-size", type=int, default=5000)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
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
