#!/usr/bin/env python3
"""Link throughput and latency beside their baselines (raw pyzmq loopback; the PHY alone).

    .venv/bin/python scripts/bench/link.py [--n-samples 5000000] [--frames 30] [--symbols 480] [--snr-db 20] [--repeats 3]

Prints three markdown tables: sustained Msps through the GNU Radio loopback with and without the
channel model and through the in-process sim, beside raw pyzmq PUSH->PULL; per-frame latency (one
frame in flight) beside modulate+demodulate alone; frames end to end through transmit_frames.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-samples", type=int, default=5_000_000, help="samples per sustained-throughput run")
    ap.add_argument("--frames", type=int, default=30, help="frames for the latency runs")
    ap.add_argument("--symbols", type=int, default=480, help="symbols per frame")
    ap.add_argument("--snr-db", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best is reported")
    args = ap.parse_args(argv)
    from semcom_ota.link.bench import run

    run(n_samples=args.n_samples, n_frames=args.frames, n_symbols=args.symbols, snr_db=args.snr_db, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
