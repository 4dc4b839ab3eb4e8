"""Benchmarks of the digital baselines (run by ``scripts/bench/baselines.py`` / ``semcom bench baselines``).

1. BLER waterfall per MCS: the SNR where each measured curve crosses BLER 10 % beside the Shannon
   limit of the MCS's spectral efficiency (the ideal-code baseline), from the calibration table, and a
   fresh spot check of the table at that SNR.
2. Decoder throughput: information Mbit/s of QAM demapping + LDPC BP decoding (sum-product and
   min-sum) beside the uncoded baseline (QAM demapping + hard decisions), at an SNR 1 dB above each
   code's threshold. Timed in process CPU time (one thread), so other load on the machine does not
   inflate it.
"""

from __future__ import annotations

import math
import time

import numpy as np

from semcom_ota.baselines.calibrate import awgn, measure_bler
from semcom_ota.baselines.ldpc import LdpcCode
from semcom_ota.baselines.mcs import MCS_TABLE, load_bler_table
from semcom_ota.baselines.qam import get_qam
from semcom_ota.seeding import make_rng


def bler_table(n: int = 1944, spot_trials: int = 200, seed: int = 1) -> list[dict]:
    """Per MCS: Shannon limit, measured 10 % BLER threshold, probit slope, and a fresh spot check."""
    table = load_bler_table()
    rng = make_rng(seed)
    rows = []
    for m in MCS_TABLE:
        c = table[(n, m.index)]
        thr = c.threshold_db(0.1)
        row = {"mcs": m.name, "bits/use": round(m.spectral_efficiency, 3),
               "shannon_db": round(10 * math.log10(2 ** m.spectral_efficiency - 1), 2),
               "bler10_db": round(thr, 2), "gap_db": round(thr - 10 * math.log10(2 ** m.spectral_efficiency - 1), 2),
               "sigma_db": round(c.sigma, 3)}
        if spot_trials:
            e, t = measure_bler(n, m, round(thr, 2), rng, max_trials=spot_trials, max_errors=10**9)
            row["spot_bler"] = round(e / t, 3)
        rows.append(row)
    return rows


def throughput(n: int = 1944, words: int = 200, seed: int = 2) -> list[dict]:
    """Information Mbit/s: uncoded (demap + hard decision) vs LDPC (demap + BP), 1 dB above threshold."""
    rng = make_rng(seed)
    table = load_bler_table()
    rows = []
    for mi in (0, 4, 9):
        m = MCS_TABLE[mi]
        qam = get_qam(m.order)
        snr = table[(n, mi)].threshold_db(0.1) + 1.0
        # uncoded: the same number of channel bits, demapped and sliced
        bits = rng.integers(0, 2, words * n).astype(np.uint8)
        y, n0 = awgn(qam.modulate(bits), snr, rng)
        t0 = time.process_time()
        hard = (qam.demap_llr(y, n0) < 0).astype(np.uint8)
        t_unc = time.process_time() - t0
        row = {"mcs": m.name, "snr_db": round(snr, 2), "uncoded_Mbps": round(bits.size / t_unc / 1e6, 2),
               "uncoded_ber": float(f"{np.mean(hard != bits):.2e}")}
        for method in ("product_sum", "minimum_sum"):
            code = LdpcCode(n, m.rate, bp_method=method)
            u = rng.integers(0, 2, (words, code.k)).astype(np.uint8)
            y, n0 = awgn(qam.modulate(code.encode(u).ravel()), snr, rng)
            t0 = time.process_time()
            out, ok = code.decode(qam.demap_llr(y, n0).reshape(words, n))
            dt = time.process_time() - t0
            tag = "sum_product" if method == "product_sum" else "min_sum"
            row[f"{tag}_Mbps"] = round(words * code.k / dt / 1e6, 3)
            row[f"{tag}_bler"] = round(float(np.mean(~ok | np.any(out != u, axis=1))), 3)
        rows.append(row)
    return rows


def scheme_vs_ideal(codec: str = "webp", channel_uses: int = 3000, snrs=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
                    fades: int = 30, seed: int = 3) -> list[dict]:
    """PSNR (dB) of the practical scheme (``codec`` + LDPC + QAM, the MCS chosen per SNR) beside ideal
    separation (``codec`` at capacity), on scikit-image's astronaut at 128 x 128, AWGN and Rayleigh
    block fading (mean over ``fades`` draws; a lost frame gives mid-grey). The PSNR here is that of the
    mean MSE, so the Rayleigh rate choice maximises expected ``-MSE`` (``rate_quality="mse"``) to match."""
    from skimage import data

    from semcom_ota.baselines.schemes import DigitalImageScheme, ideal_separation_image

    img = np.ascontiguousarray(data.astronaut()[::4, ::4])
    scheme = DigitalImageScheme(codec, rate_quality="mse")
    rng = make_rng(seed)
    rows = []
    for snr in snrs:
        row: dict = {"snr_db": snr}
        for ch in ("awgn", "rayleigh"):
            k = 1 if ch == "awgn" else fades
            mse_p, mse_i, mcs = [], [], []
            for _ in range(k):
                rec, info = scheme.transmit(img, channel_uses, snr, ch, rng)
                ideal, _ = ideal_separation_image(img, channel_uses, snr, codec, ch, rng, quality="mse")
                mse_p.append(np.mean((img.astype(float) - rec) ** 2))
                mse_i.append(np.mean((img.astype(float) - ideal) ** 2))
                mcs.append(info["mcs"])
            to_db = lambda m: round(10 * np.log10(255.0**2 / np.mean(m)), 2)  # noqa: E731
            row[f"{ch}_mcs"] = int(np.median(mcs))
            row[f"{ch}_psnr"] = to_db(mse_p)
            row[f"{ch}_ideal_psnr"] = to_db(mse_i)
        rows.append(row)
    return rows


def format_rows(rows: list[dict]) -> str:
    keys = list(rows[0])
    w = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(w[k]) for k in keys), "  ".join("-" * w[k] for k in keys)]
    lines += ["  ".join(str(r[k]).ljust(w[k]) for k in keys) for r in rows]
    return "\n".join(lines)


def cli(
    calibrate: bool = False,
    n: int = 1944,
    words: int = 200,
    spot_trials: int = 200,
    fades: int = 30,
) -> None:
    """Digital baselines: BLER per MCS beside the Shannon limit; LDPC throughput beside uncoded
    (``--calibrate`` first remeasures the BLER table the rate selection uses)."""
    if calibrate:
        from semcom_ota.baselines.calibrate import calibrate as run_calibration

        print(f"wrote {run_calibration()}")
    print(f"## BLER per MCS (n={n}, AWGN, Es/N0): 10 % BLER threshold beside the Shannon limit")
    print(format_rows(bler_table(n, spot_trials)))
    print(f"\n## Decoder throughput (n={n}, information Mbit/s of CPU time, 1 thread) beside the uncoded baseline")
    print(format_rows(throughput(n, words)))
    print("\n## Image PSNR (dB) of webp + LDPC + QAM beside ideal separation (webp at capacity), astronaut 128x128, 3000 channel uses")
    print(format_rows(scheme_vs_ideal(fades=fades)))
