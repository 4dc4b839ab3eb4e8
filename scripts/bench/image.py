#!/usr/bin/env python
"""Image quality vs SNR: semantic and hybrid beside the separation baselines at the same channel uses.

    .venv/bin/python scripts/bench/image.py                      # AWGN + Rayleigh, 0..20 dB, k/n = 1/12
    .venv/bin/python scripts/bench/image.py --channels awgn --snr-db 0,10,20 --cbr 1/24
    .venv/bin/python scripts/bench/image.py --card models/image_semantic_plain.yaml --schemes semantic,avif+ldpc
    .venv/bin/python scripts/bench/image.py --split val --schemes semantic --card models/image_semantic_plain.yaml

Held-out test split of ``load_photos`` (6 photos), each downscaled to 128 px on its short side and
centre-cropped to 128×128; symbol-level channel twin (AWGN, or Rayleigh block fading with one fade
per frame and perfect CSI at the receiver). Prints one table per channel and metric (rows: SNR,
columns: schemes) and writes the DESIGN §2 rows to ``--json``. ``--card`` picks the model card of
``semantic`` and ``hybrid`` (default ``models/image_semantic.yaml``; a card with ``arch: plain`` has no
side-image input, so leave ``hybrid`` out with it). ``--split val`` evaluates on the validation view
(:func:`semcom_ota.semantic.image.codec.val_crops`: 38 crops of the 2 validation photos) to choose
models without touching the test split.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from semcom_ota.eval.image import SCHEMES, ImageEvalConfig, evaluate_image, load_eval_images, parse_cbr
from semcom_ota.results import write_rows

ROOT = Path(__file__).resolve().parents[2]


def pivot(rows, metric: str, channel: str, schemes) -> str:
    snrs = sorted({r.snr_db for r in rows if r.channel == channel})
    val = {(r.scheme, r.snr_db): r.value for r in rows if r.metric == metric and r.channel == channel}
    fmt = "{:.2f}" if metric == "psnr_db" else "{:.3f}"
    head = f"{'SNR dB':>7} " + " ".join(f"{s:>16}" for s in schemes)
    lines = [head, "-" * len(head)]
    for snr in snrs:
        lines.append(f"{snr:>7g} " + " ".join(f"{fmt.format(val[(s, snr)]) if (s, snr) in val else '-':>16}" for s in schemes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", default="awgn,rayleigh")
    ap.add_argument("--snr-db", default="0,5,10,15,20")
    ap.add_argument("--cbr", default="1/12")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--schemes", default=",".join(SCHEMES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tx-snr-offset-db", type=float, default=0.0,
                    help="transmitters plan for SNR minus this (dB); 5 = the issue's 'true SNR exceeds the assumed by 5 dB'")
    ap.add_argument("--card", type=Path, help="model card of the semantic/hybrid schemes (default models/image_semantic.yaml)")
    ap.add_argument("--split", choices=("test", "val"), default="test",
                    help="test: held-out photos (centre crops); val: validation crops (model selection)")
    ap.add_argument("--draws", type=int, default=1,
                    help="channel realisations per image (Rayleigh: fades; each frame is sent this many times)")
    ap.add_argument("--rate-quality", choices=("psnr", "mse"), default="psnr",
                    help="what the +ldpc baselines' outage-aware (Rayleigh) rate choice maximises in expectation")
    ap.add_argument("--json", type=Path, default=ROOT / "out" / "bench_image.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.split == "val":
        from semcom_ota.data.photos import load_photos
        from semcom_ota.semantic.image.codec import val_crops

        images = val_crops([p.image for p in load_photos("val")], size=args.size)
    else:
        images = load_eval_images("photos", size=args.size)
    schemes = tuple(s for s in args.schemes.split(",") if s)
    snrs = tuple(float(s) for s in args.snr_db.split(","))
    cbr = parse_cbr(args.cbr)
    all_rows = []
    t0 = time.time()
    for ch in args.channels.split(","):
        cfg = ImageEvalConfig(snr_db=snrs, channel=ch, cbr=cbr, schemes=schemes, seed=args.seed,
                              tx_snr_offset_db=args.tx_snr_offset_db, card=str(args.card) if args.card else None,
                              draws=args.draws, rate_quality=args.rate_quality)
        rows = evaluate_image(cfg, images)
        all_rows += rows
        k = rows[0].channel_uses
        for metric in ("psnr_db", "ms_ssim"):
            off = f" | TX assumes SNR {-args.tx_snr_offset_db:+g} dB" if args.tx_snr_offset_db else ""
            what = f"{len(images)} validation crops" if args.split == "val" else f"{len(images)} test photos"
            what += f" x {args.draws} channel draws" if args.draws > 1 else ""
            card = f" | card {args.card}" if args.card else ""
            print(f"\n{metric} | channel {ch}{off} | k/n = {args.cbr} ({k} channel uses per {args.size}x{args.size} image) | "
                  f"{what}{card}")
            print(pivot(rows, metric, rows[0].channel, schemes))
    print(f"\n{time.time() - t0:.0f} s")
    write_rows(args.json, all_rows, extra={"command": "scripts/bench/image.py " + " ".join(argv or sys.argv[1:]),
                                           "size": args.size, "cbr": args.cbr, "n_images": len(images),
                                           "tx_snr_offset_db": args.tx_snr_offset_db, "split": args.split, "draws": args.draws,
                                           "rate_quality": args.rate_quality,
                                           "card": str(args.card) if args.card else "models/image_semantic.yaml"})
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
