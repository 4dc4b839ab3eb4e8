"""Channel throughput benchmark: simulator presets and the torch twin beside plain baselines.

Baselines: for the NumPy simulator, a plain NumPy AWGN one-liner
(``x + sqrt(N0/2)·(randn + j·randn)`` with the default generator, complex128 then cast);
for the twin, a plain torch ``z + std·randn`` (the least any channel layer must do).
Figures: Msps (million samples per second, best of ``repeats``), one thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

PRESETS_TIMED = ("awgn", "rayleigh", "epa", "eva", "eva70", "hardware")


def _best_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm up (tables, caches)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def numpy_awgn_baseline(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """The plain way: N0 from the mean power, complex128 noise, cast to complex64."""
    n0 = np.mean(np.abs(x) ** 2) / 10 ** (snr_db / 10)
    return (x + np.sqrt(n0 / 2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))).astype(np.complex64)


def run(n_samples: int = 1_000_000, repeats: int = 5, twin_batch: int = 256, twin_n: int = 1024) -> list[dict]:
    """Time everything; returns rows ``{what, msps, baseline_msps, ratio}`` and prints a table."""
    from semcom_ota.channel.sim import channels

    rng = np.random.default_rng(0)
    x = ((rng.standard_normal(n_samples) + 1j * rng.standard_normal(n_samples)) / math.sqrt(2)).astype(np.complex64)
    base_s = _best_s(lambda: numpy_awgn_baseline(x, 20.0, rng), repeats)
    base = n_samples / base_s / 1e6
    rows: list[dict] = []
    for name in PRESETS_TIMED:
        sim = channels.create(name, seed=0)
        s = _best_s(lambda: sim.apply(x), repeats)
        rows.append({"what": f"sim {name}", "msps": n_samples / s / 1e6, "baseline": "numpy AWGN", "baseline_msps": base})

    import torch

    from semcom_ota.channel.twin import ChannelTwin, power_normalise

    torch.set_num_threads(1)
    z = power_normalise(torch.randn(twin_batch, twin_n, dtype=torch.complex64))
    snr = torch.full((twin_batch,), 10.0)

    def plain() -> torch.Tensor:
        return z + math.sqrt(0.1) * torch.randn_like(z)

    tb = twin_batch * twin_n / _best_s(plain, repeats) / 1e6
    for kind, kw in (("awgn", {}), ("rayleigh", {}), ("subcarrier", {}), ("subcarrier", {"tdl": "EVA"})):
        twin = ChannelTwin(kind, **kw)
        s = _best_s(lambda: twin(z, snr), repeats)
        label = f"twin {kind}" + (f" {kw['tdl']}" if kw else "")
        rows.append({"what": label, "msps": twin_batch * twin_n / s / 1e6, "baseline": "torch z+randn", "baseline_msps": tb})
    for r in rows:
        r["ratio"] = r["msps"] / r["baseline_msps"]
    print(f"{'what':24s} {'Msps':>8s}   {'baseline':16s} {'Msps':>8s}  ratio")
    for r in rows:
        print(f"{r['what']:24s} {r['msps']:8.1f}   {r['baseline']:16s} {r['baseline_msps']:8.1f}  {r['ratio']:5.2f}")
    return rows


def cli(
    n_samples: int = 1_000_000,
    repeats: int = 5,
) -> None:
    """Simulator presets and the torch twin: throughput in Msps beside plain NumPy/torch AWGN."""
    run(n_samples=n_samples, repeats=repeats)
