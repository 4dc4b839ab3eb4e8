#!/usr/bin/env python
"""Encoder latency on CPU and on a CUDA GPU, side by side (torch, fp32; the transmitter's half only).

    .venv/bin/python scripts/bench/encoders_device.py [--json FILE] [--repeats 30]

Encoders: the image JSCC encoder (models/image_semantic.yaml) on 128x128 and 512x512 photos, the
task student's and the teacher-jscc encoder (models/task_fmnist.yaml, models/teacher_jscc.yaml) on
28x28 Fashion-MNIST images; batch 1 and 32. Median of ``--repeats`` timed calls after 5 warm-ups; on
CUDA each call is synchronised. The CUDA column is absent where torch sees no GPU (this project's CI
machine has none; the figures in BENCHMARKS.md come from a lent H100). CPU threads: torch's default
for the machine unless ``--threads`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def median_ms(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn()`` in ms (``repeats`` timed calls after 5 warm-ups)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        for _ in range(5):
            fn()
        sync()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            sync()
            times.append(1e3 * (time.perf_counter() - t))
    return statistics.median(times)


def encoders() -> dict[str, tuple[torch.nn.Module, Callable[[torch.nn.Module, int, torch.device], Callable[[], object]]]]:
    """name -> (module, make_call(module, batch, device) -> zero-argument encoder call)."""
    from semcom_ota.semantic.image.codec import load_model
    from semcom_ota.semantic.task.codec import load_system

    out = {}
    img, _ = load_model(ROOT / "models" / "image_semantic.yaml")
    for side in (128, 512):
        def make(m, b, dev, side=side):
            x, snr = torch.rand(b, 3, side, side, device=dev), torch.full((b,), 10.0, device=dev)
            return lambda: m.encode(x, snr, m.n_complex)
        out[f"image-jscc {side}x{side}"] = (img, make)
    for name, card in (("task student", "task_fmnist.yaml"), ("teacher-jscc", "teacher_jscc.yaml")):
        system, _ = load_system(ROOT / "models" / card)

        def make(m, b, dev):
            x, snr = torch.rand(b, 1, 28, 28, device=dev), torch.full((b,), 10.0, device=dev)
            return lambda: m.encode(x, snr)
        out[name] = (system, make)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, GPU: {gpu}")
    rows = []
    for name, (module, make) in encoders().items():
        for batch in (1, 32):
            row = {"encoder": name, "batch": batch}
            for dev in devices:
                m = module.to(dev).eval()
                row[f"{dev.type}_ms"] = round(median_ms(make(m, batch, dev), dev, args.repeats), 3)
            module.to("cpu")
            if "cuda_ms" in row:
                row["speedup"] = round(row["cpu_ms"] / row["cuda_ms"], 1)
            rows.append(row)
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.machine(), "torch": torch.__version__,
                                         "cpu_threads": torch.get_num_threads(), "gpu": gpu, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
