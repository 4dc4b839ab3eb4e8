"""Compression candidates of the convolutional encoders (image codec, task student and teacher),
measured on this machine and scored through the codec and the channel twin on held-out TEST data.

=====================  ===================================================================
``torch-fp32``         the codec's torch encoder (reference)
``ort-fp32``           the encoder exported to ONNX (opset 17), run by ONNX Runtime
``ort-int8``           static int8 QDQ (U8S8: activations QUInt8, weights QInt8 per channel),
                       calibrated on real TRAIN inputs (photo crops / Fashion-MNIST train); the
                       task encoders keep their first (1-channel) convolution in float
``pruned-int8``        75 % of the conv output channels kept (by weight norm), distilled, int8
``pruned-small-int8``  50 % kept, distilled, int8
=====================  ===================================================================

Quality (``quality``): image — mean PSNR (dB) of 128×128 test crops at 5 dB AWGN, k/n = 1/12,
decoded by the torch decoder; task — accuracy on Fashion-MNIST test at 5 dB AWGN with all 64
symbols. The twin's noise is seeded identically for every candidate, so differences are the
encoder's. The budget picker (:func:`~semcom_ota.semantic.compress.budget.pick_least_compression`)
works on these builders unchanged.
"""

from __future__ import annotations

import logging
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import yaml

from semcom_ota.semantic.compress.conv_models import (
    ImageEncoderNet,
    TaskEncoderNet,
    distill_encoder,
    n_parameters,
    prune_image_encoder,
    prunable_task_encoder,
    prune_task_encoder,
)
from semcom_ota.semantic.compress.conv_onnx import (
    IMAGE_INPUTS,
    TASK_INPUTS,
    OrtImageEncoder,
    OrtTaskEncoder,
    export_image_encoder,
    export_task_encoder,
    stamp_metadata,
    with_onnx_image_encoder,
    with_onnx_task_encoder,
)
from semcom_ota.semantic.compress.quantize import FeedReader, quantize_static_int8

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
CONV_CANDIDATES = ("torch-fp32", "ort-fp32", "ort-int8", "pruned-int8", "pruned-small-int8")
PRUNE_KEEP = {"pruned-int8": 0.75, "pruned-small-int8": 0.5}
# distillation steps of a pruned encoder (image: batches of 16 random 64x64 TRAIN crops; 300 steps
# left the image encoder's 75 % candidate 0.37 dB below fp32 at 5 dB, 3000 steps 0.18 dB)
CONV_DISTILL_STEPS = 3000
#: compressible conv models -> default codec model card
CONV_MODELS = {"image": ROOT / "models" / "image_semantic.yaml", "task": ROOT / "models" / "task_fmnist.yaml",
               "teacher": ROOT / "models" / "teacher_jscc.yaml"}
EVAL_SNR_DB = 5.0


@dataclass
class ConvMeasured:
    """One candidate of a conv encoder, measured on this machine."""

    name: str
    path: str  # ONNX file ('' for torch)
    size_mb: float  # file size (torch: parameter bytes of the encoder)
    latency_ms_b1: float  # median, batch 1, ``threads`` threads
    latency_ms_b32: float  # median, batch 32
    quality: float  # PSNR dB (image) or accuracy (task) on held-out test data at 5 dB
    quality_metric: str
    provider: str
    extra: dict = field(default_factory=dict)


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return float(statistics.median(times))


def _file_mb(path: Path) -> float:
    return path.stat().st_size / 2**20


class _ConvCandidates:
    """Shared build/measure logic; subclasses supply the model-specific parts."""

    model_name = ""
    inputs: tuple[str, ...] = ()
    op_types: tuple[str, ...] = ("Conv", "Gemm", "MatMul")
    first_conv_fp32 = False  # leave the first convolution (and the image input) in float

    def __init__(self, codec, work_dir: Path, device: str = "cpu", threads: int = 1, repeats: int = 20,
                 distill_steps: int = CONV_DISTILL_STEPS) -> None:
        self.codec, self.work_dir, self.device, self.threads = codec, Path(work_dir), device, threads
        self.repeats, self.distill_steps = repeats, distill_steps
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.names = CONV_CANDIDATES

    # -- model-specific hooks ----------------------------------------------------------------
    def net(self) -> torch.nn.Module: ...
    def export(self, net: torch.nn.Module, path: Path) -> Path: ...
    def ort_codec(self, path: Path): ...
    def prune(self, net: torch.nn.Module, keep: float) -> torch.nn.Module: ...
    def sample_inputs(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...]: ...
    def calibration_feeds(self) -> list[dict[str, np.ndarray]]: ...
    def latencies(self, codec) -> tuple[float, float]: ...
    def quality(self, codec) -> float: ...
    def torch_size_mb(self) -> float: ...
    quality_metric = ""

    # -- shared ------------------------------------------------------------------------------
    def _measure_ort(self, name: str, path: Path, extra: dict | None = None) -> ConvMeasured:
        codec = self.ort_codec(path)
        enc = codec.model.encoder if hasattr(codec, "model") else codec.system.encoder
        b1, b32 = self.latencies(codec)
        return ConvMeasured(name, str(path), _file_mb(path), b1, b32, self.quality(codec), self.quality_metric,
                            enc.provider, extra or {})

    def _int8(self, fp32: Path, out: Path) -> Path:
        import onnx

        convs = [n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node if n.op_type == "Conv"]
        exclude = [convs[0]] if self.first_conv_fp32 and convs else []
        quantize_static_int8(fp32, out, calibration_reader=FeedReader(self.calibration_feeds()), op_types=self.op_types,
                             nodes_to_exclude=exclude)
        return stamp_metadata(out, self._meta(fp32))

    @staticmethod
    def _meta(path: Path) -> dict[str, str]:
        import onnx

        return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}

    def retime_interleaved(self, measured: Sequence[ConvMeasured], rounds: int = 15) -> None:
        """Re-measure the latencies of already built candidates round-robin (each round times every
        candidate once, median over rounds), so load from other jobs on a shared machine hits them
        alike. Updates ``latency_ms_b1`` / ``latency_ms_b32`` in place."""
        codecs = [self.codec if not m.path else self.ort_codec(Path(m.path)) for m in measured]
        keep_repeats = self.repeats
        self.repeats = 1
        try:
            times = [[] for _ in measured]
            for _ in range(rounds):
                for i, c in enumerate(codecs):
                    times[i].append(self.latencies(c))
        finally:
            self.repeats = keep_repeats
        for m, t in zip(measured, times):
            m.latency_ms_b1 = float(np.median([a for a, _ in t]))
            m.latency_ms_b32 = float(np.median([b for _, b in t]))

    def build(self, name: str) -> ConvMeasured:
        """Build (export / quantise / prune + distil) and measure one candidate."""
        if name not in CONV_CANDIDATES:
            raise ValueError(f"candidate {name!r}: expected one of {CONV_CANDIDATES}")
        torch.set_num_threads(self.threads)
        if name == "torch-fp32":
            b1, b32 = self.latencies(self.codec)
            return ConvMeasured(name, "", self.torch_size_mb(), b1, b32, self.quality(self.codec), self.quality_metric, "torch-cpu")
        fp32 = self.work_dir / f"{self.model_name}_fp32.onnx"
        if name == "ort-fp32":
            self.export(self.net(), fp32)
            return self._measure_ort(name, fp32)
        if name == "ort-int8":
            if not fp32.is_file():
                self.export(self.net(), fp32)
            return self._measure_ort(name, self._int8(fp32, self.work_dir / f"{self.model_name}_int8.onnx"))
        keep = PRUNE_KEEP[name]
        teacher = self.net()
        student = self.prune(teacher, keep)
        n0, n1 = n_parameters(teacher), n_parameters(student)
        info = distill_encoder(student, teacher, self.sample_inputs, steps=self.distill_steps,
                               desc=f"distil {self.model_name} {name}")
        p32 = self.export(student, self.work_dir / f"{self.model_name}_{name}_fp32.onnx")
        out = self._int8(p32, self.work_dir / f"{self.model_name}_{name}.onnx")
        p32.unlink(missing_ok=True)
        return self._measure_ort(name, out, {"keep": keep, "params": n1, "params_unpruned": n0, "distill": info})


# ------------------------------------------------------------------------------- image
def _image_crops(split: str, size: int = 128) -> list[np.ndarray]:
    """Per photo of ``split``: the centre ``size²`` crop of the photo scaled to ``size`` px on its
    short side, and the four ``size²`` quadrants of the ``2·size`` centre crop (uint8 ``[size, size, 3]``)."""
    from semcom_ota.data import load_photos
    from semcom_ota.semantic.image.codec import centre_crop

    crops = []
    for item in load_photos(split):
        crops.append(centre_crop(item.image, size))
        big = centre_crop(item.image, 2 * size)
        crops += [big[y:y + size, x:x + size] for y in (0, size) for x in (0, size)]
    return crops


class ImageCandidates(_ConvCandidates):
    """Candidates of the ``image-semantic`` codec's encoder (128×128 images for latency and quality)."""

    model_name = "image"
    inputs = IMAGE_INPUTS
    op_types = ("Conv", "Gemm")  # the AF gates' Gemms hold ~10 % of the weights: left fp32 they cost 0.1x of the size ratio
    quality_metric = "psnr_db"
    # the first convolution reads the image, the side image and its flag (7 channels, 5x5): in int8 it
    # cost 0.68 dB of the 24.4 dB (test crops, 5 dB; GPU-continued weights), kept float 0.17 dB, at
    # 3.58x instead of 3.63x smaller (scripts/bench/compression.py --model image)
    first_conv_fp32 = True

    def __init__(self, codec, work_dir: Path, test_crops: Sequence[np.ndarray], train_crops: Sequence[np.ndarray],
                 distill_pool: Sequence[np.ndarray], cbr_denominator: int = 12, **kw) -> None:
        super().__init__(codec, work_dir, **kw)
        self.test_crops, self.train_crops, self.pool = list(test_crops), list(train_crops), list(distill_pool)
        h, w = self.test_crops[0].shape[:2]
        self.budget = 3 * h * w // cbr_denominator
        self.m = min(codec.model.n_complex, self.budget // ((h // 8) * (w // 8)))
        from semcom_ota.semantic.image.codec import to_tensor

        x = to_tensor(np.stack(self.test_crops))
        self.x1, self.x32 = x[:1], x[np.arange(32) % len(x)]

    def net(self):
        return ImageEncoderNet(self.codec.model).eval()

    def export(self, net, path):
        return export_image_encoder(net, path)

    def ort_codec(self, path):
        return with_onnx_image_encoder(self.codec, OrtImageEncoder(path, self.device, self.threads))

    def prune(self, net, keep):
        return prune_image_encoder(net, keep)

    def torch_size_mb(self) -> float:
        m = self.codec.model
        mods = [m.e1, m.e2, m.e3, m.e4, m.e5, m.e_af1, m.e_af2, m.e_out, m.e_act]
        return sum(p.numel() * p.element_size() for mod in mods for p in mod.parameters()) / 2**20

    def sample_inputs(self, rng):
        from semcom_ota.semantic.image.codec import to_tensor

        batch = []
        for _ in range(16):
            im = self.pool[rng.integers(len(self.pool))]
            y, x = rng.integers(0, im.shape[0] - 63), rng.integers(0, im.shape[1] - 63)
            c = im[y:y + 64, x:x + 64]
            batch.append(c[:, ::-1] if rng.random() < 0.5 else c)
        n = self.codec.model.n_complex
        g = self.codec.model.group
        frac = rng.integers(1, n // g + 1, 16) * g / n
        return (to_tensor(np.stack(batch)), torch.from_numpy(rng.uniform(0, 20, 16).astype(np.float32)),
                torch.from_numpy(frac.astype(np.float32)))

    def calibration_feeds(self):
        from semcom_ota.semantic.image.codec import to_tensor

        rng = np.random.default_rng(1)
        n, g = self.codec.model.n_complex, self.codec.model.group
        feeds = []
        for s in range(0, len(self.train_crops), 10):
            x = to_tensor(np.stack(self.train_crops[s:s + 10])).numpy()
            b = x.shape[0]
            feeds.append({"image": x, "snr_db": rng.uniform(0, 20, b).astype(np.float32),
                          "fraction": (rng.integers(1, n // g + 1, b) * g / n).astype(np.float32)})
        return feeds

    def latencies(self, codec):
        model = codec.model
        s1, s32 = torch.tensor([EVAL_SNR_DB]), torch.full((32,), EVAL_SNR_DB)
        with torch.no_grad():
            b1 = _median_ms(lambda: model.encode(self.x1, s1, self.m), self.repeats)
            b32 = _median_ms(lambda: model.encode(self.x32, s32, self.m), max(1, self.repeats // 5))
        return b1, b32

    def quality(self, codec) -> float:
        from semcom_ota.channel.twin import ChannelTwin
        from semcom_ota.eval.image_metrics import psnr_db
        from semcom_ota.frames import RxSemanticFrame

        twin, gen, vals = ChannelTwin(kind="awgn"), torch.Generator().manual_seed(0), []
        for c in self.test_crops:
            f = codec.encode(c, self.budget, EVAL_SNR_DB)
            zh, nv = twin(torch.from_numpy(f.symbols)[None], EVAL_SNR_DB, generator=gen)
            rx = RxSemanticFrame.from_ideal(f, zh[0].numpy(), nv[0].numpy(), EVAL_SNR_DB)
            vals.append(psnr_db(c, codec.decode(rx).content))
        return float(np.mean(vals))


def image_candidates(work_dir: Path, card: str | Path | None = None, **kw) -> ImageCandidates:
    """Builder for the image codec's encoder: quality on TEST photo crops (6 photos × 5 crops),
    calibration on TRAIN crops, distillation on random 64×64 crops of TRAIN photos."""
    from semcom_ota.data import load_photos
    from semcom_ota.semantic.image.codec import ImageSemanticCodec, centre_crop

    codec = ImageSemanticCodec(card or CONV_MODELS["image"])
    pool = [centre_crop(p.image, s) for p in load_photos("train") for s in (128, 256, 512)]
    return ImageCandidates(codec, work_dir, _image_crops("test"), _image_crops("train"), pool, **kw)


# ------------------------------------------------------------------------------- task
class TaskCandidates(_ConvCandidates):
    """Candidates of a task codec's encoder (student ``task-fmnist`` or teacher ``teacher-jscc``)."""

    inputs = TASK_INPUTS
    quality_metric = "accuracy"
    # 1 input channel, 9 weights per filter, 0.1 % of the MACs: in int8 it alone cost the student 1.5
    # accuracy points (Fashion-MNIST test, 5 dB); kept fp32 the int8 student matches fp32 accuracy
    first_conv_fp32 = True

    def __init__(self, codec, work_dir: Path, test: tuple[np.ndarray, np.ndarray], train_images: np.ndarray, **kw) -> None:
        super().__init__(codec, work_dir, **kw)
        self.model_name = "task" if codec.system.kind == "student" else "teacher"
        if not prunable_task_encoder(TaskEncoderNet(codec.system)):  # e.g. the v2 ResNet teacher
            self.names = tuple(n for n in CONV_CANDIDATES if n not in PRUNE_KEEP)
            log.info("%s encoder has residual blocks: pruned candidates skipped", self.model_name)
        self.test_images, self.test_labels = test
        self.train_images = train_images

    def net(self):
        return TaskEncoderNet(self.codec.system).eval()

    def export(self, net, path):
        return export_task_encoder(net, path)

    def ort_codec(self, path):
        return with_onnx_task_encoder(self.codec, OrtTaskEncoder(path, self.device, self.threads))

    def prune(self, net, keep):
        return prune_task_encoder(net, keep)

    def torch_size_mb(self) -> float:
        s = self.codec.system
        mods = [s.semantic.net] if s.kind == "student" else [s.semantic.backbone]
        return sum(p.numel() * p.element_size() for mod in mods + [s.jsc] for p in mod.parameters()) / 2**20

    def sample_inputs(self, rng):
        from semcom_ota.semantic.task.nets import images_to_tensor

        idx = rng.integers(0, len(self.train_images), 128)
        return images_to_tensor(self.train_images[idx]), torch.from_numpy(rng.uniform(0, 20, 128).astype(np.float32))

    def calibration_feeds(self):
        from semcom_ota.semantic.task.nets import images_to_tensor

        rng = np.random.default_rng(1)
        idx = rng.choice(len(self.train_images), 512, replace=False)
        return [{"image": images_to_tensor(self.train_images[idx[s:s + 64]]).numpy(),
                 "snr_db": rng.uniform(0, 20, 64).astype(np.float32)} for s in range(0, 512, 64)]

    def latencies(self, codec):
        im1, im32 = self.test_images[:1], self.test_images[:32]
        b1 = _median_ms(lambda: codec.encode_batch(im1, 64, EVAL_SNR_DB), self.repeats)
        b32 = _median_ms(lambda: codec.encode_batch(im32, 64, EVAL_SNR_DB), self.repeats)
        return b1, b32

    def quality(self, codec) -> float:
        from semcom_ota.eval.task import codec_accuracy_twin

        return codec_accuracy_twin(codec, self.test_images, self.test_labels, 64, EVAL_SNR_DB, "awgn", seed=0)


def task_candidates(work_dir: Path, which: str = "task", card: str | Path | None = None, n_eval: int = 10000, **kw) -> TaskCandidates:
    """Builder for the task student (``which='task'``) or teacher (``'teacher'``) encoder: accuracy on
    ``n_eval`` Fashion-MNIST TEST images, calibration and distillation on TRAIN images."""
    from semcom_ota.data import load_fashion_mnist
    from semcom_ota.semantic.base import load_codec

    if which not in ("task", "teacher"):
        raise ValueError(f"which={which!r}: expected 'task' or 'teacher'")
    codec = load_codec(card or CONV_MODELS[which])
    test_x, test_y = load_fashion_mnist("test")
    train_x, _ = load_fashion_mnist("train")
    return TaskCandidates(codec, work_dir, (test_x[:n_eval], test_y[:n_eval]), train_x, **kw)


def conv_candidates(model: str, work_dir: Path, card: str | Path | None = None, **kw) -> _ConvCandidates:
    """The candidate builder of ``model`` (``image`` | ``task`` | ``teacher``)."""
    if model == "image":
        kw.pop("n_eval", None)
        return image_candidates(work_dir, card, **kw)
    if model in ("task", "teacher"):
        return task_candidates(work_dir, model, card, **kw)
    raise ValueError(f"model={model!r}: expected one of {sorted(CONV_MODELS)}")


# ------------------------------------------------------------------------------- cards
def write_conv_card(m: ConvMeasured, card_path: Path, model: str, budget_ms: float | None, budget_mb: float | None,
                    threads: int, source_card: str | Path = "") -> Path:
    """Model card of a compressed conv encoder: what was measured, where, and the file's SHA-256."""
    from semcom_ota.semantic.compress.budget import sha256

    card = {
        "model": model,
        "variant": m.name,
        "file": Path(m.path).name if m.path else "",
        "sha256": sha256(m.path) if m.path else "",
        "source_card": str(source_card),
        "measured": {k: v for k, v in asdict(m).items() if k not in ("name", "path")},
        "budget": {"latency_ms_b1": budget_ms, "size_mb": budget_mb},
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": threads},
        "inputs": list(IMAGE_INPUTS if model == "image" else TASK_INPUTS),
    }
    card_path.parent.mkdir(parents=True, exist_ok=True)
    card_path.write_text(yaml.safe_dump(card, sort_keys=False))
    return card_path


def load_compressed_conv_encoder(card_path: str | Path, device: str = "cpu", threads: int | None = None):
    """Load a compressed conv encoder by its card -> :class:`OrtImageEncoder` or :class:`OrtTaskEncoder`.

    A missing card or file, a SHA-256 mismatch, or a file exported for another model is a clear error,
    never a silent fallback to the uncompressed model."""
    from semcom_ota.semantic.compress.budget import verified_model_file

    card, path = verified_model_file(card_path)
    model = card.get("model")
    if model not in CONV_MODELS:
        raise ValueError(f"card {card_path}: model={model!r}, expected one of {sorted(CONV_MODELS)}")
    enc = OrtImageEncoder(path, device, threads) if model == "image" else OrtTaskEncoder(path, device, threads)
    if model != "image" and enc.kind != ("student" if model == "task" else "teacher"):
        raise ValueError(f"card {card_path}: model={model!r} but {path.name} holds a {enc.kind!r} task encoder")
    return enc


HEADER = f"{'candidate':<18} {'size MB':>8} {'ms b=1':>9} {'ms b=32':>10} {'quality':>9}  provider"


def row(m: ConvMeasured) -> str:
    q = f"{m.quality:.2f} dB" if m.quality_metric == "psnr_db" else f"{100 * m.quality:.2f} %"
    return f"{m.name:<18} {m.size_mb:>8.3f} {m.latency_ms_b1:>9.2f} {m.latency_ms_b32:>10.1f} {q:>9}  {m.provider}"
