#!/usr/bin/env python3
"""Digital separation baselines: BLER per MCS beside the Shannon limit, LDPC decoder throughput beside
the uncoded baseline. ``--calibrate`` remeasures the AWGN BLER table the rate selection uses
(semcom_ota/baselines/bler_awgn.yaml, ~10 min on 1 core).

    .venv/bin/python scripts/bench/baselines.py [--calibrate] [--n 1944] [--words 200]
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibrate", action="store_true", help="remeasure and rewrite the BLER table first")
    ap.add_argument("--n", type=int, default=1944, choices=(648, 1296, 1944), help="LDPC codeword length to report")
    ap.add_argument("--words", type=int, default=200, help="codewords per throughput measurement")
    ap.add_argument("--spot-trials", type=int, default=200, help="codewords per BLER spot check (0: skip)")
    ap.add_argument("--fades", type=int, default=30, help="Rayleigh fades per SNR in the image table")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from semcom_ota.baselines import bench

    print(f"# machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, 1 thread")
    bench.cli(calibrate=args.calibrate, n=args.n, words=args.words, spot_trials=args.spot_trials, fades=args.fades)
    return 0


if __name__ == "__main__":
    sys.exit(main())
