"""Evaluation of the task-oriented Fashion-MNIST schemes (issue 8): classification accuracy on the
held-out test split, over the channel twin (or a link), at given SNRs and channel uses.

Schemes (``ResultRow.scheme``):

- ``semantic``: the student codec ``task-fmnist`` (``models/task_fmnist.yaml``);
- ``teacher-jscc``: the large teacher's encoder with the same JSC layers (``models/teacher_jscc.yaml``);
- ``digital``: the separation baseline (always at symbol level, :func:`simulate_channel`) (JPEG/WebP/AVIF + LDPC + QAM at the best MCS per SNR,
  :class:`~semcom_ota.baselines.schemes.DigitalImageScheme`) at the same channel uses; the received
  image is classified by the teacher. Per (SNR, channel uses) the row reports the best of the image
  codecs (an oracle choice that favours the baseline). Below the smallest MCS/LDPC codeword (113
  channel uses) nothing fits, and below ~512 uses no 28×28 file fits (WebP's smallest is 56 bytes);
  then the receiver classifies its fallback, the mean training image.

Rows: ``task="classify"``, ``metric="accuracy"``, ``channel`` = the channel kind for the twin, or
``"<link>:<channel>"`` for a link (``sim``: in-process simulator; ``gnuradio``: the loopback
flowgraphs), where frames go through the OFDM PHY and lost frames count as errors.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from semcom_ota.progress import progress
from semcom_ota.results import ResultRow
from semcom_ota.seeding import make_rng
from semcom_ota.semantic.task.codec import TaskCodec, budget_to_n
from semcom_ota.semantic.task.nets import TIERS, TeacherNet, images_to_tensor

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
STUDENT_CARD = ROOT / "models" / "task_fmnist.yaml"
TEACHER_CARD = ROOT / "models" / "teacher_jscc.yaml"
SCHEMES = ("semantic", "teacher-jscc", "digital")
LINKS = ("twin", "sim", "gnuradio")
DIGITAL_CODECS = ("jpeg", "webp", "avif")


@dataclass
class TaskEvalConfig:
    """What to evaluate. ``n`` test images (the first ``n`` of a seeded permutation of the test split)."""

    snr_db: tuple[float, ...] = (0.0, 5.0, 10.0)
    channels: tuple[str, ...] = ("awgn",)
    symbols: tuple[int, ...] = (16, 32, 64)
    schemes: tuple[str, ...] = SCHEMES
    link: str = "twin"
    n: int = 1000
    n_digital: int | None = None  # images for the (slow, per-image LDPC) digital rows; default n
    seed: int = 0
    student_card: Path = STUDENT_CARD
    teacher_card: Path = TEACHER_CARD

    def __post_init__(self) -> None:
        bad = [s for s in self.schemes if s not in SCHEMES]
        if bad:
            raise ValueError(f"schemes {bad}: expected some of {list(SCHEMES)}")
        if self.link not in LINKS:
            raise ValueError(f"link={self.link!r}: expected one of {list(LINKS)}")
        for s in self.symbols:
            if int(s) < TIERS[0]:
                raise ValueError(f"symbols={s}: expected >= {TIERS[0]} complex symbols per image")
        if self.n < 1:
            raise ValueError(f"n={self.n}: expected >= 1 test images")


def test_subset(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` held-out test images and labels (a seeded permutation of the test split)."""
    from semcom_ota.train.task import load_split

    x, y = load_split("test")
    if n > len(x):
        raise ValueError(f"n={n}: the test split has {len(x)} images")
    idx = np.sort(make_rng(seed).permutation(len(x))[:n])
    return x[idx], y[idx]


#: semantic features of recent image batches, keyed by (id of the codec's system, digest of the
#: uint8 batch): the semantic encoder does not depend on the SNR or the budget, so a sweep over
#: channel points runs it once per batch (the teacher-jscc sweep of the benchmark: 1 pass, not 32)
#: the value keeps the system alive, so its id cannot be reused by another system while cached
_FEATURES: dict[tuple[int, str], tuple[torch.nn.Module, torch.Tensor]] = {}


@torch.no_grad()
def _encode_cached(codec: TaskCodec, images: np.ndarray, n_symbols: int, snr_db: float) -> torch.Tensor:
    """Same as ``codec.encode_batch(images, n_symbols, snr_db)`` (complex64 ``[B, n]``) with the
    semantic features memoised in :data:`_FEATURES` (eval only: the weights must not change)."""
    import hashlib

    if n_symbols not in TIERS:
        raise ValueError(f"n={n_symbols}: expected a tier end {list(TIERS)}")
    if not hasattr(codec.system, "semantic_features"):  # e.g. an ONNX Runtime encoder: no split to memoise
        return torch.as_tensor(codec.encode_batch(images, n_symbols, snr_db))
    imgs = np.ascontiguousarray(images)
    key = (id(codec.system), hashlib.blake2b(imgs.tobytes(), digest_size=16).hexdigest() + str(imgs.shape))
    hit = _FEATURES.get(key)  # the entry holds the system, so an id in a key is never reused while cached
    if hit is not None:
        feat = hit[1]
    else:
        if len(_FEATURES) >= 16:
            _FEATURES.clear()
        codec.system.eval()
        feat = codec.system.semantic_features(images_to_tensor(imgs))
        _FEATURES[key] = (codec.system, feat)
    snr = torch.full((imgs.shape[0],), float(snr_db))
    z, _, _ = codec.system.jsc(feat, snr)
    return z[:, :n_symbols].to(torch.complex64)


@torch.no_grad()
def codec_accuracy_twin(codec: TaskCodec, images: np.ndarray, labels: np.ndarray, n_symbols: int, snr_db: float,
                        channel: str, seed: int = 0, batch: int = 500) -> float:
    """Accuracy of ``codec`` with ``n_symbols`` (a tier end) over the twin (vectorised; the
    semantic features of each batch are computed once per codec and reused across calls)."""
    from semcom_ota.channel.twin import ChannelTwin

    gen = torch.Generator().manual_seed(seed)
    twin = ChannelTwin(kind=channel)
    correct = 0
    for i in range(0, len(images), batch):
        z = _encode_cached(codec, images[i:i + batch], n_symbols, snr_db)
        z_hat, nv = twin(z, float(snr_db), generator=gen)
        probs, _ = codec.decode_batch(z_hat.numpy(), nv.numpy(), np.ones(z.shape, bool), reconstruct=False)
        correct += int((probs.argmax(1) == labels[i:i + batch]).sum())
    return correct / len(images)


def codec_accuracy_link(codec: TaskCodec, images: np.ndarray, labels: np.ndarray, n_symbols: int, snr_db: float,
                        channel: str, link: str, seed: int = 0) -> tuple[float, dict]:
    """Accuracy of ``codec`` with frames through the OFDM PHY and a link (``sim`` or ``gnuradio``).

    One frame per image, one link per call; a frame the PHY loses (CRC, sync, timeout) counts as a
    misclassification. Returns (accuracy, transport summary).
    """
    from semcom_ota.frames import SemanticFrame
    from semcom_ota.link import open_link, transmit_frames

    frames = []
    z = codec.encode_batch(images, n_symbols, snr_db)
    for i in range(len(images)):
        f = SemanticFrame(z[i], [t for t in TIERS if t <= n_symbols])
        f.meta.codec_id, f.meta.seq, f.meta.snr_db, f.meta.content_shape = codec.codec_id, i % 256, float(snr_db), (28, 28)
        frames.append(f)
    if link == "sim":
        kw: dict = {"snr_db": float(snr_db), "seed": seed}
        if channel == "rayleigh":
            kw["fading"] = "rayleigh"
    else:
        kw = {"snr_db": float(snr_db), "seed": seed,
              "flowgraph": "loopback_fading" if channel == "rayleigh" else "loopback_channel"}
    correct = 0
    # sequence numbers are 8 bits: send in chunks of 256 frames so that every frame is identifiable
    summary: dict = {"sent": 0, "decoded": 0}
    for lo in range(0, len(frames), 256):
        chunk = frames[lo:lo + 256]
        with open_link(link, **kw) as lk:
            res = transmit_frames(chunk, lk)
        summary["sent"] += res.sent
        summary["decoded"] += res.decoded
        for j, rx in enumerate(res.rx):
            if rx.status.decodable:
                correct += int(codec.decode(rx).tasks["class"] == labels[lo + j])
    return correct / len(images), summary


@torch.no_grad()
def teacher_classify(teacher: TeacherNet, images: np.ndarray) -> np.ndarray:
    """int64 ``[B]`` classes of uint8 images ``[B, 28, 28]`` by the teacher (clean classifier)."""
    return teacher.eval()(images_to_tensor(images)).argmax(1).numpy()


def digital_accuracy(teacher: TeacherNet, images: np.ndarray, labels: np.ndarray, channel_uses: int, snr_db: float,
                     channel: str, seed: int = 0) -> tuple[float, str]:
    """Best accuracy over :data:`DIGITAL_CODECS` of the separation baseline + teacher classifier."""
    from semcom_ota.baselines.schemes import DigitalImageScheme

    best = (-1.0, "")
    for name in DIGITAL_CODECS:
        try:
            # the -E[MSE] outage-aware rate rule the task tables were measured with (the metric here is
            # accuracy, which neither rate rule targets)
            scheme = DigitalImageScheme(codec=name, mean_image=mean_train_image(), rate_quality="mse")
        except (RuntimeError, ValueError) as err:  # e.g. no AVIF in this Pillow
            log.warning("digital codec %s unavailable: %s", name, err)
            continue
        rng = make_rng(seed)
        try:
            rec = np.stack([scheme.transmit(img, channel_uses, snr_db, channel, rng)[0] for img in images])
        except ValueError as err:
            if "too small" not in str(err):
                raise
            # no MCS fits one LDPC codeword in this many channel uses: nothing arrives, and the
            # receiver classifies its fallback (the mean training image)
            log.info("digital %s at %d channel uses: %s", name, channel_uses, err)
            rec = np.repeat(mean_train_image()[None], len(images), axis=0)
            name = f"{name} (does not fit: mean image)"
        acc = float((teacher_classify(teacher, rec) == labels).mean())
        if acc > best[0]:
            best = (acc, name)
    return best


@functools.lru_cache(maxsize=1)
def mean_train_image() -> np.ndarray:
    """uint8 ``[28, 28]`` mean of the training split (the receiver's fallback when nothing arrives)."""
    from semcom_ota.train.task import load_split

    x, _ = load_split("train")
    return np.round(x.mean(axis=0)).astype(np.uint8)


def evaluate_task(cfg: TaskEvalConfig) -> list[ResultRow]:
    """Run the evaluation grid; returns DESIGN §2 result rows."""
    from semcom_ota.semantic.base import load_codec

    images, labels = test_subset(cfg.n, cfg.seed)
    codecs: dict[str, TaskCodec] = {}
    if "semantic" in cfg.schemes:
        codecs["semantic"] = load_codec(cfg.student_card)
    if "teacher-jscc" in cfg.schemes or "digital" in cfg.schemes:
        codecs["teacher-jscc"] = load_codec(cfg.teacher_card)
    rows: list[ResultRow] = []
    grid = [(ch, s, k) for ch in cfg.channels for s in cfg.snr_db for k in cfg.symbols]
    for ch, snr, k in progress(grid, desc="eval task", unit="point"):
        n_sym = budget_to_n(k)
        chan = ch if cfg.link == "twin" else f"{cfg.link}:{ch}"
        for scheme in ("semantic", "teacher-jscc"):
            if scheme in cfg.schemes:
                if cfg.link == "twin":
                    acc = codec_accuracy_twin(codecs[scheme], images, labels, n_sym, snr, ch, cfg.seed)
                else:
                    acc, summ = codec_accuracy_link(codecs[scheme], images, labels, n_sym, snr, ch, cfg.link, cfg.seed)
                    log.info("%s over %s %s %g dB: %s", scheme, cfg.link, ch, snr, summ)
                rows.append(ResultRow("classify", scheme, chan, float(snr), n_sym, "accuracy", acc, len(images)))
        if "digital" in cfg.schemes:
            nd = cfg.n_digital or cfg.n
            teacher = codecs["teacher-jscc"].system.semantic
            acc, name = digital_accuracy(teacher, images[:nd], labels[:nd], k, snr, ch, cfg.seed)
            log.info("digital %s %g dB %d uses: best codec %s", ch, snr, k, name)
            rows.append(ResultRow("classify", "digital", chan, float(snr), int(k), "accuracy", acc, nd))
    return rows
