#!/usr/bin/env python
"""Train the LAM text codec (models/text_semantic.yaml) on WEB + fortunes train splits.

    .venv/bin/python scripts/train_text.py                       # resumes from checkpoints/ if present
    .venv/bin/python scripts/train_text.py --max-minutes 22 --fresh
    # private-knowledge fine-tuning on KJV (card models/text_semantic_kjv.yaml names its own weights):
    .venv/bin/python scripts/train_text.py --card models/text_semantic_kjv.yaml --corpus kjv \
        --init models/text_semantic.safetensors --max-minutes 6 --lr 3e-4 --fresh --checkpoints checkpoints/kjv

1 thread, progress bar, checkpoint every 250 steps; writes models/text_semantic.safetensors.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from semcom_ota.train.text import TextTrainConfig, train_text_codec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", type=Path, default=ROOT / "models/text_semantic.yaml")
    ap.add_argument("--max-minutes", type=float, default=22.0, help="wall-clock training budget (minutes)")
    ap.add_argument("--max-steps", type=int, default=20000)
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
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    corpora = tuple(a.corpus) if a.corpus else ("web", "fortunes")
    counts = tuple([a.n_per_corpus] * len(corpora)) if a.corpus else (a.n_web, a.n_fortunes)
    cfg = TextTrainConfig(max_minutes=a.max_minutes, max_steps=a.max_steps, batch_size=a.batch_size,
                          n_train_per_corpus=counts, corpora=corpora, seed=a.seed, lr=a.lr,
                          init_weights=str(a.init) if a.init else None)
    train_text_codec(a.card, cfg, a.checkpoints, resume=not a.fresh)


if __name__ == "__main__":
    main()
