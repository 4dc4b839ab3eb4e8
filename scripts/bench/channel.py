#!/usr/bin/env python3
"""Channel simulator and twin throughput (Msps) beside plain NumPy / torch AWGN baselines, one thread.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench/channel.py [--n 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="samples per simulator call")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats (best is reported)")
    args = ap.parse_args(argv)
    from semcom_ota.channel.bench import run

    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, 1 thread")
    run(n_samples=args.n, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
