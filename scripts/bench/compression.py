#!/usr/bin/env python
"""Compression benchmark (issue 10): the LAM text encoder (MiniLM-L6) as torch fp32, ORT fp32,
ORT static int8 and pruned+distilled+int8, side by side in one run.

Prints size, latency at batch 1 and 32 (32 tokens, one thread), mean cosine to the fp32 sentence
embeddings and KJV→WEB paraphrase retrieval top-1, all on held-out TEST sentences.

    .venv/bin/python scripts/bench/compression.py [--threads 1] [--device cpu|cuda] [--json out/bench/compression.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--distill-steps", type=int, default=150)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from semcom_ota.cli.compress import HEADER, _row
    from semcom_ota.semantic.compress import budget as B

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work:
        builder = B.minilm_builder(Path(work), device=args.device, threads=args.threads, repeats=args.repeats,
                                   distill_steps=args.distill_steps)
        print(f"LAM encoder compression, {args.threads} thread(s), device {args.device}, "
              f"{len(builder.evalset.sentences)} test sentences, {len(builder.evalset.pairs)} test paraphrase pairs")
        print(HEADER)
        rows = []
        for name in B.CANDIDATES:
            m = builder.build(name)
            rows.append(m)
            print(_row(m), flush=True)
    base = rows[0]
    print("\nrelative to torch fp32:")
    for m in rows[1:]:
        print(f"  {m.name:<18} {base.size_mb / m.size_mb:5.2f}x smaller, {base.latency_ms_b1 / m.latency_ms_b1:5.2f}x faster (b=1), "
              f"{base.latency_ms_b32 / m.latency_ms_b32:5.2f}x faster (b=32), cosine loss {1 - m.cosine_to_fp32:.4f}, "
              f"paraphrase@1 {m.paraphrase_top1 - base.paraphrase_top1:+.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(m) for m in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
