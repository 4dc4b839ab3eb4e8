#!/usr/bin/env python
"""Peer benchmark: pykaira's DeepJSCC (Bourtsoulatze et al. 2019) beside the project's image JSCC,
both trained from scratch on the same photos for the same CPU time, on the same AWGN twin.

    .venv/bin/python scripts/bench/image_peer.py prep                 # training pool + test photos -> checkpoints/peer/
    .venv/bin/python scripts/bench/image_peer.py train-ours --cpu-minutes 12   # --arch plain: PlainJSCC instead
    .venv/bin/python scripts/bench/image_peer.py train-peer --cbr 1/12 --cpu-minutes 12   # runs under .peer-venv
    .venv/bin/python scripts/bench/image_peer.py eval                 # the side-by-side table (every ours-checkpoint)
    .venv/bin/python scripts/bench/image_peer.py all --cpu-minutes 12  # all of the above, one after the other

Training recipe (both models): the code of :mod:`semcom_ota.train.image` — random 64×64 crops of the
multi-scale pool of ``load_photos('train')`` (flips, 90° turns), batch 16, Adam, lr 1e-3 -> 1e-4
cosine, MSE loss, SNR ~ U(0, 20) dB per image through the AWGN :class:`ChannelTwin`. For a fair peer
comparison ours trains on AWGN only and without side images (the shipped card mixes Rayleigh and
per-subcarrier fading and side images in); it keeps its random truncation (one model for every k/n),
while the peer is one model per k/n (its design: ``num_transmitted_filters`` = c fixes the ratio,
k/n = c/96 at its ×4 downsampling, so c = 8 for 1/12 and c = 4 for 1/24; :func:`peer_filters`).

Ours is ``--arch resaf`` (default: ``ImageJSCC`` width 64, as ``models/image_semantic.yaml``;
checkpoint ``ours.pt``) or ``--arch plain`` (``PlainJSCC`` width 48, 8 complex channels of k/n 1/48,
as ``models/image_semantic_plain.yaml``; checkpoint ``ours_plain.pt``), built by :func:`ours_model`
from :data:`OURS_ARCHS`. ``eval`` shows a column for every ours-checkpoint present (``--arch`` names
one that must be there).

Budget: CPU seconds of the training process (``time.process_time()``, one torch thread), counted
over the training steps only (pool loading excluded for both), saved in the checkpoint so a resumed
run continues the same budget; the lr schedule follows the fraction of the budget spent. The
machine may be shared: process time, unlike wall time, is not charged for other jobs.

pykaira (``pip install --no-deps pykaira==0.2.1``) lives in a separate venv (``.peer-venv``), never
in the project's dependencies: its requirements pull CUDA builds of torchvision/torchaudio that fail
to load next to the CPU torch (``operator torchvision::nms does not exist``). Nothing in its image
DeepJSCC model uses them, but ``import kaira`` imports every submodule, so the peer worker installs
import-time stand-ins for ``torchvision``, ``torchaudio`` and ``compressai`` (:func:`stub_modules`)
before importing kaira. The peer's parts used: ``Bourtsoulatze2019DeepJSCCEncoder/Decoder`` and
``AveragePowerConstraint(1.0)`` (unit mean power per complex symbol, per image).

Evaluation is that of ``scripts/bench/image.py``: the held-out test photos (``load_eval_images``,
128×128 centre crops of the downscaled photos), k/n = 1/12 and 1/24, AWGN twin with the seeded
per-frame generators of :func:`semcom_ota.eval.image.twin_channel`, mean per-image PSNR
(:func:`semcom_ota.eval.image_metrics.psnr_db`). The peer's symbols cross the process boundary as
files: its worker encodes the test photos, this process sends them through the twin, the worker
decodes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
OUT = ROOT / "checkpoints" / "peer"
PEER_PYTHON = ROOT / ".peer-venv" / "bin" / "python"
PEER_STRIDE = 4  # Bourtsoulatze encoder: two stride-2 convolutions
SIZE = 128
CROP, BATCH, LR, LR_FINAL = 64, 16, 1e-3, 1e-4  # semcom_ota.train.image defaults
SNR_MIN_DB, SNR_MAX_DB = 0.0, 20.0
CKPT_EVERY_S = 60.0  # CPU seconds between checkpoints
# ours: --arch -> (checkpoint name, model card ``architecture``), as the shipped cards of each arch
OURS_ARCHS = {"resaf": ("ours", {"width": 64, "n_complex": 32, "group": 4}),
              "plain": ("ours_plain", {"arch": "plain", "width": 48, "n_complex": 8, "group": 1})}


# --------------------------------------------------------------------------- budget accounting
class CpuBudget:
    """CPU-time budget of a training run, resumable.

    ``total_s``: the budget (CPU seconds); ``spent_before_s``: CPU seconds spent by earlier runs (from
    the checkpoint). :meth:`spent` = earlier + this process's ``time.process_time()`` since
    :meth:`start`; ``clock`` is injectable for tests.
    """

    def __init__(self, total_s: float, spent_before_s: float = 0.0, clock=time.process_time) -> None:
        if not total_s > 0:
            raise ValueError(f"CpuBudget: total_s={total_s}, expected > 0 CPU seconds")
        if spent_before_s < 0:
            raise ValueError(f"CpuBudget: spent_before_s={spent_before_s}, expected >= 0")
        self.total_s, self.before, self.clock = float(total_s), float(spent_before_s), clock
        self.t0: float | None = None

    def start(self) -> None:
        self.t0 = self.clock()

    def spent(self) -> float:
        if self.t0 is None:
            raise RuntimeError("CpuBudget.spent() before start()")
        return self.before + self.clock() - self.t0

    def done(self) -> bool:
        return self.spent() >= self.total_s

    def fraction(self) -> float:
        """Share of the budget spent, in [0, 1] (drives the lr schedule)."""
        return min(self.spent() / self.total_s, 1.0)


def cosine_lr(frac: float, lr: float = LR, lr_final: float = LR_FINAL) -> float:
    """Cosine decay from ``lr`` to ``lr_final`` as ``frac`` goes 0 -> 1 (as ``semcom_ota.train.image.lr_at``)."""
    frac = min(max(frac, 0.0), 1.0)
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * frac))


def parse_ratio(text: str) -> Fraction:
    try:
        v = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"cbr={text!r}: expected a ratio k/n such as 1/12") from None
    if not 0 < v <= 1:
        raise ValueError(f"cbr={text!r}: expected 0 < k/n <= 1")
    return v


def peer_filters(cbr: Fraction) -> int:
    """Bourtsoulatze's c (``num_transmitted_filters``) for k/n = ``cbr`` (k complex channel uses per n
    real pixel values): c real values per (H/4)·(W/4) position -> k/n = c / (2·3·16) = c/96.
    So c = 8 for 1/12, 4 for 1/24 (the paper's CIFAR setting: c = 16 for 1/6)."""
    c = cbr * 2 * 3 * PEER_STRIDE * PEER_STRIDE
    if c.denominator != 1 or c < 1:
        raise ValueError(f"cbr={cbr}: k/n must be a multiple of 1/96 for Bourtsoulatze's DeepJSCC (c = 96·k/n integer)")
    return int(c)


def tag(cbr: Fraction) -> str:
    return f"{cbr.numerator}-{cbr.denominator}"


def ours_arch(arch: str) -> tuple[str, dict]:
    """``--arch`` -> (checkpoint name, card ``architecture`` mapping); an unknown arch is refused."""
    if arch not in OURS_ARCHS:
        raise ValueError(f"arch={arch!r}: expected one of {sorted(OURS_ARCHS)}")
    return OURS_ARCHS[arch]


def ours_model(arch: str = "resaf") -> torch.nn.Module:
    """Our untrained network for ``--arch`` (``ImageJSCC`` for resaf, ``PlainJSCC`` for plain)."""
    from semcom_ota.semantic.image.model import build_image_model

    return build_image_model(**ours_arch(arch)[1])


# --------------------------------------------------------------------------- peer (runs in .peer-venv)
def stub_modules(names=("torchvision", "torchaudio", "compressai")) -> None:
    """Import-time stand-ins for packages kaira imports at top level but its image DeepJSCC never
    uses (their PyPI builds are CUDA builds that fail next to the CPU torch). Any attribute is an
    inert class; used only in the peer worker."""
    import importlib.abc
    import importlib.machinery
    import types

    class _Stub(types.ModuleType):
        __path__: list[str] = []

        def __getattr__(self, name: str):
            if name.startswith("__"):
                raise AttributeError(name)
            return type(name, (), {"__init__": lambda self, *a, **k: None})

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname.split(".")[0] in names:
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            return _Stub(spec.name)

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _Finder())


class PeerDeepJSCC(torch.nn.Module):
    """pykaira's Bourtsoulatze (2019) encoder + average power constraint + decoder.

    :meth:`encode`: float32 ``[B, 3, H, W]`` in [0, 1] -> complex64 ``[B, n]``, ``n = c·H·W/32``,
    mean ``|z|² = 1`` per image. :meth:`decode`: received complex64 ``[B, n]`` -> ``[B, 3, H, W]``.
    """

    def __init__(self, c: int) -> None:
        super().__init__()
        stub_modules()
        from kaira.constraints.power import AveragePowerConstraint
        from kaira.models.image.bourtsoulatze2019_deepjscc import (
            Bourtsoulatze2019DeepJSCCDecoder,
            Bourtsoulatze2019DeepJSCCEncoder,
        )

        if c % 2:
            raise ValueError(f"c={c}: expected an even number of real latent channels (pairs -> complex symbols)")
        self.c = c
        self.encoder = Bourtsoulatze2019DeepJSCCEncoder(num_transmitted_filters=c)
        self.decoder = Bourtsoulatze2019DeepJSCCDecoder(num_transmitted_filters=c)
        self.power = AveragePowerConstraint(1.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        y = self.encoder(x)  # [B, c, H/4, W/4]
        self._latent_shape = y.shape[1:]
        z = torch.view_as_complex(y.reshape(y.shape[0], -1, 2).contiguous())
        return self.power(z)

    def decode(self, z_hat: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b = z_hat.shape[0]
        y = torch.view_as_real(z_hat).reshape(b, self.c, hw[0] // PEER_STRIDE, hw[1] // PEER_STRIDE)
        return self.decoder(y)


# --------------------------------------------------------------------------- shared training loop
def load_pool(path: Path) -> list[tuple[int, np.ndarray]]:
    with np.load(path) as d:
        levels = d["levels"]
        return [(int(levels[i]), d[f"img{i}"]) for i in range(len(levels))]


def train(which: str, cbr: Fraction | None, cpu_minutes: float, seed: int = 0, out: Path = OUT,
          arch: str = "resaf") -> Path:
    """Train ``which`` = ``"ours"`` (:func:`ours_model` of ``arch``, random truncation) or ``"peer"``
    (pykaira DeepJSCC at ``cbr``) until ``cpu_minutes`` of process CPU time are spent; resumes from
    its checkpoint."""
    from semcom_ota.channel.twin import ChannelTwin
    from semcom_ota.progress import progress
    from semcom_ota.train.image import random_crops, to_tensor

    torch.set_num_threads(1)
    name = ours_arch(arch)[0] if which == "ours" else f"peer_{tag(cbr)}"
    ckpt = out / f"{name}.pt"
    pool = load_pool(out / "train_pool.npz")
    model = ours_model(arch) if which == "ours" else PeerDeepJSCC(peer_filters(cbr))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    step, before, log = 0, 0.0, []
    torch.manual_seed(seed)
    if ckpt.is_file():
        st = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, before, log = int(st["step"]), float(st["cpu_s"]), json.loads(st["log"])
        torch.manual_seed(seed * 100003 + step)
    rng = np.random.default_rng([seed, step])
    budget = CpuBudget(60.0 * cpu_minutes, before)
    twin = ChannelTwin(kind="awgn")
    wall0 = time.time()

    def save() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "cpu_s": budget.spent(),
                    "log": json.dumps(log), "torch": str(torch.__version__)}, tmp)
        tmp.replace(ckpt)

    bar = progress(total=int(budget.total_s), initial=int(before), desc=f"train {name}", unit="cpu-s")
    budget.start()
    last_ck = last_bar = budget.spent()
    ema = float("nan")
    model.train()
    group = getattr(model, "group", 1)
    n_groups = getattr(model, "n_complex", 1) // group
    while not budget.done():
        for g in opt.param_groups:
            g["lr"] = cosine_lr(budget.fraction())
        crops, _ = random_crops(pool, BATCH, CROP, rng)
        x = to_tensor(crops)
        snr = torch.from_numpy(rng.uniform(SNR_MIN_DB, SNR_MAX_DB, BATCH).astype(np.float32))
        if which == "ours":
            m = group * int(rng.integers(1, n_groups + 1))
            z = model.encode(x, snr, m)
            z_hat, nv = twin(z.reshape(BATCH, -1), snr)
            nv = torch.as_tensor(nv, dtype=torch.float32)
            if nv.ndim == 1:
                nv = nv[:, None].expand(BATCH, z_hat.shape[1])
            y = model.decode(z_hat.reshape(z.shape), nv.reshape(z.shape), torch.ones(z.shape, dtype=torch.bool))
        else:
            z = model.encode(x)
            z_hat, _ = twin(z, snr)
            y = model.decode(z_hat, (CROP, CROP))
        loss = torch.mean((y - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        lv = float(loss.detach())
        ema = lv if math.isnan(ema) else 0.98 * ema + 0.02 * lv
        now = budget.spent()
        if now - last_bar >= 5.0:
            bar.update(int(now) - bar.n)
            bar.set_postfix(step=step, psnr=f"{-10 * math.log10(max(ema, 1e-10)):.2f}")
            last_bar = now
        if now - last_ck >= CKPT_EVERY_S:
            log.append([step, round(now, 1), round(-10 * math.log10(max(ema, 1e-10)), 3)])
            save()
            print(f"{name}: step {step}, {now:.0f} CPU-s, {time.time() - wall0:.0f} wall-s, train ema PSNR "
                  f"{-10 * math.log10(max(ema, 1e-10)):.2f} dB", flush=True)
            last_ck = now
    bar.close()
    log.append([step, round(budget.spent(), 1), round(-10 * math.log10(max(ema, 1e-10)), 3)])
    save()
    print(f"{name}: done, {step} steps in {budget.spent():.0f} CPU-s ({time.time() - wall0:.0f} wall-s this run)", flush=True)
    return ckpt


# --------------------------------------------------------------------------- peer worker I/O
def peer_encode(cbr: Fraction, out: Path = OUT) -> None:
    """Worker: test photos (``test_photos.npz``) -> unit-power symbols ``peer_{tag}_tx.npy`` [N, n]."""
    torch.set_num_threads(1)
    model = PeerDeepJSCC(peer_filters(cbr))
    model.load_state_dict(torch.load(out / f"peer_{tag(cbr)}.pt", map_location="cpu", weights_only=True)["model"])
    model.eval()
    with np.load(out / "test_photos.npz") as d:
        x = torch.from_numpy(d["images"]).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        z = model.encode(x)
    np.save(out / f"peer_{tag(cbr)}_tx.npy", z.numpy().astype(np.complex64))


def peer_decode(cbr: Fraction, out: Path = OUT) -> None:
    """Worker: received symbols ``peer_{tag}_rx.npy`` [S, N, n] -> uint8 images ``peer_{tag}_out.npy`` [S, N, H, W, 3]."""
    torch.set_num_threads(1)
    model = PeerDeepJSCC(peer_filters(cbr))
    model.load_state_dict(torch.load(out / f"peer_{tag(cbr)}.pt", map_location="cpu", weights_only=True)["model"])
    model.eval()
    rx = np.load(out / f"peer_{tag(cbr)}_rx.npy")
    res = []
    with torch.no_grad():
        for r in rx:
            y = model.decode(torch.from_numpy(r), (SIZE, SIZE))
            res.append((y.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
    np.save(out / f"peer_{tag(cbr)}_out.npy", np.stack(res))


def run_peer(args: list[str], peer_python: Path) -> None:
    """This script under the peer venv's interpreter (pykaira importable there only)."""
    if not peer_python.is_file():
        raise FileNotFoundError(f"peer interpreter {peer_python}: not found (make .peer-venv as the README says)")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run([str(peer_python), str(Path(__file__).resolve()), *args], check=True, env=env)


# --------------------------------------------------------------------------- main-venv steps
def prep(out: Path = OUT) -> None:
    """Write the training pool (``build_patch_pool`` of ``load_photos('train')``) and the test photos."""
    from semcom_ota.data.photos import load_photos
    from semcom_ota.eval.image import load_eval_images
    from semcom_ota.train.image import build_patch_pool

    out.mkdir(parents=True, exist_ok=True)
    pool = build_patch_pool([p.image for p in load_photos("train")], CROP, np.random.default_rng(0))
    np.savez(out / "train_pool.npz", levels=np.array([lv for lv, _ in pool]), **{f"img{i}": a for i, (_, a) in enumerate(pool)})
    images = load_eval_images("photos", size=SIZE)
    np.savez(out / "test_photos.npz", images=np.stack([im for _, im in images]), names=np.array([n for n, _ in images]))
    print(f"wrote {out}/train_pool.npz ({len(pool)} pool images), test_photos.npz ({len(images)} photos)")


def write_ours_card(out: Path = OUT, arch: str = "resaf") -> Path:
    """Our trained checkpoint of ``arch`` -> a model card + safetensors that ``ImageSemanticCodec`` loads."""
    import yaml
    from safetensors.torch import save_file

    name, architecture = ours_arch(arch)
    st = torch.load(out / f"{name}.pt", map_location="cpu", weights_only=True)
    save_file({k: v.contiguous() for k, v in st["model"].items()}, str(out / f"{name}.safetensors"))
    card = {"codec": "image-semantic", "weights": f"{name}.safetensors",
            "architecture": dict(architecture), "default_shape": [SIZE, SIZE, 3],
            "notes": f"scripts/bench/image_peer.py: AWGN only, no side images, {int(st['step'])} steps, "
                     f"{st['cpu_s']:.0f} CPU-s on 1 thread"}
    path = out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(card, sort_keys=False))
    return path


def eval_ours(card: Path | None, cbr: float, snrs: tuple[float, ...], images, seed: int) -> dict[float, float]:
    from semcom_ota.eval.image import ImageEvalConfig, evaluate_image

    cfg = ImageEvalConfig(snr_db=snrs, channel="awgn", cbr=cbr, schemes=("semantic",), seed=seed,
                          card=str(card) if card else None)
    return {r.snr_db: r.value for r in evaluate_image(cfg, images) if r.metric == "psnr_db"}


def eval_peer(cbr: Fraction, snrs: tuple[float, ...], images, seed: int, peer_python: Path, out: Path = OUT) -> dict[float, float]:
    """Peer PSNR per SNR: worker encodes, the twin of ``scripts/bench/image.py`` carries, worker decodes."""
    from semcom_ota.eval.image import twin_channel
    from semcom_ota.eval.image_metrics import psnr_db
    from semcom_ota.frames import SemanticFrame

    run_peer(["peer-encode", "--cbr", str(cbr)], peer_python)
    tx = np.load(out / f"peer_{tag(cbr)}_tx.npy")
    budget = int(round(float(cbr) * SIZE * SIZE * 3))
    if tx.shape[1] != budget:
        raise RuntimeError(f"peer at k/n={cbr}: {tx.shape[1]} symbols per image, expected the budget {budget}")
    send = twin_channel("awgn", seed)
    frames = [SemanticFrame(t, [t.shape[0]]) for t in tx]
    rx = np.stack([np.stack([f.symbols for f in send(frames, snr)]) for snr in snrs])
    np.save(out / f"peer_{tag(cbr)}_rx.npy", rx)
    run_peer(["peer-decode", "--cbr", str(cbr)], peer_python)
    rec = np.load(out / f"peer_{tag(cbr)}_out.npy")
    ref = np.stack([im for _, im in images])
    return {snr: float(np.mean(psnr_db(ref, rec[i]))) for i, snr in enumerate(snrs)}


def evaluate(cbrs: list[Fraction], snrs: tuple[float, ...], seed: int, peer_python: Path, out: Path = OUT,
             arch: str = "resaf") -> str:
    """The table per k/n: peer, one ``ours`` column per ours-checkpoint present (``arch``'s must be),
    the shipped card, and each minus the peer. Also writes ``results.json``."""
    from semcom_ota.eval.image import load_eval_images

    if not (out / f"{ours_arch(arch)[0]}.pt").is_file():
        raise FileNotFoundError(f"{out / ours_arch(arch)[0]}.pt: not found (run train-ours --arch {arch} first)")
    images = load_eval_images("photos", size=SIZE)
    archs = [a for a in OURS_ARCHS if (out / f"{OURS_ARCHS[a][0]}.pt").is_file()]
    cards = {a: write_ours_card(out, a) for a in archs}
    ours_st = {a: torch.load(out / f"{OURS_ARCHS[a][0]}.pt", map_location="cpu", weights_only=True) for a in archs}
    cols = [f"ours-{a}" for a in archs] + ["shipped"]
    net = {"resaf": "ImageJSCC width 64", "plain": "PlainJSCC width 48"}
    lines, results = [], {}
    for cbr in cbrs:
        ck = out / f"peer_{tag(cbr)}.pt"
        peer = eval_peer(cbr, snrs, images, seed, peer_python, out) if ck.is_file() else {}
        peer_st = torch.load(ck, map_location="cpu", weights_only=True) if ck.is_file() else None
        res = {f"ours-{a}": eval_ours(cards[a], float(cbr), snrs, images, seed) for a in archs}
        res["shipped"] = eval_ours(None, float(cbr), snrs, images, seed)
        k = int(round(float(cbr) * SIZE * SIZE * 3))
        peer_h = (f"pykaira DeepJSCC c={peer_filters(cbr)}: {peer_st['step']} steps, {peer_st['cpu_s']:.0f} CPU-s"
                  if peer_st else "pykaira DeepJSCC: not trained at this k/n")
        lines += [f"\nPSNR dB | AWGN twin | k/n = {cbr} ({k} channel uses per {SIZE}x{SIZE}) | {len(images)} test photos",
                  f"  peer        = {peer_h}"]
        lines += [f"  {'ours-' + a:<11} = {net[a]}, same recipe, AWGN only, no side images: {ours_st[a]['step']} steps, "
                  f"{ours_st[a]['cpu_s']:.0f} CPU-s" for a in archs]
        lines += ["  shipped     = models/image_semantic.yaml (2685 CPU-s on 1 thread + 362 s on an H100; AWGN/Rayleigh/"
                  "subcarrier mix, side images)",
                  f"{'SNR dB':>7} {'peer':>8}" + "".join(f" {c:>11}" for c in cols) + "".join(f" {c + '-peer':>16}" for c in cols)]
        for snr in snrs:
            p = peer.get(snr, float("nan"))
            lines.append(f"{snr:>7g} {p:>8.2f}" + "".join(f" {res[c][snr]:>11.2f}" for c in cols)
                         + "".join(f" {res[c][snr] - p:>16.2f}" for c in cols))
        results[str(cbr)] = {"snr_db": list(snrs), "peer": [peer.get(s) for s in snrs],
                             **{c: [res[c][s] for s in snrs] for c in cols},
                             "peer_steps": peer_st["step"] if peer_st else None,
                             "peer_cpu_s": peer_st["cpu_s"] if peer_st else None,
                             **{f"ours-{a}_steps": ours_st[a]["step"] for a in archs},
                             **{f"ours-{a}_cpu_s": ours_st[a]["cpu_s"] for a in archs}}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["prep", "train-ours", "train-peer", "eval", "all", "peer-train", "peer-encode", "peer-decode"])
    ap.add_argument("--cbr", default="1/12,1/24", help="k/n list (train-peer/eval/all)")
    ap.add_argument("--snr-db", default="0,5,10,15,20")
    ap.add_argument("--cpu-minutes", type=float, default=12.0, help="CPU-time budget per model (process time, 1 thread)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arch", choices=sorted(OURS_ARCHS), default="resaf",
                    help="our network (train-ours/eval/all): resaf = ImageJSCC, plain = PlainJSCC width 48")
    ap.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cbrs = [parse_ratio(c) for c in args.cbr.split(",") if c.strip()]
    snrs = tuple(float(s) for s in args.snr_db.split(","))
    for c in cbrs:
        peer_filters(c)  # fail early on a ratio the peer cannot do
    if args.cmd in ("prep", "all"):
        prep()
    if args.cmd in ("train-ours", "all"):
        train("ours", None, args.cpu_minutes, args.seed, arch=args.arch)
    if args.cmd in ("train-peer", "all"):
        for c in cbrs:
            run_peer(["peer-train", "--cbr", str(c), "--cpu-minutes", str(args.cpu_minutes), "--seed", str(args.seed)],
                     args.peer_python)
    if args.cmd in ("eval", "all"):
        print(evaluate(cbrs, snrs, args.seed, args.peer_python, arch=args.arch))
    if args.cmd == "peer-train":
        for c in cbrs:
            train("peer", c, args.cpu_minutes, args.seed)
    if args.cmd == "peer-encode":
        peer_encode(cbrs[0])
    if args.cmd == "peer-decode":
        peer_decode(cbrs[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
