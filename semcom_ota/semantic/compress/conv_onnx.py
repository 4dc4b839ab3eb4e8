"""ONNX export of the convolutional encoders and ONNX Runtime backends behind the codecs' interfaces.

    net = ImageEncoderNet(codec.model)
    export_image_encoder(net, "image_enc.onnx")                     # dynamic batch, height, width
    enc = OrtImageEncoder("image_enc.onnx", threads=1)
    onnx_codec = with_onnx_image_encoder(codec, enc)               # same codec, encoder run by ORT
    frame = onnx_codec.encode(image, budget=1024, snr_db=5.0)       # decoder stays torch

    export_task_encoder(TaskEncoderNet(codec.system), "task_enc.onnx")
    onnx_task = with_onnx_task_encoder(codec, OrtTaskEncoder("task_enc.onnx"))

The codecs are wrapped from outside: the wrapper is a shallow copy of the codec whose network
attribute is a stand-in that runs the encoder with ONNX Runtime and delegates the decoder to torch,
so every codec method (``encode``, ``encode_batch``, ``decode``) runs unchanged.

Each exported file carries metadata (``semcom_model`` = ``image-encoder`` | ``task-encoder``, plus
the layout: ``n_complex``/``group`` or ``kind``/``n_symbols``); loaders check it, so a file made for
another model is refused by name.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom_ota.semantic.compress.conv_models import ImageEncoderNet, TaskEncoderNet, for_export, normalise_image_latent
from semcom_ota.semantic.compress.onnx_runtime import make_session
from semcom_ota.semantic.task.nets import tier_power_normalise

IMAGE_INPUTS = ("image", "snr_db", "fraction")
TASK_INPUTS = ("image", "snr_db")


def stamp_metadata(path: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``meta`` (values as strings) into the ONNX file's ``metadata_props`` (replacing same keys)."""
    import onnx

    m = onnx.load(str(path))
    keep = [p for p in m.metadata_props if p.key not in meta]
    del m.metadata_props[:]
    m.metadata_props.extend(keep)
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = str(k), str(v)
    onnx.save(m, str(path))
    return Path(path)


def export_image_encoder(net: ImageEncoderNet, path: str | Path, opset: int = 17) -> Path:
    """Export with dynamic batch, height and width (opset 17, legacy TorchScript exporter); PReLUs are
    written as :class:`~semcom_ota.semantic.compress.conv_models.ChannelPReLU` (same function, fast in ORT)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.rand(2, 3, 64, 48)
    args = (x, torch.tensor([5.0, 15.0]), torch.tensor([0.5, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(for_export(net), args, str(path), input_names=list(IMAGE_INPUTS), output_names=["latent"],
                          dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "snr_db": {0: "batch"},
                                        "fraction": {0: "batch"}, "latent": {0: "batch", 2: "h8", 3: "w8"}},
                          opset_version=opset, dynamo=False)
    return stamp_metadata(path, {"semcom_model": "image-encoder", "n_complex": net.n_complex, "group": net.group})


def export_task_encoder(net: TaskEncoderNet, path: str | Path, opset: int = 17) -> Path:
    """Export with a dynamic batch (images are always 28×28)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    args = (torch.rand(2, 1, 28, 28), torch.tensor([5.0, 15.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), args, str(path), input_names=list(TASK_INPUTS), output_names=["mu"],
                          dynamic_axes={"image": {0: "batch"}, "snr_db": {0: "batch"}, "mu": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    return stamp_metadata(path, {"semcom_model": "task-encoder", "kind": net.kind, "n_symbols": net.n_symbols})


class _OrtEncoder:
    expected_model = ""
    expected_inputs: tuple[str, ...] = ()

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = make_session(self.path, device, threads)
        names = tuple(i.name for i in self.session.get_inputs())
        self.meta = dict(self.session.get_modelmeta().custom_metadata_map)
        kind = self.meta.get("semcom_model")
        if kind != self.expected_model or names != self.expected_inputs:
            raise ValueError(f"ONNX model {self.path}: semcom_model={kind!r}, inputs {list(names)}; expected "
                             f"semcom_model={self.expected_model!r} with inputs {list(self.expected_inputs)} "
                             "(export it with semcom_ota.semantic.compress.conv_onnx)")
        self.output = self.session.get_outputs()[0].name

    @property
    def provider(self) -> str:
        """The execution provider that actually runs."""
        return self.session.get_providers()[0]

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 2**20


class OrtImageEncoder(_OrtEncoder):
    """The image codec's encoder run by ONNX Runtime, with :meth:`ImageJSCC.encode`'s interface."""

    expected_model = "image-encoder"
    expected_inputs = IMAGE_INPUTS

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        super().__init__(path, device, threads)
        self.n_complex, self.group = int(self.meta["n_complex"]), int(self.meta["group"])

    def latent(self, image: np.ndarray, snr_db: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        """float32 ``[B,3,H,W]``, ``[B]``, ``[B]`` -> float32 ``[B, 2M, H/8, W/8]`` (not normalised)."""
        feeds = {"image": np.ascontiguousarray(image, np.float32), "snr_db": np.asarray(snr_db, np.float32).reshape(-1),
                 "fraction": np.asarray(fraction, np.float32).reshape(-1)}
        return self.session.run([self.output], feeds)[0]

    def encode(self, x: torch.Tensor, snr_db: torch.Tensor, m: int, side: torch.Tensor | None = None,
               side_flag: torch.Tensor | None = None) -> torch.Tensor:
        """As :meth:`ImageJSCC.encode`: -> complex64 ``[B, m, H/8, W/8]``, unit mean power per image."""
        if side is not None:
            raise ValueError("OrtImageEncoder.encode: side image given, but the exported encoder has no side-image "
                             "input (image-semantic only, not image-hybrid)")
        if not 1 <= m <= self.n_complex:
            raise ValueError(f"m={m}: expected 1..{self.n_complex} latent channels")
        b = x.shape[0]
        frac = np.full(b, m / self.n_complex, np.float32)
        y = self.latent(x.numpy(), np.broadcast_to(snr_db.numpy().astype(np.float32), (b,)), frac)
        return normalise_image_latent(torch.from_numpy(y), m)


class OrtTaskEncoder(_OrtEncoder):
    """A task codec's TX half (semantic + JSC encoder) run by ONNX Runtime, with
    :meth:`TaskSystem.encode`'s interface (``mu``/``logvar`` are not needed at inference)."""

    expected_model = "task-encoder"
    expected_inputs = TASK_INPUTS

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        super().__init__(path, device, threads)
        self.kind, self.n_symbols = self.meta["kind"], int(self.meta["n_symbols"])

    def mu(self, image: np.ndarray, snr_db: np.ndarray) -> np.ndarray:
        """float32 ``[B,1,28,28]``, ``[B]`` -> float32 ``[B, 2n]``."""
        feeds = {"image": np.ascontiguousarray(image, np.float32), "snr_db": np.asarray(snr_db, np.float32).reshape(-1)}
        return self.session.run([self.output], feeds)[0]

    def encode(self, x: torch.Tensor, snr_db: torch.Tensor, sample: bool = False):
        """images ``[B,1,28,28]`` -> ``(z complex64 [B, n] unit power per tier, mu [B, 2n], None)``."""
        if sample:
            raise ValueError("OrtTaskEncoder.encode(sample=True): the exported encoder is deterministic (mu only)")
        mu = torch.from_numpy(self.mu(x.numpy(), snr_db.numpy()))
        z = torch.complex(mu[:, 0::2].contiguous(), mu[:, 1::2].contiguous())
        return tier_power_normalise(z), mu, None


class _OnnxImageModel:
    """Stands in for :class:`ImageJSCC` inside an image codec: ORT encoder, torch decoder."""

    def __init__(self, encoder: OrtImageEncoder, model) -> None:
        if encoder.n_complex != model.n_complex or encoder.group != model.group:
            raise ValueError(f"ONNX image encoder {encoder.path}: n_complex={encoder.n_complex}, group={encoder.group}; "
                             f"the codec's model has n_complex={model.n_complex}, group={model.group}")
        self.encoder, self.torch_model = encoder, model
        self.n_complex, self.group = model.n_complex, model.group

    def encode(self, *args, **kwargs):
        return self.encoder.encode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.torch_model.decode(*args, **kwargs)

    def eval(self):
        return self


class _OnnxTaskSystem:
    """Stands in for :class:`TaskSystem` inside a task codec: ORT encoder, torch decoder."""

    def __init__(self, encoder: OrtTaskEncoder, system) -> None:
        if encoder.kind != system.kind or encoder.n_symbols != system.jsc.n_symbols:
            raise ValueError(f"ONNX task encoder {encoder.path}: kind={encoder.kind!r}, n_symbols={encoder.n_symbols}; "
                             f"the codec's system has kind={system.kind!r}, n_symbols={system.jsc.n_symbols}")
        self.encoder, self.torch_system = encoder, system
        self.kind, self.decoder = system.kind, system.decoder

    def encode(self, x: torch.Tensor, snr_db: torch.Tensor, sample: bool = False):
        return self.encoder.encode(x, snr_db, sample)

    def eval(self):
        return self


def with_onnx_image_encoder(codec, encoder: OrtImageEncoder):
    """A shallow copy of an ``image-semantic`` codec whose encoder runs in ONNX Runtime."""
    out = copy.copy(codec)
    out.model = _OnnxImageModel(encoder, codec.model)
    return out


def with_onnx_task_encoder(codec, encoder: OrtTaskEncoder):
    """A shallow copy of a ``task-fmnist`` / ``teacher-jscc`` codec whose encoder runs in ONNX Runtime."""
    out = copy.copy(codec)
    out.system = _OnnxTaskSystem(encoder, codec.system)
    return out
