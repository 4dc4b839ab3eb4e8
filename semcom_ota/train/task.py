"""Training for the task-oriented codec (issue 8): teacher, pre-stored teacher outputs, student
distillation through the channel twin (stored or online teacher), and the teacher-jscc scheme.

Every stage is resumable: a checkpoint per epoch under ``checkpoints/task/<run>/`` (``torch.load``
with ``weights_only=True`` and ``map_location="cpu"`` only, so a run resumes on any device), the final
weights as safetensors. Stages run on one CPU thread by default (``torch.set_num_threads(1)`` in the
script); with ``device="cuda"`` the whole split sits on the GPU as one uint8 tensor, batches are
indexed and augmented there, and the teacher can run under bfloat16 autocast (``amp``). The random
draws (permutations, augmentation, SNR, tiers, channel) always come from CPU generators, so a run's
randomness does not depend on the device; the channel twin itself runs on the CPU (it draws its
gains and noise there) and gradients flow through the device transfers.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from contextlib import nullcontext
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
    TeacherResNet,
    images_to_tensor,
    make_teacher,
    tier_mask,
)
from semcom_ota.semantic.task.store import DeviceStore, TeacherStore

log = logging.getLogger(__name__)


#: smoke runs only (``scripts/train_task.py --limit-items``): keep the first this many items of the
#: train and val splits; None (always for shipped models) keeps them all
LIMIT_ITEMS: int | None = None


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``split`` -> (uint8 ``[N, 28, 28]``, int64 ``[N]``) via :mod:`semcom_ota.data`
    (cut to :data:`LIMIT_ITEMS` for the train and val splits when set)."""
    from semcom_ota.data.fmnist import load_fashion_mnist

    xs, ys = load_fashion_mnist(split)
    if LIMIT_ITEMS is not None and split in ("train", "val"):
        xs, ys = xs[:LIMIT_ITEMS], ys[:LIMIT_ITEMS]
    return xs, ys


def split_tensors(split: str, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST ``split`` as tensors on ``device``: (uint8 ``[N, 28, 28]``, int64 ``[N]``).
    On the CPU they share memory with the loader's read-only arrays (never written)."""
    xs, ys = load_split(split)
    dev = torch.device(device)
    if dev.type == "cpu":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # read-only arrays: only ever indexed
            return torch.from_numpy(xs), torch.from_numpy(ys)
    return torch.from_numpy(np.ascontiguousarray(xs)).to(dev), torch.from_numpy(np.ascontiguousarray(ys)).to(dev)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"cpu"`` / ``"cuda"`` (/ ``"cuda:N"``) -> torch.device; a clear error when CUDA is absent.
    On CUDA, enables TF32 matmuls/convolutions and cuDNN autotuning."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: expected 'cpu' or 'cuda'")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={device!r}: torch {torch.__version__} sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return dev


def autocast(device: torch.device, amp: bool):
    """bfloat16 autocast on ``device`` when ``amp`` (a no-op context otherwise)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if amp else nullcontext()


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
    """Random horizontal flip and ±2-pixel shifts of ``[B,1,28,28]`` on ``x``'s device (training
    only); ``gen`` is a CPU generator (the draws are the same on every device)."""
    b = x.shape[0]
    flip = (torch.rand(b, generator=gen) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = F.pad(x, (2, 2, 2, 2))
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()
    return pad[:, :, dy:dy + 28, dx:dx + 28]


@torch.no_grad()
def accuracy_clean(model: TeacherNet | TeacherResNet, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                   batch: int = 1000, amp: bool = False, views: int = 1) -> float:
    """Clean accuracy of a teacher on uint8 images ``[N, 28, 28]`` (on the model's device), its
    logits averaged over ``views`` (:func:`teacher_forward`; 1 = the plain network)."""
    model.eval()
    dev = next(model.parameters()).device
    images, labels = torch.as_tensor(images).to(dev), torch.as_tensor(labels).to(dev)
    correct = 0
    for i in range(0, len(images), batch):
        x = images_to_tensor(images[i:i + batch]).contiguous(memory_format=torch.channels_last)
        with autocast(dev, amp):
            correct += int((teacher_forward(model, x, views)[0].argmax(1) == labels[i:i + batch]).sum())
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
    arch: str = "v1"  # network generation (nets.ARCHS): v1 TeacherNet, v2 TeacherResNet
    device: str = "cpu"
    amp: bool = False  # bfloat16 autocast (CUDA recipe)
    max_steps: int | None = None  # cap on steps per epoch (smoke runs only)


def train_teacher(out: Path, ckpt_dir: Path, cfg: TeacherConfig = TeacherConfig()) -> dict:
    """Train the teacher of ``cfg.arch`` on the train split; write ``out`` (safetensors). Returns a summary."""
    seed_everything(cfg.seed)
    dev = resolve_device(cfg.device)
    xs, ys = split_tensors("train", dev)
    xv, yv = split_tensors("val", dev)
    model = make_teacher(cfg.arch).to(dev, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(xs) / cfg.batch)
    if cfg.max_steps:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps)
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
        perm = torch.randperm(len(xs), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).to(dev)
        bar = progress(range(steps_per_epoch), desc=f"teacher {epoch + 1}/{n_epochs}", unit="batch")
        for s in bar:
            idx = perm[s * cfg.batch:(s + 1) * cfg.batch]
            x = augment(images_to_tensor(xs[idx]), gen).contiguous(memory_format=torch.channels_last)
            with autocast(dev, cfg.amp):
                loss = F.cross_entropy(model(x).float(), ys[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if s % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        wall += time.perf_counter() - t0
        val = accuracy_clean(model, xv, yv, amp=cfg.amp)
        log.info("teacher epoch %d: val acc %.4f (%.0f s so far)", epoch + 1, val, wall)
        _save_ckpt(ck, {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "epoch": epoch + 1, "wall_s": wall})
    model = model.to(memory_format=torch.contiguous_format)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(out),
              metadata={"model": type(model).__name__, "arch": cfg.arch, "epochs": str(n_epochs), "wall_s": f"{wall:.1f}"})
    val = accuracy_clean(model, xv, yv)  # full precision
    return {"val_accuracy": val, "wall_s": wall, "params": sum(p.numel() for p in model.parameters()), **asdict(cfg)}


def teacher_from_jscc(jscc: Path, out: Path) -> dict:
    """Recover the teacher from a ``teacher-jscc`` codec file (``jscc``): its frozen semantic
    encoder is the teacher's backbone and head (stored float16, so the weights are the teacher's
    rounded to float16). Writes ``out`` (safetensors, float32, ``arch`` metadata) for the store
    and online-distillation stages when the original teacher file is not at hand."""
    from safetensors import safe_open

    with safe_open(str(jscc), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("kind") != "teacher":
        raise ValueError(f"{jscc}: kind={meta.get('kind')!r}, expected a teacher-jscc codec file (kind 'teacher')")
    arch = meta.get("arch", "v1")
    sd = {k[len("semantic."):]: v for k, v in load_file(str(jscc)).items() if k.startswith("semantic.")}
    model = make_teacher(arch)
    model.load_state_dict(sd)  # strict: every teacher tensor must be there
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous() if v.is_floating_point() else v.contiguous()
               for k, v in model.state_dict().items()}, str(out),
              metadata={"model": type(model).__name__, "arch": arch, "source": f"{jscc.name} (float16 weights)"})
    return {"arch": arch, "params": sum(p.numel() for p in model.parameters()), "source": str(jscc)}


def teacher_arch(path: Path) -> str:
    """The network generation of a teacher safetensors file (its ``arch`` metadata; ``v1`` if absent)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return (f.metadata() or {}).get("arch", "v1")


def load_teacher(path: Path, device: str | torch.device = "cpu") -> TeacherNet | TeacherResNet:
    """The teacher in ``path`` (arch from its metadata), in eval mode on ``device``."""
    model = make_teacher(teacher_arch(path))
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval()


# ------------------------------------------------------------------------------------------- store
#: views the teacher's soft labels average over: 1 = the image alone; 2 = the image and its mirror
#: image (horizontal flip, which the teacher was trained with). The two-view teacher is the stronger
#: one (validation split, clean: 0.9470 -> 0.9504) at twice the forward cost; it is the default.
TEACHER_VIEWS = 2


def check_views(views: int) -> int:
    if views not in (1, 2):
        raise ValueError(f"teacher views={views!r}: expected 1 (the image) or 2 (the image and its mirror)")
    return int(views)


def teacher_forward(model: TeacherNet | TeacherResNet, x: torch.Tensor,
                    views: int = TEACHER_VIEWS) -> tuple[torch.Tensor, torch.Tensor]:
    """Distillation targets of ``x`` float ``[B, 1, 28, 28]``: (logits ``[B, 10]``, features ``[B, 256]``).

    The features are those of the image itself (the hint target, and teacher-jscc's frozen
    semantics); the logits are the head applied to the features averaged over ``views`` (see
    :data:`TEACHER_VIEWS`; the head is linear, so this is the mean of the views' logits)."""
    f = model.features(x)
    if check_views(views) == 1:
        return model.head(f), f
    return model.head(0.5 * (f + model.features(x.flip(3)))), f


@torch.no_grad()
def teacher_outputs(model: TeacherNet | TeacherResNet, images: np.ndarray | torch.Tensor, batch: int = 128,
                    amp: bool = False, views: int = TEACHER_VIEWS) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 CPU (logits ``[N, 10]``, features ``[N, 256]``) of the teacher (on its device) on
    uint8 images ``[N,28,28]`` (:func:`teacher_forward` with ``views``). Runs as the online baseline
    does (batches of 128, channels_last), its fastest form on the CPU: 1.13 CPU-s per 128 images
    with two views, against 2.1 in batches of 500 in NCHW."""
    model.eval()
    check_views(views)
    model.to(memory_format=torch.channels_last)
    dev = next(model.parameters()).device
    images = torch.as_tensor(images).to(dev)
    lg, ft = [], []
    for i in progress(range(0, len(images), batch), desc="teacher outputs", unit="batch"):
        x = images_to_tensor(images[i:i + batch]).contiguous(memory_format=torch.channels_last)
        with autocast(dev, amp):
            logits, f = teacher_forward(model, x, views)
            lg.append(logits.float().cpu())
        ft.append(f.float().cpu())
    return torch.cat(lg), torch.cat(ft)


def build_store(teacher_path: Path, out: Path, k: int = 4, device: str = "cpu", views: int = TEACHER_VIEWS) -> dict:
    """Run the teacher ONCE over the train split and store its outputs compressed (``out``).
    The teacher runs in full precision (float32; TF32 on CUDA), over ``views`` views (:func:`teacher_forward`)."""
    dev = resolve_device(device)
    xs, _ = split_tensors("train", dev)
    t0, c0 = time.perf_counter(), time.process_time()
    logits, feats = teacher_outputs(load_teacher(teacher_path, dev), xs, views=views)
    store = TeacherStore.compress(logits, feats, k=k)
    store.save(out, metadata={"teacher": teacher_path.name, "split": "train", "device": str(dev),
                                   "views": str(views)})
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    raw = logits.numel() * 4 + feats.numel() * 4
    return {"wall_s": wall, "cpu_s": cpu, "bytes": store.nbytes, "float32_bytes": raw, "k": k, "n": store.n,
            "file_bytes": out.stat().st_size, "device": str(dev), "views": views}


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
    # SNR of each item drawn as lo + (hi - lo) * u**snr_skew, u ~ U(0, 1): 1 = uniform in dB, > 1
    # puts more items at low SNR (the fine-tune for Rayleigh 0 dB)
    snr_skew: float = 1.0
    pct_start: float = 0.2  # OneCycle warm-up fraction
    max_wall_s: float | None = None  # stop (at a step end, then validate and save) past this training wall time
    eval_every: int = 0  # steps between validation checks (0: at epoch ends only, when a ``select`` is given)
    augment: bool = False  # flip + shift the student's images (stored targets stay those of the clean image)
    device: str = "cpu"
    amp: bool = False  # bfloat16 autocast of the online teacher's forward (CUDA recipe)


def through_twin(z: torch.Tensor, snr_db: torch.Tensor, kinds: tuple[str, ...], keep: torch.Tensor,
                 gen: torch.Generator | None = None):
    """Send ``z`` complex ``[B, n]`` through the channel twin (items split evenly over ``kinds``)
    and truncate item ``i`` after ``keep[i]`` symbols. Returns (z_hat, noise_var, mask) on ``z``'s
    device. The twin runs on the CPU (its draws come from CPU generators); ``z`` on another device
    is moved there and ``z_hat`` back, differentiably. ``snr_db``/``keep`` may be on either."""
    from semcom_ota.channel.twin import ChannelTwin

    dev = z.device
    if dev.type != "cpu":
        zh, nv, mask = through_twin(z.cpu(), snr_db.cpu(), kinds, torch.as_tensor(keep).cpu(), gen)
        return zh.to(dev, non_blocking=True), nv.to(dev, non_blocking=True), mask.to(dev, non_blocking=True)
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


#: (rows int64 ``[B]`` on the training device, clean images ``[B,1,28,28]``) -> (logits, features) or Nones
TargetFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor | None, torch.Tensor | None]]


def stored_targets(store: TeacherStore | DeviceStore) -> TargetFn:
    """Targets read from the pre-stored compressed teacher outputs (no teacher forward). A
    :class:`TeacherStore` decodes on the CPU; for another device pass ``store.to(device)``."""

    def fn(idx: torch.Tensor, x: torch.Tensor):
        return store.logits(idx), store.features(idx)

    return fn


def online_targets(teacher: TeacherNet | TeacherResNet, amp: bool = False, channels_last: bool = True,
                   views: int = TEACHER_VIEWS) -> TargetFn:
    """Targets from a teacher forward pass on every step (the online-distillation baseline); the
    teacher must be on the training device. ``views``: as the store was built (:func:`teacher_forward`),
    so both arms learn from the same targets. ``channels_last`` (default) puts its convolution weights
    in NHWC, as :func:`train_system` does for the student (its forward is ~20 % cheaper on the CPU:
    the baseline gets the same engineering as the student)."""
    teacher.eval()
    check_views(views)
    if channels_last:
        teacher.to(memory_format=torch.channels_last)
    dev = next(teacher.parameters()).device

    @torch.no_grad()
    def fn(idx: torch.Tensor, x: torch.Tensor):
        with autocast(dev, amp):
            lg, f = teacher_forward(teacher, x, views)
        return lg.float(), f.float()

    return fn


def train_system(system: TaskSystem, ckpt: Path, cfg: SystemConfig, targets: TargetFn | None = None,
                 train_semantic: bool = True, desc: str = "student",
                 features: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 select: Callable[[TaskSystem], float] | None = None) -> dict:
    """Train ``system`` (encoder + JSC + decoder) through the channel twin with the IB loss.

    Loss per item: ``(1-a) CE(y) + a T^2 KL(p_teacher^T || p^T) + hint MSE(feat) + recon MSE(image)
    + beta * rate``, where ``rate`` is the KL of the Gaussian latent to N(0, I) per real dimension.
    ``targets`` (None: labels only) gives teacher logits and features per batch. ``features`` (rows
    -> ``[B, F]``) replaces the semantic encoder's forward (the frozen teacher's pre-stored features,
    for teacher-jscc). ``system``, ``targets`` and ``features`` must be on ``cfg.device``. Returns a
    summary with the training wall and CPU time (targets included; on CUDA the wall time is the
    figure, the step ends with a host sync at the channel twin).

    ``select`` (system -> score, higher is better; it must use the validation split, never the test
    split) is called every ``cfg.eval_every`` steps and at each epoch end; the best-scoring weights
    are kept (in the checkpoint too, and as ``<ckpt>.best.safetensors`` whenever they improve) and
    loaded into ``system`` at the end. Validation time is not counted in the training times.
    """
    seed_everything(cfg.seed)
    dev = resolve_device(cfg.device)
    xs, ys = split_tensors("train", dev)
    rows = torch.from_numpy(subset(len(xs), cfg.fraction, cfg.seed)).to(dev)
    params = [p for n, p in system.named_parameters() if train_semantic or not n.startswith("semantic.")]
    if not train_semantic:
        for p in system.semantic.parameters():
            p.requires_grad_(False)
    # NHWC convolution weights and activations: oneDNN runs the convolutions without layout
    # reorders (on the CPU a student step is ~20 % cheaper); the fused AdamW updates every tensor in
    # one kernel (~4 ms instead of ~12 ms per step for the v2 student on one CPU thread)
    system.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4, fused=True)
    spe = math.ceil(len(rows) / cfg.batch)
    if cfg.max_steps:
        spe = min(spe, cfg.max_steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * spe, pct_start=cfg.pct_start)
    state = _load_ckpt(ckpt)
    start, wall, cpu = 0, 0.0, 0.0
    best: dict = {"score": -math.inf, "step": -1, "model": None}
    if state:
        system.load_state_dict(state["model"]), opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"])
        start, wall, cpu = state["epoch"], state["wall_s"], state.get("cpu_s", 0.0)
        best = state.get("best", best)
        log.info("%s: resuming after epoch %d", desc, start)

    def check(step: int) -> None:
        score = select(system)
        system.train()
        if not train_semantic:
            system.semantic.eval()
        if score > best["score"]:
            best.update(score=score, step=step, model={k: v.detach().clone() for k, v in system.state_dict().items()})
            save_system(system, ckpt.with_suffix(".best.safetensors"), {"step": str(step), "score": f"{score:.6f}"})
        log.info("%s step %d: validation score %.5f (best %.5f at step %d)", desc, step, score, best["score"], best["step"])
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 11)
    tiers = torch.tensor(TIERS)
    probs = torch.tensor(cfg.tier_probs, dtype=torch.float32)
    lo, hi = cfg.snr_db
    last = {}
    stop, steps_run = False, start * spe
    for epoch in range(start, cfg.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        system.train()
        if not train_semantic:
            system.semantic.eval()
        perm = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).to(dev)]
        bar = progress(range(spe), desc=f"{desc} {epoch + 1}/{cfg.epochs}", unit="batch")
        for s in bar:
            idx = perm[s * cfg.batch:(s + 1) * cfg.batch].sort().values
            x = images_to_tensor(xs[idx]).contiguous(memory_format=torch.channels_last)
            y = ys[idx]
            b = len(idx)
            t_logits, t_feat = targets(idx, x) if targets else (None, None)
            u = torch.rand(b, generator=gen)
            snr = lo + (hi - lo) * (u if cfg.snr_skew == 1.0 else u.pow(cfg.snr_skew))
            keep = tiers[torch.multinomial(probs, b, replacement=True, generator=gen)]
            snr_d = snr.to(dev)
            x_in = augment(x, aug_gen) if cfg.augment else x
            if features is not None:
                z, mu, logvar = system.jsc(features(idx), snr_d, sample=True)
            else:
                z, mu, logvar = system.encode(x_in, snr_d, sample=True)
            z_hat, nv, mask = through_twin(z, snr, cfg.channels, keep, gen)
            logits, h = system.decoder(z_hat, nv, mask)
            ce = F.cross_entropy(logits, y)
            rate = gaussian_rate(mu, logvar).mean() / mu.shape[1]
            loss = ce + cfg.beta * rate
            kd = torch.zeros((), device=dev)
            if t_logits is not None and cfg.alpha_kd > 0:
                t = cfg.temperature
                kd = F.kl_div(F.log_softmax(logits / t, 1), F.softmax(t_logits / t, 1), reduction="batchmean") * t * t
                loss = (1 - cfg.alpha_kd) * ce + cfg.alpha_kd * kd + cfg.beta * rate
            if t_feat is not None and cfg.hint > 0:
                loss = loss + cfg.hint * F.mse_loss(system.decoder.hint(h), t_feat) / t_feat.pow(2).mean().clamp_min(1e-6)
            rec = torch.zeros((), device=dev)
            if cfg.recon > 0:
                r = max(1, b // cfg.recon_every)  # the reconstruction head trains on a slice (its convs dominate the step)
                rec = F.mse_loss(system.decoder.reconstruct(h[:r]), x_in[:r])
                loss = loss + cfg.recon * rec * 10.0
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            steps_run += 1
            if s % 50 == 0:
                last = {"ce": ce.item(), "kd": kd.item(), "rate": rate.item(), "rec": rec.item()}
                bar.set_postfix({k: f"{v:.3f}" for k, v in last.items()})
            if select is not None and cfg.eval_every > 0 and (s + 1) % cfg.eval_every == 0 and s + 1 < spe:
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
                check(epoch * spe + s + 1)
                t0, c0 = time.perf_counter(), time.process_time()
            if cfg.max_wall_s is not None and wall + time.perf_counter() - t0 > cfg.max_wall_s:
                log.warning("%s: stopping at epoch %d step %d: training wall time over max_wall_s=%g s",
                            desc, epoch + 1, s + 1, cfg.max_wall_s)
                stop = True
                break
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        if select is not None:
            check((epoch + 1) * spe)
        log.info("%s epoch %d: %s (%.0f s wall, %.0f s CPU so far)", desc, epoch + 1, last, wall, cpu)
        _save_ckpt(ckpt, {"model": system.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                          "epoch": epoch + 1, "wall_s": wall, "cpu_s": cpu, "best": best})
        if stop:
            break
    extra = {}
    if select is not None and best["model"] is not None:
        system.load_state_dict(best["model"])
        extra = {"best_step": best["step"], "best_score": best["score"]}
    system.eval()
    return {"wall_s": wall, "cpu_s": cpu, "steps": cfg.epochs * spe, "steps_run": steps_run, "train_items": int(len(rows)),
            "last_losses": last, **extra, **asdict(cfg)}


def save_system(system: TaskSystem, out: Path, metadata: dict[str, str]) -> Path:
    """Write the codec weights (semantic encoder, JSC encoder, decoder) as float16 safetensors
    (``load_state_dict`` casts them back to float32)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous().clone()
          for k, v in system.state_dict().items()}
    save_file(sd, str(out), metadata={"kind": system.kind, "arch": system.arch, **metadata})
    return out


@torch.no_grad()
def system_accuracy(system: TaskSystem, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                    snr_db: float, channel: str = "awgn", n_keep: int = N_SYMBOLS, batch: int = 500, seed: int = 0) -> float:
    """Accuracy of ``system`` (on its device) over the twin at ``snr_db`` keeping the first
    ``n_keep`` symbols, on uint8 images ``[N, 28, 28]`` with int labels ``[N]``."""
    system.eval()
    dev = next(system.parameters()).device
    images, labels = torch.as_tensor(images).to(dev), torch.as_tensor(labels).to(dev)
    gen = torch.Generator().manual_seed(seed)
    correct = 0
    for i in range(0, len(images), batch):
        x = images_to_tensor(images[i:i + batch])
        b = x.shape[0]
        snr = torch.full((b,), float(snr_db))
        z, _, _ = system.encode(x, snr.to(dev))
        z_hat, nv, mask = through_twin(z, snr, (channel,), torch.full((b,), n_keep), gen)
        logits, _ = system.decoder(z_hat, nv, mask)
        correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
    return correct / max(1, len(images))


@torch.no_grad()
def twin_accuracies(system: TaskSystem, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                    points: list[tuple[str, float]], n_keep: int = N_SYMBOLS, batch: int = 500,
                    seed: int = 0) -> dict[tuple[str, float], float]:
    """Accuracy of ``system`` over the twin at each ``(channel, snr_db)`` of ``points`` keeping the
    first ``n_keep`` symbols; the encoder runs once per batch for all points (its SNR input is
    that of the point). Same draws as :func:`system_accuracy` for a point with the same ``seed``."""
    system.eval()
    dev = next(system.parameters()).device
    if isinstance(images, np.ndarray) and not images.flags.writeable:
        images, labels = np.array(images), np.array(labels)  # the loader's arrays are read-only
    images, labels = torch.as_tensor(images).to(dev), torch.as_tensor(labels).to(dev)
    gens = {p: torch.Generator().manual_seed(seed) for p in points}
    correct = {p: 0 for p in points}
    for i in range(0, len(images), batch):
        x = images_to_tensor(images[i:i + batch])
        b = x.shape[0]
        feat = system.semantic_features(x)
        for ch, snr_db in points:
            snr = torch.full((b,), float(snr_db))
            z, _, _ = system.jsc(feat, snr.to(dev))
            z_hat, nv, mask = through_twin(z, snr, (ch,), torch.full((b,), n_keep), gens[(ch, snr_db)])
            logits, _ = system.decoder(z_hat, nv, mask)
            correct[(ch, snr_db)] += int((logits.argmax(1) == labels[i:i + batch]).sum())
    return {p: c / max(1, len(images)) for p, c in correct.items()}


def val_accuracy(system: TaskSystem, snr_db: float, channel: str = "awgn") -> float:
    """Accuracy on the validation split (never the test split) over the twin (``system``'s device)."""
    xv, yv = load_split("val")
    return system_accuracy(system, xv, yv, snr_db, channel)
