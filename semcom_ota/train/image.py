"""Training of the image JSCC network (:mod:`semcom_ota.semantic.image.model`) through the channel twin.

Each step: a batch of random crops of the *training* photos (random downscale, flips, 90° turns),
an SNR drawn uniformly in ``[snr_min_db, snr_max_db]`` per image, a channel (AWGN, Rayleigh block
fading or i.i.d. per-subcarrier fading as the OFDM PHY sees it, drawn per step) from :class:`semcom_ota.channel.twin.ChannelTwin`, and a random number of
kept channel groups (truncation at a tier boundary, so symbol order learns importance). For the
hybrid scheme a share of the batch carries a *side image*: the crop compressed with JPEG, WebP or AVIF
at a random quality (the digital base layer), present at both ends, or at the encoder only (a base
layer lost at the receiver). Loss: MSE in [0, 1] units. (Minus the mean per-image PSNR was tried on the GPU: training collapsed
to ~9–11 dB within 1000 steps, so it is not offered.)

Checkpoints (model + optimiser + step + RNG state) go to ``checkpoint`` every ``ckpt_every`` steps and
at the end; a run restarts from an existing checkpoint. Weights are exported as safetensors.

Devices: ``device="cpu"`` (default), ``"cuda"`` or ``"auto"`` (CUDA when torch sees a GPU). The
network runs on the device; crops are cut on the CPU, and the channel twin runs on the CPU (its
random draws are CPU tensors; the latent is small), with gradients flowing across the copies.
Checkpoints are always saved as CPU tensors, so a run started on a GPU resumes on a CPU and back.
Side images are cut from ``side_variants`` lossy copies of each whole pool photo made once at start
(a real digital base layer is a decoded whole image too), not re-encoded per crop.
"""

from __future__ import annotations

import io
import logging
import math
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from semcom_ota.config import StrictModel
from semcom_ota.progress import progress
from semcom_ota.seeding import seed_everything
from semcom_ota.semantic.image.model import ImageJSCC

log = logging.getLogger(__name__)


class ImageTrainConfig(StrictModel):
    """Training configuration (YAML keys of the same names)."""

    steps: int = 4000
    batch: int = 16
    crop: int = 64
    lr: float = 1e-3
    lr_final: float = 1e-4
    seed: int = 0
    snr_min_db: float = 0.0
    snr_max_db: float = 20.0
    channels: tuple[str, ...] = ("awgn", "rayleigh", "subcarrier")  # ChannelTwin kinds
    channel_probs: tuple[float, ...] = (0.45, 0.4, 0.15)
    width: int = 64
    n_complex: int = 32
    group: int = 4
    p_side_both: float = 0.35  # side image at both ends
    p_side_enc_only: float = 0.1  # side image at the encoder, lost at the decoder
    ckpt_every: int = 200
    time_limit_min: float = 25.0  # wall minutes per run (a resumed run gets its own limit)
    lr_by_time: bool = False  # cosine schedule follows max(step/steps, run time/time limit)
    threads: int = 1
    device: str = "cpu"  # "cpu" | "cuda" | "auto"
    side_variants: int = 4  # lossy copies per pool photo for the hybrid's side input


def resolve_device(name: str) -> torch.device:
    """``"cpu"`` | ``"cuda"`` | ``"auto"`` -> a torch device; ``"cuda"`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda': torch sees no CUDA GPU (use device='cpu' or 'auto')")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device={name!r}: expected 'cpu', 'cuda' or 'auto'")
    return torch.device(name)


SCALES = (1, 2, 4, 8)


def build_patch_pool(images: list[np.ndarray], min_side: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """Each photo at several scales (1, 1/2, 1/4, 1/8 of its size, as long as ≥ ``min_side`` px):
    random crops of the pool then see content at the scales test crops show (a whole photo
    downscaled to 128 px is as dense in detail as the 1/4 level). ``(scale level, uint8 [h, w, 3])``."""
    pool = []
    for img in images:
        pil = Image.fromarray(img)
        for level, f in enumerate(SCALES):
            w, h = pil.size[0] // f, pil.size[1] // f
            if min(w, h) < min_side:
                break
            pool.append((level, np.asarray(pil.resize((w, h), Image.BICUBIC) if f > 1 else pil)))
    if not pool:
        raise ValueError(f"no training photo is at least {min_side} px on its short side")
    return pool


def _orient(c: np.ndarray, flip: bool, turns: int) -> np.ndarray:
    return np.rot90(c[:, ::-1] if flip else c, k=turns)


def random_crops(pool: list[tuple[int, np.ndarray]], n: int, size: int, rng: np.random.Generator,
                 variants: list[list[np.ndarray]] | None = None, with_side: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random ``size``² crops with random flips/90° turns -> (crops, side crops), uint8
    ``[n, size, size, 3]`` each. Every scale level present is drawn equally often; within a level,
    photos by area. Where ``with_side[i]``, side crop ``i`` is the same window of a random lossy copy
    (``variants[pool index]``) of the photo; elsewhere it is zeros."""
    levels = np.array([lv for lv, _ in pool])
    areas = np.array([p.shape[0] * p.shape[1] for _, p in pool], dtype=np.float64)
    per_level = {lv: areas[levels == lv].sum() for lv in set(levels.tolist())}
    w = np.array([a / per_level[lv] for lv, a in zip(levels, areas)]) / len(per_level)
    idx = rng.choice(len(pool), size=n, p=w / w.sum())
    out = np.empty((n, size, size, 3), np.uint8)
    side = np.zeros((n, size, size, 3), np.uint8)
    for i, j in enumerate(idx):
        p = pool[j][1]
        y = rng.integers(0, p.shape[0] - size + 1)
        x = rng.integers(0, p.shape[1] - size + 1)
        flip, turns = bool(rng.random() < 0.5), int(rng.integers(0, 4))
        out[i] = _orient(p[y : y + size, x : x + size], flip, turns)
        if with_side is not None and with_side[i]:
            v = variants[j][int(rng.integers(0, len(variants[j])))]
            side[i] = _orient(v[y : y + size, x : x + size], flip, turns)
    return out, side


def side_variant_pool(pool: list[tuple[int, np.ndarray]], n_variants: int, seed: int) -> list[list[np.ndarray]]:
    """``n_variants`` lossy copies (:func:`degrade`) of every pool photo, made in parallel threads
    (Pillow's encoders release the GIL). Seeded per photo, so the pool is the same on every run."""
    def make(j: int) -> list[np.ndarray]:
        r = np.random.default_rng([seed, 7919, j])
        return [degrade(pool[j][1], r) for _ in range(n_variants)]

    with ThreadPoolExecutor(max_workers=max(1, min(16, os.cpu_count() or 1))) as ex:
        return list(progress(ex.map(make, range(len(pool))), total=len(pool), desc="side-image variants", unit="photo"))


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lossy digital copy of ``img`` (uint8 ``[h, w, 3]``): JPEG, WebP or AVIF (half the time: the
    hybrid's base codec) at a random low quality."""
    buf = io.BytesIO()
    u = rng.random()
    if u < 0.25:
        Image.fromarray(img).save(buf, format="JPEG", quality=int(rng.integers(5, 70)))
    elif u < 0.5:
        Image.fromarray(img).save(buf, format="WEBP", quality=int(rng.integers(0, 70)))
    else:
        Image.fromarray(img).save(buf, format="AVIF", quality=int(rng.integers(0, 70)), speed=8)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def to_tensor(batch: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float32 ``[N, 3, H, W]`` in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() / 255.0


@dataclass
class TrainResult:
    steps: int
    wall_s: float
    final_loss: float
    model: ImageJSCC


def lr_at(cfg: ImageTrainConfig, step: int, run_s: float = 0.0) -> float:
    """Cosine decay from ``lr`` to ``lr_final`` over ``steps`` (or, with ``lr_by_time``, over the run's
    time limit when that comes first; ``run_s`` = seconds into this run)."""
    t = min(step / max(cfg.steps, 1), 1.0)
    if cfg.lr_by_time:
        t = max(t, min(run_s / (60.0 * cfg.time_limit_min), 1.0))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * t))


def train_image_jscc(cfg: ImageTrainConfig, photos: list[np.ndarray], checkpoint: Path | None = None) -> TrainResult:
    """Train (or resume) the image JSCC network on ``photos`` (uint8 ``[H, W, 3]`` each, training split)."""
    from semcom_ota.channel.twin import ChannelTwin

    torch.set_num_threads(cfg.threads)
    dev = resolve_device(cfg.device)
    rng = seed_everything(cfg.seed)
    model = ImageJSCC(width=cfg.width, n_complex=cfg.n_complex, group=cfg.group).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, wall_before = 0, 0.0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)  # our own checkpoint, tensors only
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])  # moves the moments to the parameters' device
        step = int(state["step"])
        wall_before = float(state["wall_s"])
        rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed * 100003 + step)
        log.info("resumed from %s at step %d", checkpoint, step)
    machine = (f"{platform.machine()}, torch {torch.__version__}, "
               + (torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{cfg.threads} CPU thread(s)"))
    log.info("training on %s", machine)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes per m: let cuDNN pick its fastest kernels
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    pool = build_patch_pool(photos, cfg.crop, rng)
    variants = side_variant_pool(pool, cfg.side_variants, cfg.seed) if cfg.p_side_both + cfg.p_side_enc_only > 0 else None
    twins = {k: ChannelTwin(kind=k) for k in cfg.channels}
    n_groups = cfg.n_complex // cfg.group
    t0 = time.monotonic()
    ema = float("nan")

    def save() -> None:
        if checkpoint is None:
            return
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = checkpoint.with_suffix(".tmp")
        opt_state = opt.state_dict()
        cpu_opt = {"state": {k: {n: (v.cpu() if torch.is_tensor(v) else v) for n, v in st.items()}
                             for k, st in opt_state["state"].items()},
                   "param_groups": opt_state["param_groups"]}
        torch.save({"model": {k: v.cpu() for k, v in model.state_dict().items()}, "opt": cpu_opt, "step": step,
                    "wall_s": wall_before + time.monotonic() - t0, "machine": machine}, tmp)
        tmp.replace(checkpoint)

    def on_dev(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(dev, non_blocking=True)

    bar = progress(total=cfg.steps, initial=step, desc="train image-jscc", unit="step")
    model.train()
    while step < cfg.steps:
        run_s = time.monotonic() - t0
        if run_s / 60.0 > cfg.time_limit_min:  # per run; resume to go on
            log.warning("time limit %.1f min reached at step %d", cfg.time_limit_min, step)
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step, run_s)
        b = cfg.batch
        u = rng.random(b)
        enc_side = u < cfg.p_side_both + cfg.p_side_enc_only
        dec_side = u < cfg.p_side_both
        crops, side_img = random_crops(pool, b, cfg.crop, rng, variants, enc_side)
        x = to_tensor(crops).to(dev, non_blocking=True)
        side = to_tensor(side_img).to(dev, non_blocking=True)
        snr = torch.from_numpy(rng.uniform(cfg.snr_min_db, cfg.snr_max_db, b).astype(np.float32))
        m = cfg.group * int(rng.integers(1, n_groups + 1))
        z = model.encode(x, snr.to(dev), m, side, on_dev(enc_side.astype(np.float32)))
        kind = cfg.channels[int(rng.choice(len(cfg.channels), p=np.asarray(cfg.channel_probs) / sum(cfg.channel_probs)))]
        z_hat, nv = twins[kind](z.reshape(b, -1).cpu(), snr)  # the twin draws its randomness on the CPU
        nv = torch.as_tensor(nv, dtype=torch.float32)
        if nv.ndim == 1:
            nv = nv[:, None].expand(b, z_hat.shape[1])
        z_hat = z_hat.reshape(z.shape).to(dev)
        nv = nv.reshape(z.shape).to(dev)
        mask = torch.ones(z.shape, dtype=torch.bool, device=dev)
        y = model.decode(z_hat, nv, mask, side, on_dev(dec_side.astype(np.float32)))
        loss = torch.mean((y - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if step % 50 == 0 or step == cfg.steps:
            lv = float(torch.mean((y.detach() - x) ** 2))  # batch MSE; a device sync: only every 50 steps
            ema = lv if math.isnan(ema) else 0.9 * ema + 0.1 * lv
            bar.set_postfix(psnr=f"{-10 * math.log10(max(ema, 1e-10)):.2f}", ch=kind)
            log.debug("step %d loss %.5f (ema psnr %.2f dB)", step, lv, -10 * math.log10(max(ema, 1e-10)))
        if step % cfg.ckpt_every == 0:
            save()
            log.info("step %d: ema psnr %.2f dB, %.0f s", step, -10 * math.log10(max(ema, 1e-10)), time.monotonic() - t0)
    bar.close()
    save()
    model = model.cpu().eval()
    return TrainResult(steps=step, wall_s=wall_before + time.monotonic() - t0, final_loss=ema, model=model)
