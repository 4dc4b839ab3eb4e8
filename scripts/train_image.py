#!/usr/bin/env python
"""Train the image semantic codec (DeepJSCC family) and write models/image_semantic.{safetensors,yaml}.

    .venv/bin/python scripts/train_image.py --config configs/train_image_plain.yaml \
        --checkpoint checkpoints/image_plain.pt --out models/image_semantic_plain   # arch: plain (1 thread)

    .venv/bin/python scripts/train_image.py                       # defaults (~25 min on 1 CPU thread)
    .venv/bin/python scripts/train_image.py --steps 200 --out /tmp/x   # a quick smoke run
    python scripts/train_image.py --config models/image_semantic_gpu.train.yaml --device cuda  # on a GPU
    .venv/bin/python scripts/train_image.py --photos-npz photos.npz ...  # photos from a file (a machine
                                                                          # without the Debian photo packages)

Resumable: the checkpoint (default checkpoints/image_jscc.pt, git-ignored) is picked up on restart.
Trains on ``load_photos("train")`` only; the figures written into the model card are measured on
``load_photos("val")``.

``arch`` (config key, default ``resaf``) picks the network (:mod:`semcom_ota.semantic.image.model`).
``resaf`` trains with :func:`semcom_ota.train.image.train_image_jscc`; ``plain`` (no side-image input)
trains with :func:`semcom_ota.train.image_plain.train_plain`: the same crops, SNR draw, channel twin, random truncation at
tier boundaries, lr schedule and checkpointing, without side images, and every ``val_every`` steps
(and once on passing ``VAL_AT_CPU_S`` CPU-seconds) it logs the validation PSNR at 10 dB, k/n 1/12, AWGN
and Rayleigh (:func:`semcom_ota.semantic.image.codec.val_crops` of ``load_photos("val")``) into the
checkpoint's curve, which goes into the model card.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import save_file

from semcom_ota.config import validate_config
from semcom_ota.train.image import ImageTrainConfig, TrainResult, train_image_jscc
from semcom_ota.train.image_plain import ImageArchTrainConfig, train_plain

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("train_image")


def state_machine(checkpoint: Path, cfg) -> str:
    """Where the weights were trained: the checkpoint records it; else this machine."""
    try:
        return str(torch.load(checkpoint, map_location="cpu", weights_only=True)["machine"])
    except (OSError, KeyError, RuntimeError):
        return f"{platform.machine()}, torch {torch.__version__}, {cfg.threads} CPU thread(s)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, help="YAML with ImageTrainConfig keys (overridden by flags)")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--time-limit-min", type=float)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--device", choices=("cpu", "cuda", "auto"))
    ap.add_argument("--photos-npz", type=Path,
                    help="read the training photos from this .npz (arrays train_0, train_1, ...; written by "
                         "--save-photos-npz) instead of semcom_ota.data.load_photos")
    ap.add_argument("--save-photos-npz", type=Path, help="write the training photos to this .npz and exit")
    ap.add_argument("--no-figures", action="store_true",
                    help="skip the validation figures and the model card (export them later with --export-only)")
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "image_jscc.pt")
    ap.add_argument("--export-only", action="store_true",
                    help="do not train: export the checkpoint as it is (weights + model card)")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "image_semantic",
                    help="output stem: writes STEM.safetensors and STEM.yaml")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    data = yaml.safe_load(args.config.read_text()) if args.config else {}
    for key in ("steps", "time_limit_min", "threads", "seed", "device"):
        v = getattr(args, key)
        if v is not None:
            data[key] = v
    cfg = validate_config(ImageArchTrainConfig, data, str(args.config or "<flags>"))
    if cfg.arch not in ("resaf", "plain"):
        raise SystemExit(f"{args.config or '<flags>'}: arch={cfg.arch!r}, expected 'resaf' or 'plain'")
    plain = cfg.arch == "plain"
    torch.set_num_threads(cfg.threads)

    if args.photos_npz:
        with np.load(args.photos_npz) as z:
            train = [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1])) if k.startswith("train_")]
        if not train:
            raise SystemExit(f"{args.photos_npz}: no train_<i> arrays in it")
    else:
        from semcom_ota.data.photos import load_photos

        train = [p.image for p in load_photos("train")]
        if args.save_photos_npz:
            np.savez_compressed(args.save_photos_npz, **{f"train_{i}": im for i, im in enumerate(train)})
            log.info("wrote %d training photos to %s", len(train), args.save_photos_npz)
            return 0
    log.info("training photos: %d", len(train))
    curve: list[dict] = []
    cpu_total = None
    if args.export_only:
        from semcom_ota.semantic.image.model import build_image_model

        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)  # our own checkpoint, tensors only
        model = build_image_model(cfg.arch, width=cfg.width, n_complex=cfg.n_complex, group=cfg.group)
        model.load_state_dict(state["model"])
        res = TrainResult(steps=int(state["step"]), wall_s=float(state["wall_s"]), final_loss=float("nan"), model=model.eval())
        if "curve" in state:
            curve = [dict(zip(state["curve_keys"], row)) for row in state["curve"].tolist()]
            cpu_total = float(state["cpu_s"])
    elif plain:
        from semcom_ota.data.photos import load_photos
        from semcom_ota.semantic.image.codec import val_crops

        val = np.stack([c for _, c in val_crops([p.image for p in load_photos("val")])])
        res, curve = train_plain(cfg, train, val, args.checkpoint)
        cpu_total = curve[-1]["cpu_s"] if curve else None
    else:
        base = ImageTrainConfig(**cfg.model_dump(exclude={"arch", "val_every"}))
        res = train_image_jscc(base, train, args.checkpoint)
    log.info("trained %d steps in %.0f s", res.steps, res.wall_s)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    weights = args.out.with_suffix(".safetensors")
    save_file({k: v.contiguous() for k, v in res.model.state_dict().items()}, str(weights))
    if args.no_figures:
        log.info("wrote %s (no figures, no card: run --export-only to add them)", weights)
        return 0

    # figures on the validation split (never the test split)
    from semcom_ota.semantic.image.codec import val_figures

    from semcom_ota.data.photos import load_photos

    figures = val_figures(res.model, [p.image for p in load_photos("val")])
    arch = {"width": cfg.width, "n_complex": cfg.n_complex, "group": cfg.group}
    card = {
        "codec": "image-semantic",
        "weights": weights.name,
        "architecture": {"arch": "plain", **arch} if plain else arch,
        "default_shape": [128, 128, 3],
        "data": {"train": "semcom_ota.data.load_photos('train')", "n_train_photos": len(train),
                 "crops": f"random {cfg.crop}x{cfg.crop} crops of each photo at scales 1, 1/2, 1/4, 1/8; flips, 90-degree turns"},
        "training": {**cfg.model_dump(mode="json"), "steps_done": res.steps, "wall_s": round(res.wall_s, 1),
                     "machine": state_machine(args.checkpoint, cfg)},
        "figures_val": figures,
    }
    if cpu_total is not None:
        card["training"]["cpu_s"] = round(cpu_total, 1)
    if curve:
        card["val_curve"] = {"source": "semcom_ota.train.image_plain.val_psnr: 38 val_crops of load_photos('val'), 10 dB, "
                                       "k/n 1/12 (4 channels), seeded twins",
                             "columns": list(curve[0]), "rows": [[round(v, 2) for v in c.values()] for c in curve]}
    args.out.with_suffix(".yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    log.info("wrote %s and %s", weights, args.out.with_suffix(".yaml"))
    print(yaml.safe_dump({"figures_val": figures}, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
