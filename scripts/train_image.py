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
trains with :func:`train_plain` below: the same crops, SNR draw, channel twin, random truncation at
tier boundaries, lr schedule and checkpointing, without side images, and every ``val_every`` steps
(and once on passing ``VAL_AT_CPU_S`` CPU-seconds) it logs the validation PSNR at 10 dB, k/n 1/12, AWGN
and Rayleigh (:func:`semcom_ota.semantic.image.codec.val_crops` of ``load_photos("val")``) into the
checkpoint's curve, which goes into the model card.
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import save_file

from semcom_ota.config import validate_config
from semcom_ota.train.image import (ImageTrainConfig, TrainResult, build_patch_pool, lr_at, random_crops, to_tensor,
                                    train_image_jscc)

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("train_image")
VAL_AT_CPU_S = 300.0  # one extra validation point here: the peer benchmark's equal-CPU budget


class TrainConfig(ImageTrainConfig):
    """:class:`ImageTrainConfig` plus the network choice and the validation cadence (``arch: plain``)."""

    arch: str = "resaf"  # "resaf" | "plain"
    val_every: int = 500  # steps between validation points (arch plain)


def val_psnr(model, crops: np.ndarray, m: int, snr_db: float = 10.0, seed: int = 0) -> dict[str, float]:
    """Mean per-image PSNR (dB) of ``crops`` (uint8 ``[N, H, W, 3]``) sent with ``m`` latent channels
    at ``snr_db`` through the AWGN and the Rayleigh (one fade per image) twins, seeded draws."""
    from semcom_ota.channel.twin import ChannelTwin

    x = to_tensor(crops)
    b = x.shape[0]
    out = {}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        snr = torch.full((b,), float(snr_db))
        z = model.encode(x, snr, m)
        for kind in ("awgn", "rayleigh"):
            gen = torch.Generator().manual_seed(seed)
            zh, nv = ChannelTwin(kind=kind)(z.reshape(b, -1), float(snr_db), generator=gen)
            nv = torch.as_tensor(nv, dtype=torch.float32).expand(b, zh.shape[1]).reshape(z.shape)
            y = model.decode(zh.reshape(z.shape), nv, torch.ones(z.shape, dtype=torch.bool))
            q = (y * 255.0).round() / 255.0  # as the codec's uint8 output
            mse = ((q - x) ** 2).mean(dim=(1, 2, 3)).clamp(min=1e-10)
            out[kind] = round(float((-10.0 * torch.log10(mse)).mean()), 2)
    model.train(was_training)
    return out


def train_plain(cfg: TrainConfig, photos: list[np.ndarray], val: np.ndarray, checkpoint: Path | None
                ) -> tuple[TrainResult, list[dict]]:
    """Train (or resume) :class:`PlainJSCC` on ``photos`` (training split); ``val`` = validation crops
    uint8 ``[N, H, W, 3]``. Returns the result and the validation curve (one dict per point)."""
    from semcom_ota.channel.twin import ChannelTwin
    from semcom_ota.progress import progress
    from semcom_ota.seeding import seed_everything
    from semcom_ota.semantic.image.model import PlainJSCC

    if cfg.p_side_both or cfg.p_side_enc_only:
        raise ValueError(f"arch plain has no side-image input: expected p_side_both = p_side_enc_only = 0, got "
                         f"{cfg.p_side_both}, {cfg.p_side_enc_only}")
    if cfg.device != "cpu":
        raise ValueError(f"device={cfg.device!r}: arch plain trains on the CPU here (use 'cpu')")
    torch.set_num_threads(cfg.threads)
    rng = seed_everything(cfg.seed)
    model = PlainJSCC(width=cfg.width, n_complex=cfg.n_complex, group=cfg.group)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, wall_before, cpu_before, curve = 0, 0.0, 0.0, []
    machine = f"{platform.machine()}, torch {torch.__version__}, {cfg.threads} CPU thread(s)"
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)  # our own checkpoint, tensors only
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, wall_before, cpu_before = int(state["step"]), float(state["wall_s"]), float(state["cpu_s"])
        curve = [dict(zip(state["curve_keys"], row)) for row in state["curve"].tolist()]
        rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed * 100003 + step)
        log.info("resumed from %s at step %d (%.0f CPU-s)", checkpoint, step, cpu_before)
    pool = build_patch_pool(photos, cfg.crop, rng)
    twins = {k: ChannelTwin(kind=k) for k in cfg.channels}
    probs = np.asarray(cfg.channel_probs) / sum(cfg.channel_probs)
    n_groups = cfg.n_complex // cfg.group
    m_val = PlainJSCC.stride ** 2 // 4  # k/n 1/12: one channel is k/n 1/(3·stride²)
    t0, c0 = time.monotonic(), time.process_time()
    ema = float("nan")
    keys = ("step", "cpu_s", "wall_s", "val_awgn_10db", "val_rayleigh_10db")

    def cpu_s() -> float:
        return cpu_before + time.process_time() - c0

    def save() -> None:
        if checkpoint is None:
            return
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "machine": machine,
                    "wall_s": wall_before + time.monotonic() - t0, "cpu_s": cpu_s(), "arch": "plain",
                    "curve_keys": list(keys), "curve": torch.tensor([[c[k] for k in keys] for c in curve],
                                                                    dtype=torch.float64).reshape(-1, len(keys))}, tmp)
        tmp.replace(checkpoint)

    def validate() -> None:
        v = val_psnr(model, val, m_val)
        curve.append({"step": step, "cpu_s": round(cpu_s(), 1), "wall_s": round(wall_before + time.monotonic() - t0, 1),
                      "val_awgn_10db": v["awgn"], "val_rayleigh_10db": v["rayleigh"]})
        log.info("step %d, %.0f CPU-s: val PSNR at 10 dB, k/n 1/12: AWGN %.2f dB, Rayleigh %.2f dB (train ema %.2f dB)",
                 step, cpu_s(), v["awgn"], v["rayleigh"], -10 * math.log10(max(ema, 1e-10)) if ema == ema else float("nan"))

    bar = progress(total=cfg.steps, initial=step, desc="train image-jscc (plain)", unit="step")
    model.train()
    if step == 0:
        validate()
    while step < cfg.steps:
        run_s = time.monotonic() - t0
        if run_s / 60.0 > cfg.time_limit_min:
            log.warning("time limit %.1f min reached at step %d", cfg.time_limit_min, step)
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step, run_s)
        b = cfg.batch
        crops, _ = random_crops(pool, b, cfg.crop, rng)
        x = to_tensor(crops)
        snr = torch.from_numpy(rng.uniform(cfg.snr_min_db, cfg.snr_max_db, b).astype(np.float32))
        m = cfg.group * int(rng.integers(1, n_groups + 1))
        kind = cfg.channels[int(rng.choice(len(cfg.channels), p=probs))]
        z = model.encode(x, snr, m)
        z_hat, nv = twins[kind](z.reshape(b, -1), snr)
        nv = torch.as_tensor(nv, dtype=torch.float32)
        if nv.ndim == 1:
            nv = nv[:, None]
        nv = nv.expand(b, z_hat.shape[1]).reshape(z.shape)
        y = model.decode(z_hat.reshape(z.shape), nv, torch.ones(z.shape, dtype=torch.bool))
        loss = torch.mean((y - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        cpu_prev = cpu_s()
        step += 1
        bar.update(1)
        if step % 50 == 0:
            lv = float(loss.detach())
            ema = lv if math.isnan(ema) else 0.9 * ema + 0.1 * lv
            bar.set_postfix(psnr=f"{-10 * math.log10(max(ema, 1e-10)):.2f}", ch=kind)
        crossed = curve and curve[-1]["cpu_s"] < VAL_AT_CPU_S <= cpu_prev
        if step % cfg.val_every == 0 or crossed or step == cfg.steps:
            validate()
        if step % cfg.ckpt_every == 0:
            save()
    bar.close()
    if not curve or curve[-1]["step"] != step:
        validate()
    save()
    model.eval()
    return TrainResult(steps=step, wall_s=wall_before + time.monotonic() - t0, final_loss=ema, model=model), curve


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
    cfg = validate_config(TrainConfig, data, str(args.config or "<flags>"))
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
        card["val_curve"] = {"source": "scripts/train_image.py val_psnr: 38 val_crops of load_photos('val'), 10 dB, "
                                       "k/n 1/12 (4 channels), seeded twins",
                             "columns": list(curve[0]), "rows": [[round(v, 2) for v in c.values()] for c in curve]}
    args.out.with_suffix(".yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    log.info("wrote %s and %s", weights, args.out.with_suffix(".yaml"))
    print(yaml.safe_dump({"figures_val": figures}, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
