#!/usr/bin/env python3
"""OFDM PHY throughput (Msps, one core) of our modulator/demodulator (NumPy, the receiver's hot paths
compiled with numba; compiled/loaded before timing, that time printed) beside GNU Radio 3.10's
stock OFDM chain (digital.ofdm_tx / digital.ofdm_rx) on frames of the same air time.

    .venv/bin/python scripts/bench/phy.py [--json FILE] [--packet-bytes 96,500,2000,4000]
        [--total-samples 1000000] [--snr-db 20] [--repeats 3] [--core 0] [--no-gnuradio] [--profile]

``--profile``: instead of the comparison, the receiver's time per stage (µs per frame) for each size.

Same as ``semcom bench phy``. See semcom_ota/phy/bench.py for the method.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", dest="json_path", default=None, help="also write the rows as JSON")
    ap.add_argument("--packet-bytes", default="96,500,2000,4000")
    ap.add_argument("--total-samples", type=int, default=1_000_000)
    ap.add_argument("--snr-db", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--no-gnuradio", action="store_true")
    ap.add_argument("--profile", action="store_true", help="print the receiver's time per stage instead")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from semcom_ota.phy.bench import cli

    cli(a.json_path, a.packet_bytes, a.total_samples, a.snr_db, a.repeats, a.core, a.no_gnuradio, a.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
