"""The ``image-semantic`` codec (codec_id 3): images <-> importance-ordered analog symbols.

    codec = load_codec("models/image_semantic.yaml")
    frame = codec.encode(image, budget=4096, snr_db=10.0)    # image: uint8 [H, W, 3]
    out = codec.decode(rx_frame)                              # out.content: uint8 [H, W, 3]

Symbol layout: see :mod:`semcom_ota.semantic.image.model`. An ``H×W`` image is padded (edge
replication) to multiples of the network's stride ``s`` (8 for ``arch: resaf``, 4 for ``arch: plain``,
chosen by the card's ``architecture.arch``); each complex latent channel is ``ceil(H/s)·ceil(W/s)`` symbols,
emitted channel-major. The encoder keeps ``m = min(M, budget // per_channel)`` channels; tiers end at
every ``group`` channels (and at ``m``). The receiver reads the image size from
``FrameMeta.content_shape`` when it is set (same host); over the air, where the header does not carry
it, it uses the model card's ``default_shape`` (128×128×3 for the shipped model).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from semcom_ota.frames import FrameMeta, RxSemanticFrame, SemanticFrame
from semcom_ota.semantic.base import Codec, Decoded, codecs
from semcom_ota.semantic.image.model import STRIDE, ImageJSCC, PlainJSCC, build_image_model

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CARD = ROOT / "models" / "image_semantic.yaml"
CODEC_ID = 3


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """Validate an RGB image: uint8 ``[H, W, 3]`` with ``H, W >= 1``."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name}: expected a numpy uint8 array [H, W, 3], got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"{name}: dtype {image.dtype}, expected uint8 [H, W, 3]")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name}: shape {image.shape}, expected [H, W, 3] (RGB)")
    return image


def padded_hw(h: int, w: int, stride: int = STRIDE) -> tuple[int, int]:
    """Image size rounded up to multiples of the network stride (8 for the default network)."""
    return stride * math.ceil(h / stride), stride * math.ceil(w / stride)


def pad_image(image: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """Edge-replicate ``image`` ``[H, W, 3]`` up to multiples of ``stride``."""
    h, w = image.shape[:2]
    hp, wp = padded_hw(h, w, stride)
    return np.pad(image, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float32 ``[N, 3, H, W]`` in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``[N, 3, H, W]`` in [0, 1] -> uint8 ``[N, H, W, 3]``."""
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The evaluation view of a photo: downscale (bicubic) so the short side is ``size`` px, then take
    the centre ``size × size`` square. uint8 ``[size, size, 3]``."""
    check_image(image)
    h, w = image.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    im = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BICUBIC)) if (nh, nw) != (h, w) else image
    y, x = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(im[y : y + size, x : x + size])


def tier_ends(m: int, group: int, per_channel: int) -> list[int]:
    """Tier ends (symbols) for ``m`` kept channels: every ``group`` channels, plus ``m``."""
    ends = list(range(group, m + 1, group))
    if not ends or ends[-1] != m:
        ends.append(m)
    return [e * per_channel for e in ends]


def load_model(card_path: str | Path = DEFAULT_CARD) -> tuple[ImageJSCC | PlainJSCC, dict[str, Any]]:
    """Build the network from a model card (safetensors weights next to it). The card's
    ``architecture`` mapping names the network (``arch``: ``resaf`` when absent, or ``plain``) and its
    constructor keys. A missing, unreadable or mismatched weights file raises ``ValueError`` naming it."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise FileNotFoundError(f"image model card {card_path}: not found (train with scripts/train_image.py)")
    card = yaml.safe_load(card_path.read_text()) or {}
    if not isinstance(card, dict) or "weights" not in card:
        raise ValueError(f"image model card {card_path}: expected a mapping with a 'weights' key")
    model = build_image_model(**dict(card.get("architecture") or {}))
    weights = card_path.parent / card["weights"]
    if not weights.is_file():
        raise FileNotFoundError(f"image model card {card_path}: weights file {weights} not found")
    try:
        state = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types for a corrupt header/body
        raise ValueError(f"image model weights {weights}: not a readable safetensors file ({e})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        arch = getattr(model, "arch", "?")
        raise ValueError(f"image model weights {weights} do not match the card's architecture "
                         f"(arch={arch!r}, {card.get('architecture')}): {str(e).splitlines()[0]} ...") from None
    model.eval()
    return model, card


class ImageSemanticBase:
    """Shared encode/decode of the analog part (used by ``image-semantic`` and ``image-hybrid``)."""

    model: ImageJSCC | PlainJSCC
    default_shape: tuple[int, int, int]

    def analog_encode(self, image: np.ndarray, budget: int, snr_db: float, side: np.ndarray | None = None
                      ) -> tuple[np.ndarray, list[int], int]:
        """-> (complex64 symbols ``[m·per_channel]`` unit power, tier ends, m)."""
        h, w = image.shape[:2]
        st = getattr(self.model, "stride", STRIDE)
        hp, wp = padded_hw(h, w, st)
        per = (hp // st) * (wp // st)
        m = min(self.model.n_complex, int(budget) // per)
        if m < 1:
            raise ValueError(f"budget={budget}: expected at least {per} complex symbols for a {h}x{w} image "
                             f"(one latent channel of {hp // st}x{wp // st})")
        x = to_tensor(pad_image(image, st)[None])
        s = to_tensor(pad_image(side, st)[None]) if side is not None else None
        flag = torch.ones(1) if side is not None else None
        with torch.no_grad():
            z = self.model.encode(x, torch.tensor([float(snr_db)]), m, s, flag)
        sym = z.reshape(-1).numpy().astype(np.complex64)
        return sym, tier_ends(m, self.model.group, per), m

    def analog_decode(self, symbols: np.ndarray, noise_var: np.ndarray, mask: np.ndarray, shape: tuple[int, ...],
                      side: np.ndarray | None = None) -> np.ndarray:
        """Received analog symbols ``[n]`` (or a batch ``[B, n]``, with ``noise_var`` and ``mask`` of the
        same shape, all with the same side image) -> uint8 image ``[H, W, 3]`` (``[B, H, W, 3]``) of ``shape``."""
        h, w = int(shape[0]), int(shape[1])
        st = getattr(self.model, "stride", STRIDE)
        hp, wp = padded_hw(h, w, st)
        hh, ww = hp // st, wp // st
        per = hh * ww
        batched = np.ndim(symbols) == 2
        symbols, noise_var, mask = (np.atleast_2d(a) for a in (symbols, noise_var, mask))
        b, n = symbols.shape
        m = math.ceil(n / per)
        if m > self.model.n_complex or m < 1:
            raise ValueError(f"{n} analog symbols for a {h}x{w} image: expected 1..{self.model.n_complex * per} "
                             f"(per channel {per}); is content_shape {tuple(shape)} right?")
        tot = m * per
        z = np.zeros((b, tot), np.complex64)
        nv = np.ones((b, tot), np.float32)
        mk = np.zeros((b, tot), bool)
        z[:, :n], mk[:, :n] = symbols, mask
        nv[:, :n] = np.where(mask & np.isfinite(noise_var), noise_var, 1.0)
        mk[:, :n] &= np.isfinite(noise_var)
        zt = torch.from_numpy(z).reshape(b, m, hh, ww)
        nvt = torch.from_numpy(nv).reshape(b, m, hh, ww)
        mkt = torch.from_numpy(mk).reshape(b, m, hh, ww)
        s = to_tensor(pad_image(side, st)[None]).expand(b, -1, -1, -1) if side is not None else None
        flag = torch.ones(b) if side is not None else None
        with torch.no_grad():
            y = self.model.decode(zt, nvt, mkt, s, flag)
        out = to_uint8(y)[:, :h, :w]
        return out if batched else out[0]


@codecs.register("image-semantic")
class ImageSemanticCodec(ImageSemanticBase, Codec):
    """DeepJSCC-style image codec: channel-adaptive, importance-ordered, one model for k/n 1/192..1/6
    (``arch: plain`` cards: 1/48..1/6).

    Parameters
    ----------
    card_path: model card YAML (default ``models/image_semantic.yaml``).
    model: an :class:`ImageJSCC` or :class:`PlainJSCC` to use instead of the card's weights (tests, training figures).
    default_shape: image shape assumed by :meth:`decode` when ``FrameMeta.content_shape`` is empty.
    """

    name = "image-semantic"
    codec_id = CODEC_ID

    def __init__(self, card_path: str | Path = DEFAULT_CARD, model: ImageJSCC | PlainJSCC | None = None,
                 default_shape: tuple[int, int, int] | None = None) -> None:
        card: dict[str, Any] = {}
        if model is None:
            model, card = load_model(card_path)
        self.model = model.eval()
        self.default_shape = tuple(default_shape or card.get("default_shape") or (128, 128, 3))

    def encode(self, content: Any, budget: int, snr_db: float = 10.0) -> SemanticFrame:
        """uint8 ``[H, W, 3]`` -> SemanticFrame of ``≤ budget`` symbols (tiers at channel-group ends)."""
        image = check_image(content, "image-semantic content")
        sym, tiers, m = self.analog_encode(image, budget, snr_db)
        meta = FrameMeta(codec_id=CODEC_ID, snr_db=float(snr_db), content_shape=tuple(image.shape),
                         extra={"channels": m})
        return SemanticFrame(sym, tiers, meta)

    def decode(self, frame: RxSemanticFrame) -> Decoded:
        """RxSemanticFrame -> Decoded(content = uint8 ``[H, W, 3]``). A frame with no usable symbols
        (lost, or every symbol masked) decodes to the network's prior (a flat mid-grey-ish image)."""
        shape = tuple(frame.meta.content_shape) or self.default_shape
        mask = frame.mask if frame.status.decodable else np.zeros(frame.n, bool)
        img = self.analog_decode(frame.symbols, frame.noise_var, mask, shape)
        return Decoded(content=img, tasks={"received_fraction": float(mask.mean()) if frame.n else 0.0})


def val_figures(model: ImageJSCC | PlainJSCC, photos: list[np.ndarray], size: int = 128, seed: int = 0) -> dict[str, float]:
    """PSNR (dB) on ``size²`` centre crops of ``photos`` over the AWGN twin at 0/10/20 dB for
    k/n = 1/48, 1/12, 1/6 — the figures written into the model card (validation split)."""
    from semcom_ota.channel.twin import ChannelTwin
    from semcom_ota.eval.image_metrics import psnr_db

    codec = ImageSemanticCodec(model=model)
    twin = ChannelTwin(kind="awgn")
    torch.manual_seed(seed)
    crops = [centre_crop(p, size) for p in photos]
    out: dict[str, float] = {}
    n_real = size * size * 3
    for denom in (48, 12, 6):
        for snr in (0.0, 10.0, 20.0):
            vals = []
            for c in crops:
                f = codec.encode(c, n_real // denom, snr)
                zh, nv = twin(torch.from_numpy(f.symbols)[None], torch.tensor([snr]))
                nv = np.broadcast_to(np.asarray(torch.as_tensor(nv), np.float32).reshape(-1), (f.n,)) if np.size(nv) in (1, f.n) else np.asarray(nv).reshape(-1)
                rx = RxSemanticFrame.from_ideal(f, zh[0].numpy(), nv, snr)
                vals.append(psnr_db(c, codec.decode(rx).content))
            out[f"psnr_db_awgn_{int(snr)}db_cbr_1/{denom}"] = round(float(np.mean(vals)), 2)
    return out


def val_crops(photos: list[np.ndarray], size: int = 128) -> list[tuple[str, np.ndarray]]:
    """The validation view used to choose models: per photo, its :func:`centre_crop` plus ``size``²
    crops on an even grid (up to 3×3, corners and centre included) of the photo at scales 1, 1/2, 1/4
    (bicubic). Deterministic. ``[(name, uint8 [size, size, 3])]``."""
    out: list[tuple[str, np.ndarray]] = []
    for i, p in enumerate(photos):
        check_image(p, f"photos[{i}]")
        out.append((f"{i}:centre", centre_crop(p, size)))
        pil = Image.fromarray(p)
        for f in (1, 2, 4):
            w, h = pil.size[0] // f, pil.size[1] // f
            if min(w, h) < size:
                break
            im = np.asarray(pil.resize((w, h), Image.BICUBIC)) if f > 1 else p
            ys = sorted({round(t * (h - size) / 2) for t in range(3)} if h >= 3 * size else {0, (h - size) // 2, h - size})
            xs = sorted({round(t * (w - size) / 2) for t in range(3)} if w >= 3 * size else {0, (w - size) // 2, w - size})
            for y in ys:
                for x in xs:
                    out.append((f"{i}:s{f}:{y},{x}", np.ascontiguousarray(im[y : y + size, x : x + size])))
    return out
