"""Training for the task-oriented codec (issue 8): teacher, pre-stored teacher outputs, student
distillation through the channel twin (stored or online teacher), and the teacher-jscc scheme.

Every stage is resumable: a checkpoint per epoch under ``checkpoints/task/<run>/`` (``torch.load``
with ``weights_only=True`` only), the final weights as safetensors. Stages run on one CPU thread by
default (``torch.set_num_threads(1)`` in the script).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from semcom_ota.progress import progress
from semcom_ota.seeding import seed_everything
from semcom_ota.semantic.task.ib import gaussian_rate
from semcom_ota.semantic.task.nets import (
    N_SYMBOLS,
    TIERS,
    TaskSystem,
    TeacherNet,
    images_to_tensor,
    tier_mask,
)
from semcom_ota.semantic.task.store import TeacherStore

log = logging.getLogger(__name__)


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``split`` -> (uint8 ``[N, 28, 28]``, int64 ``[N]``) via :mod:`semcom_ota.data`."""
    try:
        from semcom_ota.data import load_fashion_mnist
    except ImportError:  # older layout: the loader lives in semcom_ota.data.fmnist
        from semcom_ota.data.fmnist import load_fashion_mnist

    return load_fashion_mnist(split)


def subset(n: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a class-agnostic random ``fraction`` of ``n`` items (fixed by ``seed``)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"data fraction {fraction}: expected 0 < fraction <= 1")
    if fraction == 1.0:
        return np.arange(n)
    rng = np.random.default_rng(seed + 12345)
    return np.sort(rng.permutation(n)[: int(round(n * fraction))])


# --------------------------------------------------------------------------------------- checkpoints
def _save_ckpt(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _load_ckpt(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and ±2-pixel shifts of ``[B,1,28,28]`` (training only)."""
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = F.pad(x, (2, 2, 2, 2))
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()
    return pad[:, :, dy:dy + 28, dx:dx + 28]


@torch.no_grad()
def accuracy_clean(model: TeacherNet, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        x = images_to_tensor(images[i:i + batch]).contiguous(memory_format=torch.channels_last)
        correct += int((model(x).argmax(1).numpy() == labels[i:i + batch]).sum())
    return correct / max(1, len(images))


# ------------------------------------------------------------------------------------------ teacher
@dataclass
class TeacherConfig:
    epochs: int = 8
    batch: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    seed: int = 0
    # stop the OneCycle schedule after this many epochs and anneal the LR (cosine, from where it is)
    # to 0 over ``anneal_epochs`` (how the shipped teacher was trained on the overloaded machine)
    anneal_after: int | None = 4
    anneal_epochs: int = 2


def train_teacher(out: Path, ckpt_dir: Path, cfg: TeacherConfig = TeacherConfig()) -> dict:
    """Train :class:`TeacherNet` on the train split; write ``out`` (safetensors). Returns a summary."""
    seed_everything(cfg.seed)
    xs, ys = load_split("train")
    xv, yv = load_split("val")
    model = TeacherNet().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(xs) / cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.25)
    n_epochs = cfg.epochs if cfg.anneal_after is None else min(cfg.epochs, cfg.anneal_after) + cfg.anneal_epochs

    def annealer(epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
        total = cfg.anneal_epochs * steps_per_epoch
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))

    ck = ckpt_dir / "teacher.pt"
    state = _load_ckpt(ck)
    start, wall = 0, 0.0
    if state:
        model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"])
        start, wall = state["epoch"], state["wall_s"]
        if cfg.anneal_after is not None and start > cfg.anneal_after:
            sched = annealer(start)
        sched.load_state_dict(state["sched"])
        log.info("teacher: resuming after epoch %d", start)
    gen = torch.Generator().manual_seed(cfg.seed)
    for epoch in range(start, n_epochs):
        if cfg.anneal_after is not None and epoch == cfg.anneal_after:
            sched = annealer(epoch)
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(xs), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).numpy()
        bar = progress(range(steps_per_epoch), desc=f"teacher {epoch + 1}/{n_epochs}", unit="batch")
        for s in bar:
            idx = perm[s * cfg.batch:(s + 1) * cfg.batch]
            x = augment(images_to_tensor(xs[idx]), gen).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), torch.from_numpy(ys[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if s % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        wall += time.perf_counter() - t0
        val = accuracy_clean(model, xv, yv)
        log.info("teacher epoch %d: val acc %.4f (%.0f s so far)", epoch + 1, val, wall)
        _save_ckpt(ck, {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "epoch": epoch + 1, "wall_s": wall})
    model = model.to(memory_format=torch.contiguous_format)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out),
              metadata={"model": "TeacherNet", "epochs": str(n_epochs), "wall_s": f"{wall:.1f}"})
    val = accuracy_clean(model, xv, yv)
    return {"val_accuracy": val, "wall_s": wall, "params": sum(p.numel() for p in model.parameters()), **asdict(cfg)}


def load_teacher(path: Path) -> TeacherNet:
    model = TeacherNet()
    model.load_state_dict(load_file(str(path)))
    return model.eval()


# ------------------------------------------------------------------------------------------- store
@torch.no_grad()
def teacher_outputs(model: TeacherNet, images: np.ndarray, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 (logits ``[N, 10]``, features ``[N, 256]``) of the teacher on uint8 images ``[N,28,28]``."""
    model.eval()
    lg, ft = [], []
    for i in progress(range(0, len(images), batch), desc="teacher outputs", unit="batch"):
        x = images_to_tensor(images[i:i + batch])
        f = model.features(x)
        lg.append(model.head(f))
        ft.append(f)
    return torch.cat(lg), torch.cat(ft)


def build_store(teacher_path: Path, out: Path, k: int = 4) -> dict:
    """Run the teacher ONCE over the train split and store its outputs compressed (``out``)."""
    xs, _ = load_split("train")
    t0 = time.perf_counter()
    logits, feats = teacher_outputs(load_teacher(teacher_path), xs)
    store = TeacherStore.compress(logits, feats, k=k)
    store.save(out, metadata={"teacher": teacher_path.name, "split": "train"})
    wall = time.perf_counter() - t0
    raw = logits.numel() * 4 + feats.numel() * 4
    return {"wall_s": wall, "bytes": store.nbytes, "float32_bytes": raw, "k": k, "n": store.n,
            "file_bytes": out.stat().st_size}


# ------------------------------------------------------------------------------------ JSC training
@dataclass
class SystemConfig:
    """Hyper-parameters of the codec training through the channel twin."""

    epochs: int = 8
    batch: int = 128
    lr: float = 2e-3
    beta: float = 3e-3  # information-bottleneck weight on the latent rate (nats per real dimension)
    alpha_kd: float = 0.7  # weight of the distillation term against the label cross-entropy
    temperature: float = 4.0
    hint: float = 0.5  # teacher-feature hint weight (student only)
    recon: float = 1.0  # reconstruction-head weight (second task)
    recon_every: int = 4  # reconstruction loss on the first 1/recon_every of each batch
    snr_db: tuple[float, float] = (0.0, 20.0)
    channels: tuple[str, ...] = ("awgn", "rayleigh")
    tier_probs: tuple[float, ...] = (0.15, 0.15, 0.2, 0.5)  # of truncating at each of TIERS
    fraction: float = 1.0
    seed: int = 0
    max_steps: int | None = None  # cap on steps per epoch (for the timing benchmark)


def through_twin(z: torch.Tensor, snr_db: torch.Tensor, kinds: tuple[str, ...], keep: torch.Tensor,
                 gen: torch.Generator | None = None):
    """Send ``z`` complex ``[B, n]`` through the channel twin (items split evenly over ``kinds``)
    and truncate item ``i`` after ``keep[i]`` symbols. Returns (z_hat, noise_var, mask)."""
    from semcom_ota.channel.twin import ChannelTwin

    b, n = z.shape
    mask = tier_mask(b, keep, n)
    parts_z, parts_v = [], []
    bounds = np.linspace(0, b, len(kinds) + 1).astype(int)
    for kind, lo, hi in zip(kinds, bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        zh, nv = ChannelTwin(kind=kind)(z[lo:hi], snr_db[lo:hi], mask=mask[lo:hi], generator=gen)
        parts_z.append(zh)
        parts_v.append(torch.broadcast_to(torch.as_tensor(nv, dtype=torch.float32), (hi - lo, n)))
    return torch.cat(parts_z), torch.cat(parts_v), mask


TargetFn = Callable[[np.ndarray, torch.Tensor], tuple[torch.Tensor | None, torch.Tensor | None]]


def stored_targets(store: TeacherStore) -> TargetFn:
    """Targets read from the pre-stored compressed teacher outputs (no teacher forward)."""

    def fn(idx: np.ndarray, x: torch.Tensor):
        return store.logits(idx), store.features(idx)

    return fn


def online_targets(teacher: TeacherNet) -> TargetFn:
    """Targets from a teacher forward pass on every step (the online-distillation baseline)."""
    teacher.eval()

    @torch.no_grad()
    def fn(idx: np.ndarray, x: torch.Tensor):
        f = teacher.features(x)
        return teacher.head(f), f

    return fn


def train_system(system: TaskSystem, ckpt: Path, cfg: SystemConfig, targets: TargetFn | None = None,
                 train_semantic: bool = True, desc: str = "student",
                 features: Callable[[np.ndarray], torch.Tensor] | None = None) -> dict:
    """Train ``system`` (encoder + JSC + decoder) through the channel twin with the IB loss.

    Loss per item: ``(1-a) CE(y) + a T^2 KL(p_teacher^T || p^T) + hint MSE(feat) + recon MSE(image)
    + beta * rate``, where ``rate`` is the KL of the Gaussian latent to N(0, I) per real dimension.
    ``targets`` (None: labels only) gives teacher logits and features per batch. ``features`` (rows
    -> ``[B, F]``) replaces the semantic encoder's forward (the frozen teacher's pre-stored features,
    for teacher-jscc). Returns a summary with the training wall and CPU time (targets included).
    """
    seed_everything(cfg.seed)
    xs, ys = load_split("train")
    rows = subset(len(xs), cfg.fraction, cfg.seed)
    params = [p for n, p in system.named_parameters() if train_semantic or not n.startswith("semantic.")]
    if not train_semantic:
        for p in system.semantic.parameters():
            p.requires_grad_(False)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    spe = math.ceil(len(rows) / cfg.batch)
    if cfg.max_steps:
        spe = min(spe, cfg.max_steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * spe, pct_start=0.2)
    state = _load_ckpt(ckpt)
    start, wall, cpu = 0, 0.0, 0.0
    if state:
        system.load_state_dict(state["model"]), opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"])
        start, wall, cpu = state["epoch"], state["wall_s"], state.get("cpu_s", 0.0)
        log.info("%s: resuming after epoch %d", desc, start)
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    tiers = torch.tensor(TIERS)
    probs = torch.tensor(cfg.tier_probs, dtype=torch.float32)
    lo, hi = cfg.snr_db
    last = {}
    for epoch in range(start, cfg.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        system.train()
        if not train_semantic:
            system.semantic.eval()
        perm = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).numpy()]
        bar = progress(range(spe), desc=f"{desc} {epoch + 1}/{cfg.epochs}", unit="batch")
        for s in bar:
            idx = np.sort(perm[s * cfg.batch:(s + 1) * cfg.batch])
            x = images_to_tensor(xs[idx])
            y = torch.from_numpy(ys[idx])
            b = len(idx)
            t_logits, t_feat = targets(idx, x) if targets else (None, None)
            snr = lo + (hi - lo) * torch.rand(b, generator=gen)
            keep = tiers[torch.multinomial(probs, b, replacement=True, generator=gen)]
            if features is not None:
                z, mu, logvar = system.jsc(features(idx), snr, sample=True)
            else:
                z, mu, logvar = system.encode(x, snr, sample=True)
            z_hat, nv, mask = through_twin(z, snr, cfg.channels, keep, gen)
            logits, h = system.decoder(z_hat, nv, mask)
            ce = F.cross_entropy(logits, y)
            rate = gaussian_rate(mu, logvar).mean() / mu.shape[1]
            loss = ce + cfg.beta * rate
            kd = torch.zeros(())
            if t_logits is not None and cfg.alpha_kd > 0:
                t = cfg.temperature
                kd = F.kl_div(F.log_softmax(logits / t, 1), F.softmax(t_logits / t, 1), reduction="batchmean") * t * t
                loss = (1 - cfg.alpha_kd) * ce + cfg.alpha_kd * kd + cfg.beta * rate
            if t_feat is not None and cfg.hint > 0:
                loss = loss + cfg.hint * F.mse_loss(system.decoder.hint(h), t_feat) / t_feat.pow(2).mean().clamp_min(1e-6)
            rec = torch.zeros(())
            if cfg.recon > 0:
                r = max(1, b // cfg.recon_every)  # the reconstruction head trains on a slice (its convs dominate the step)
                rec = F.mse_loss(system.decoder.reconstruct(h[:r]), x[:r])
                loss = loss + cfg.recon * rec * 10.0
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if s % 50 == 0:
                last = {"ce": ce.item(), "kd": kd.item(), "rate": rate.item(), "rec": rec.item()}
                bar.set_postfix({k: f"{v:.3f}" for k, v in last.items()})
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        log.info("%s epoch %d: %s (%.0f s wall, %.0f s CPU so far)", desc, epoch + 1, last, wall, cpu)
        _save_ckpt(ckpt, {"model": system.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                          "epoch": epoch + 1, "wall_s": wall, "cpu_s": cpu})
    system.eval()
    return {"wall_s": wall, "cpu_s": cpu, "steps": cfg.epochs * spe, "train_items": int(len(rows)),
            "last_losses": last, **asdict(cfg)}


def save_system(system: TaskSystem, out: Path, metadata: dict[str, str]) -> Path:
    """Write the codec weights (semantic encoder, JSC encoder, decoder) as float16 safetensors
    (``load_state_dict`` casts them back to float32)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: (v.half() if v.is_floating_point() else v).detach().contiguous().clone() for k, v in system.state_dict().items()}
    save_file(sd, str(out), metadata={"kind": system.kind, **metadata})
    return out


@torch.no_grad()
def system_accuracy(system: TaskSystem, images: np.ndarray, labels: np.ndarray, snr_db: float, channel: str = "awgn",
                    n_keep: int = N_SYMBOLS, batch: int = 500, seed: int = 0) -> float:
    """Accuracy of ``system`` over the twin at ``snr_db`` keeping the first ``n_keep`` symbols."""
    system.eval()
    gen = torch.Generator().manual_seed(seed)
    correct = 0
    for i in range(0, len(images), batch):
        x = images_to_tensor(images[i:i + batch])
        b = x.shape[0]
        snr = torch.full((b,), float(snr_db))
        z, _, _ = system.encode(x, snr)
        z_hat, nv, mask = through_twin(z, snr, (channel,), torch.full((b,), n_keep), gen)
        logits, _ = system.decoder(z_hat, nv, mask)
        correct += int((logits.argmax(1).numpy() == labels[i:i + batch]).sum())
    return correct / max(1, len(images))


def val_accuracy(system: TaskSystem, snr_db: float, channel: str = "awgn") -> float:
    """Accuracy on the validation split (never the test split) over the twin."""
    xv, yv = load_split("val")
    return system_accuracy(system, xv, yv, snr_db, channel)
