"""Measure the AWGN BLER curves of every (LDPC codeword length, MCS) with this package's LDPC + QAM.

The result (``bler_awgn.yaml`` beside :mod:`semcom_ota.baselines.mcs`) drives rate selection; rerun
with ``python scripts/bench/baselines.py --calibrate``.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import yaml

from semcom_ota.baselines.ldpc import get_code
from semcom_ota.baselines.mcs import BLER_TABLE_PATH, MCS_TABLE, Mcs, fit_probit
from semcom_ota.baselines.qam import get_qam
from semcom_ota.baselines.ldpc_tables import CODEWORD_LENGTHS
from semcom_ota.progress import progress
from semcom_ota.seeding import make_rng

log = logging.getLogger(__name__)


def awgn(symbols: np.ndarray, snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``y = s + e``, ``e ~ CN(0, N0)``, ``N0 = 10^(-snr_db/10)`` for unit-power ``s``; returns (y, N0)."""
    n0 = 10.0 ** (-snr_db / 10.0)
    e = rng.standard_normal((2,) + symbols.shape) * math.sqrt(n0 / 2.0)
    return (symbols + (e[0] + 1j * e[1])).astype(np.complex64), n0


def measure_bler(n: int, mcs: Mcs, snr_db: float, rng: np.random.Generator, max_trials: int = 300,
                 max_errors: int = 40, batch: int = 20) -> tuple[int, int]:
    """Codeword errors and trials at one SNR (stops after ``max_errors`` errors or ``max_trials`` words).
    An error is a word whose BP did not converge or whose info bits differ from those sent."""
    code, qam = get_code(n, mcs.rate), get_qam(mcs.order)
    errors = trials = 0
    while trials < max_trials and errors < max_errors:
        u = rng.integers(0, 2, (batch, code.k), dtype=np.uint8)
        cw = code.encode(u)
        y, n0 = awgn(qam.modulate(cw.ravel()), snr_db, rng)
        llr = qam.demap_llr(y, n0).reshape(batch, n)
        bits, ok = code.decode(llr)
        errors += int(np.sum(~ok | np.any(bits != u, axis=1)))
        trials += batch
    return errors, trials


def calibrate_curve(n: int, mcs: Mcs, rng: np.random.Generator, step_db: float = 0.25, **kw) -> dict:
    """Sweep SNR upward in ``step_db`` from 1 dB below the Shannon limit of the MCS's spectral
    efficiency until two consecutive points have no error; fit the probit model."""
    snr = round((10 * math.log10(2.0 ** mcs.spectral_efficiency - 1.0) - 1.0) / step_db) * step_db
    pts: list[tuple[float, int, int]] = []
    clean = 0
    while clean < 2 and len(pts) < 60:
        e, t = measure_bler(n, mcs, snr, rng, **kw)
        pts.append((snr, e, t))
        clean = clean + 1 if e == 0 else 0
        if e == t and len(pts) > 1 and pts[-2][1] == pts[-2][2]:
            pts.pop(-2)  # keep only the last all-error point below the waterfall
        snr = round(snr + step_db, 4)
    s, e, t = (np.array(v) for v in zip(*pts))
    mu, sigma = fit_probit(s, e, t)
    return {"n": n, "mcs": mcs.index, "name": mcs.name, "snr_db": [float(x) for x in s], "errors": [int(x) for x in e],
            "trials": [int(x) for x in t], "mu": round(mu, 4), "sigma": round(sigma, 4)}


def calibrate(path: str | Path = BLER_TABLE_PATH, seed: int = 20261125, **kw) -> Path:
    """Measure every curve and write the YAML table; returns its path."""
    rng = make_rng(seed)
    curves = []
    t0 = time.time()
    jobs = [(n, m) for n in CODEWORD_LENGTHS for m in MCS_TABLE]
    for n, m in progress(jobs, desc="BLER calibration", unit="curve"):
        c = calibrate_curve(n, m, rng, **kw)
        log.info("n=%d %s: mu=%.2f dB sigma=%.2f dB (%d points)", n, m.name, c["mu"], c["sigma"], len(c["snr_db"]))
        curves.append(c)
    meta = {"what": "AWGN codeword error rate of IEEE 802.11n LDPC (BP product-sum, 50 iterations) + Gray QAM max-log LLRs",
            "snr": "Es/N0 in dB (unit-power symbols, complex noise variance N0)", "seed": seed,
            "seconds": round(time.time() - t0, 1), "model": "BLER(snr) = Q((snr - mu) / sigma)"}
    path = Path(path)
    path.write_text(yaml.safe_dump({"meta": meta, "curves": curves}, sort_keys=False, default_flow_style=None, width=200))
    return path
