"""Registered codecs ``task-fmnist`` (student, codec_id 1) and ``teacher-jscc`` (codec_id 2).

    codec = load_codec("models/task_fmnist.yaml")
    frame = codec.encode(image_uint8_28x28, budget=64, snr_db=5.0)     # SemanticFrame, tiers [8,16,32,64]
    out = codec.decode(rx_frame)           # Decoded(content=uint8 [28,28], tasks={"class", "class_name", "probs"})

Both are built from a YAML model card (:class:`TaskCard`) whose weights file is checked against
the card's SHA-256 and loaded with safetensors only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from safetensors.torch import load_file

from semcom_ota.config import StrictModel, load_yaml
from semcom_ota.frames import FrameMeta, RxSemanticFrame, SemanticFrame
from semcom_ota.semantic.base import Codec, Decoded, codecs
from semcom_ota.semantic.task.nets import CLASS_NAMES, N_SYMBOLS, TIERS, TaskSystem, images_to_tensor

BUDGETS = (16, 32, 64)


class TaskCard(StrictModel):
    """Model card of a task codec (``models/task_*.yaml``)."""

    codec: Literal["task-fmnist", "teacher-jscc"]
    kind: Literal["student", "teacher"]
    arch: Literal["v1", "v2"] = "v1"  # network generation (semcom_ota.semantic.task.nets.ARCHS)
    weights: str  # path relative to the card
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    n_symbols: int = N_SYMBOLS
    tiers: list[int] = list(TIERS)
    budgets: list[int] = list(BUDGETS)
    data: str
    training: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    notes: str = ""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_system(card_path: str | Path, expect_codec: str | None = None) -> tuple[TaskSystem, TaskCard]:
    """Read a card, verify its weights (existence, SHA-256, tensor names/shapes) and build the net."""
    card_path = Path(card_path)
    card = load_yaml(card_path, TaskCard)
    if expect_codec and card.codec != expect_codec:
        raise ValueError(f"model card {card_path}: codec={card.codec!r}, expected {expect_codec!r}")
    if tuple(card.tiers) != TIERS or card.n_symbols != N_SYMBOLS:
        raise ValueError(f"model card {card_path}: tiers={card.tiers} n_symbols={card.n_symbols}, "
                         f"expected tiers={list(TIERS)} n_symbols={N_SYMBOLS} (the network's layout)")
    wpath = (card_path.parent / card.weights).resolve()
    if not wpath.is_file():
        raise FileNotFoundError(f"model card {card_path}: weights {card.weights!r} -> {wpath}: not found")
    digest = sha256_file(wpath)
    if digest != card.sha256:
        raise ValueError(f"model card {card_path}: weights {wpath.name} sha256={digest}, expected {card.sha256} "
                         "(card and weights do not match; retrain or fix the card)")
    system = TaskSystem(card.kind, arch=card.arch)
    state = load_file(str(wpath))
    want = system.state_dict()
    missing = sorted(set(want) - set(state))
    unexpected = sorted(set(state) - set(want))
    bad = sorted(k for k in set(want) & set(state) if tuple(want[k].shape) != tuple(state[k].shape))
    if missing or unexpected or bad:
        raise ValueError(f"model card {card_path}: weights {wpath.name} do not fit a {card.kind} TaskSystem (arch {card.arch}): "
                         f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shapes {bad[:3]}")
    system.load_state_dict(state)
    return system.eval(), card


def _check_image(content: Any) -> np.ndarray:
    img = np.asarray(content)
    if img.shape != (28, 28) or img.dtype != np.uint8:
        raise ValueError(f"content: shape {img.shape} dtype {img.dtype}, expected a uint8 [28, 28] Fashion-MNIST image")
    return img


def budget_to_n(budget: int) -> int:
    """The largest tier end not above ``budget`` (complex symbols)."""
    fits = [t for t in TIERS if t <= int(budget)]
    if not fits:
        raise ValueError(f"budget={budget}: expected at least {TIERS[0]} complex symbols (tiers {list(TIERS)})")
    return fits[-1]


class TaskCodec(Codec):
    """Task-oriented image codec: light semantic + SNR-adaptive JSC encoder, task decoder.

    Parameters
    ----------
    card_path: the YAML model card (``models/task_fmnist.yaml``).
    """

    name = "task-fmnist"
    codec_id = 1
    kind = "student"

    def __init__(self, card_path: str | Path) -> None:
        self.system, self.card = load_system(card_path, expect_codec=self.name)
        self.card_path = Path(card_path)
        self._seq = 0

    # ---------------------------------------------------------------- batch paths (vectorised)
    @torch.no_grad()
    def encode_batch(self, images: np.ndarray, n: int, snr_db: float | np.ndarray) -> np.ndarray:
        """uint8 ``[B, 28, 28]`` -> complex64 ``[B, n]`` (``n`` a tier end), unit power per tier."""
        if n not in TIERS:
            raise ValueError(f"n={n}: expected a tier end {list(TIERS)}")
        x = images_to_tensor(images)
        snr = torch.as_tensor(np.broadcast_to(np.asarray(snr_db, np.float32), (x.shape[0],)).copy())
        z, _, _ = self.system.encode(x, snr)
        return z[:, :n].numpy().astype(np.complex64)

    @torch.no_grad()
    def decode_batch(self, z_hat: np.ndarray, noise_var: np.ndarray, mask: np.ndarray, reconstruct: bool = True):
        """complex64 ``[B, m]``, float32 ``[B, m]``, bool ``[B, m]`` (``m <= 64``; padded as missing)
        -> (probs float32 ``[B, 10]``, reconstruction uint8 ``[B, 28, 28]`` or None)."""
        z_hat, noise_var, mask = np.asarray(z_hat), np.asarray(noise_var, np.float32), np.asarray(mask, bool)
        b, m = z_hat.shape
        if m > N_SYMBOLS or noise_var.shape != (b, m) or mask.shape != (b, m):
            raise ValueError(f"decode_batch: z_hat {z_hat.shape}, noise_var {noise_var.shape}, mask {mask.shape}: "
                             f"expected matching [B, m] with m <= {N_SYMBOLS}")
        pad = N_SYMBOLS - m
        zz = np.pad(z_hat.astype(np.complex64), ((0, 0), (0, pad)))
        nv = np.pad(noise_var, ((0, 0), (0, pad)), constant_values=np.inf)
        mk = np.pad(mask, ((0, 0), (0, pad)))
        zz = np.where(mk & np.isfinite(zz), zz, 0).astype(np.complex64)
        logits, h = self.system.decoder(torch.from_numpy(zz), torch.from_numpy(nv), torch.from_numpy(mk))
        probs = torch.softmax(logits, 1).numpy()
        rec = None
        if reconstruct:
            rec = (self.system.decoder.reconstruct(h)[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        return probs, rec

    # ---------------------------------------------------------------- the Codec contract
    def encode(self, content: Any, budget: int = 64, snr_db: float = 10.0) -> SemanticFrame:
        """uint8 ``[28, 28]`` image -> SemanticFrame of ``n`` = largest tier end ≤ ``budget`` symbols."""
        img = _check_image(content)
        n = budget_to_n(budget)
        z = self.encode_batch(img[None], n, float(snr_db))[0]
        meta = FrameMeta(codec_id=self.codec_id, seq=self._seq, snr_db=float(snr_db), content_shape=(28, 28))
        self._seq = (self._seq + 1) % 256
        return SemanticFrame(z, [t for t in TIERS if t <= n], meta)

    def decode(self, frame: RxSemanticFrame) -> Decoded:
        """RxSemanticFrame -> Decoded(content=uint8 [28,28], tasks={"class", "class_name", "probs"})."""
        if not frame.status.decodable:
            raise ValueError(f"decode: frame status {frame.status.value!r}, expected ok or truncated")
        if frame.n > N_SYMBOLS:
            raise ValueError(f"decode: {frame.n} symbols, expected at most {N_SYMBOLS}")
        probs, rec = self.decode_batch(frame.symbols[None], frame.noise_var[None], frame.mask[None])
        k = int(probs[0].argmax())
        return Decoded(content=rec[0], tasks={"class": k, "class_name": CLASS_NAMES[k], "probs": probs[0].tolist()})


class TeacherJSCCCodec(TaskCodec):
    """The teacher's (large) semantic encoder with the same JSC layers and decoder (codec_id 2)."""

    name = "teacher-jscc"
    codec_id = 2
    kind = "teacher"


codecs.register("task-fmnist")(TaskCodec)
codecs.register("teacher-jscc")(TeacherJSCCCodec)
