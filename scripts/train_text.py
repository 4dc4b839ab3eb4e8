#!/usr/bin/env python
"""Train the LAM text codec (models/text_semantic.yaml) on WEB + fortunes train splits.

    .venv/bin/python scripts/train_text.py                       # resumes from checkpoints/ if present
    .venv/bin/python scripts/train_text.py --max-minutes 22 --fresh
    # private-knowledge fine-tuning on KJV (card models/text_semantic_kjv.yaml names its own weights):
    .venv/bin/python scripts/train_text.py --card models/text_semantic_kjv.yaml --corpus kjv \
        --init models/text_semantic.safetensors --max-minutes 6 --lr 3e-4 --fresh --checkpoints checkpoints/kjv

    # compare cards on the VAL split (semantic codec alone, twin AWGN + Rayleigh; never test):
    .venv/bin/python scripts/train_text.py --eval-val models/text_semantic.yaml checkpoints/text_long/text_semantic.yaml

1 thread, progress bar, checkpoint every 250 steps; writes the weights named in the card, next to it.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from semcom_ota.train.text import TextTrainConfig, train_text_codec, validate_text_codec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def eval_val(a) -> None:
    """Print one table per card: rows (corpus, channel), cells similarity / BLEU / subword accuracy."""
    snrs = tuple(float(v) for v in a.eval_snr_db.split(",") if v.strip())
    for card in a.eval_val:
        rows = validate_text_codec(card, n_items=a.eval_items, snrs=snrs, budget=a.eval_budget)
        print(f"{card}: VAL split, {rows[0]['n']} sentences per corpus, budget "
              f"{a.eval_budget or 'full frame'}; cells = similarity / BLEU / subword acc")
        print("corpus".ljust(10) + "channel".ljust(10) + "".join(f"{s:>20g}dB" for s in snrs))
        for key in dict.fromkeys((r["corpus"], r["channel"]) for r in rows):
            cells = [f"{r['similarity']:.3f}/{r['bleu']:.3f}/{r['subword_acc']:.3f}"
                     for r in rows if (r["corpus"], r["channel"]) == key]
            print(key[0].ljust(10) + key[1].ljust(10) + "".join(f"{c:>22}" for c in cells))
        means = {m: sum(r[m] for r in rows) / len(rows) for m in ("similarity", "bleu", "word_acc", "subword_acc")}
        print("mean over cells: " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", type=Path, default=ROOT / "models/text_semantic.yaml")
    ap.add_argument("--max-minutes", type=float, default=22.0, help="wall-clock training budget (minutes)")
    ap.add_argument("--max-steps", type=int, default=20000,
                    help="step cap; the run stops at whichever of --max-steps and --max-minutes comes first "
                         "(about 300 steps/min on one core: raise it for runs over ~65 min)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--n-web", type=int, default=6000)
    ap.add_argument("--n-fortunes", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--corpus", action="append", default=None,
                    help="training corpora (repeatable; default web + fortunes with --n-web/--n-fortunes)")
    ap.add_argument("--n-per-corpus", type=int, default=3000, help="sentences per --corpus")
    ap.add_argument("--init", type=Path, default=None,
                    help="private-knowledge fine-tuning: start from these weights (keeps their vocabulary)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-val", type=Path, nargs="+", default=None, metavar="CARD",
                    help="no training: the semantic codec of each card on the VAL split (twin, AWGN and "
                         "Rayleigh): similarity / BLEU / word and subword accuracy")
    ap.add_argument("--eval-items", type=int, default=150, help="--eval-val: val sentences per corpus")
    ap.add_argument("--eval-snr-db", default="0,3,10,20", help="--eval-val: comma-separated SNRs (dB)")
    ap.add_argument("--eval-budget", type=int, default=None, help="--eval-val: channel uses (default: full frame)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    if a.eval_val:
        eval_val(a)
        return
    corpora = tuple(a.corpus) if a.corpus else ("web", "fortunes")
    counts = tuple([a.n_per_corpus] * len(corpora)) if a.corpus else (a.n_web, a.n_fortunes)
    cfg = TextTrainConfig(max_minutes=a.max_minutes, max_steps=a.max_steps, batch_size=a.batch_size,
                          n_train_per_corpus=counts, corpora=corpora, seed=a.seed, lr=a.lr,
                          init_weights=str(a.init) if a.init else None)
    train_text_codec(a.card, cfg, a.checkpoints, resume=not a.fresh)


if __name__ == "__main__":
    main()
