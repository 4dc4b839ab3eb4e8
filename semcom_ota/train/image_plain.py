"""The ``arch: plain`` image JSCC network's training loop (:class:`PlainJSCC`, no side-image input).

The same crops, SNR draw, channel twin, random truncation at tier boundaries, lr schedule and
checkpointing as :func:`semcom_ota.train.image.train_image_jscc`, without side images; every
``val_every`` steps (and once on passing :data:`VAL_AT_CPU_S` CPU-seconds) it logs the validation
PSNR at 10 dB, k/n 1/12, AWGN and Rayleigh into the checkpoint's curve, which goes into the model
card. Driven by ``scripts/train_image.py`` (``arch: plain`` in its config).
"""

from __future__ import annotations

import logging
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

from semcom_ota.train.image import ImageTrainConfig, TrainResult, build_patch_pool, lr_at, random_crops, to_tensor

log = logging.getLogger(__name__)
VAL_AT_CPU_S = 300.0  # one extra validation point here: the peer benchmark's equal-CPU budget


class ImageArchTrainConfig(ImageTrainConfig):
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


def train_plain(cfg: ImageArchTrainConfig, photos: list[np.ndarray], val: np.ndarray, checkpoint: Path | None
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
