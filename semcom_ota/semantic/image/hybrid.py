"""The ``image-hybrid`` scheme (codec_id 4): a digital base layer plus analog semantic refinement.

    codec = codecs.create("image-hybrid")                 # uses models/image_semantic.yaml
    frame = codec.encode(image, budget=4096, snr_db=15.0, channel="awgn")
    out = codec.decode(rx_frame)                          # Decoded(image, tasks={"base_ok", "base_fraction", ...})

Frame layout (time order = importance order)::

    | digital base: AVIF + LDPC + QAM, n_b symbols | analog refinement: m latent channels (tiers) |

- **Base layer**: the image coded with the best source codec (AVIF by default) at the MCS the
  separation baseline's rate choice picks for ``n_b`` channel uses, with a low target frame error rate
  (``base_target_fer`` = 1 %: the most robust rate), sent through
  :class:`~semcom_ota.baselines.digital.DigitalBitPipe` (its own in-band header names the MCS and codec).
- **Analog refinement**: the ``image-semantic`` network with the decoded base image as side
  information at both ends (the encoder sees what the base already says and spends its symbols on the
  rest; the decoder starts from the base image and refines it). If the base fails at the receiver, the
  decoder runs without it: the analog part still decodes on its own (the network is trained for it).
- **Split**: ``n_b = n - m·per_channel`` with ``m = floor((1 - f)·n / per_channel)`` (at most the
  network's 32 channels), for a base fraction ``f`` from :data:`BASE_FRACTIONS` (``f = 0``: no base,
  ``m`` whole channels, the frame may be shorter than the budget); its index travels in the 3 header ``flags`` bits, so the
  receiver recovers the split from the frame length and the flags alone. The TX picks ``f`` by
  predicting the expected quality of every candidate (it knows the image, the base image and the
  assumed SNR): ``P_ok · MSE(base + analog) + (1 − P_ok) · MSE(analog alone)``, with ``P_ok`` the
  base layer's predicted frame success probability and the analog MSEs from one pass of the decoder
  over the twin at the assumed SNR. ``f = 0`` is the pure semantic codec, ``f = 1`` the pure
  separation scheme, so on average the hybrid is never below either at the SNR it planned for.

Tiers: the base layer is tier 0 (truncating to it leaves a base-only frame), then the analog tiers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom_ota.baselines.codecs import DigitalImageCodec, choose_image_mcs
from semcom_ota.baselines.digital import DigitalBitPipe
from semcom_ota.baselines.image_codecs import IMAGE_CODEC_IDS, compress_image, decompress_image
from semcom_ota.baselines.mcs import HEADER_SYMBOLS
from semcom_ota.frames import FrameMeta, RxSemanticFrame, SemanticFrame
from semcom_ota.semantic.base import Codec, Decoded, codecs
from semcom_ota.semantic.image.codec import (
    DEFAULT_CARD, ImageSemanticBase, check_image, load_model, padded_hw, tier_ends,
)
from semcom_ota.semantic.image.model import STRIDE, ImageJSCC

log = logging.getLogger(__name__)

CODEC_ID = 4
#: base-layer fraction of the frame, indexed by the 3 header flag bits
BASE_FRACTIONS = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0)
#: the fractions the TX tries (a subset keeps encoding fast)
CANDIDATES = (0, 2, 4, 6, 7)
#: smallest base layer worth sending: the in-band header plus one 648-bit BPSK codeword
MIN_BASE_SYMBOLS = HEADER_SYMBOLS + 648


def split(n: int, flag: int, per_channel: int, max_channels: int) -> tuple[int, int]:
    """``(n_b, m)``: base symbols and analog channels of an ``n``-symbol frame with base-fraction
    index ``flag`` (see the module docstring)."""
    f = BASE_FRACTIONS[flag]
    if f == 0.0:  # pure analog: the frame is m whole channels (the last one may be cut short by the PHY)
        return 0, min(max_channels, -(-n // per_channel))
    m = min(max_channels, int((1.0 - f) * n) // per_channel)
    return n - m * per_channel, m


@codecs.register("image-hybrid")
class ImageHybridCodec(ImageSemanticBase, Codec):
    """Digital base layer + analog refinement (see the module docstring).

    Parameters
    ----------
    card_path: model card of the analog network (default ``models/image_semantic.yaml``).
    model: an :class:`ImageJSCC` to use instead of the card's weights.
    source_codec: base-layer image codec ("avif", "webp" or "jpeg").
    base_target_fer: frame error rate the base layer's rate choice accepts (lower = more robust).
    channel: what the TX plans for, "awgn" or "rayleigh" (no CSI at TX); ``encode(channel=...)`` overrides.
    candidates: indices into :data:`BASE_FRACTIONS` the TX tries.
    default_shape: image shape the RX assumes when ``FrameMeta.content_shape`` is empty.
    """

    name = "image-hybrid"
    codec_id = CODEC_ID

    def __init__(self, card_path: str | Path = DEFAULT_CARD, model: ImageJSCC | None = None, source_codec: str = "avif",
                 base_target_fer: float = 0.01, channel: str = "awgn", candidates: tuple[int, ...] = CANDIDATES,
                 default_shape: tuple[int, int, int] | None = None) -> None:
        card: dict[str, Any] = {}
        if model is None:
            model, card = load_model(card_path)
        self.model = model.eval()
        self.default_shape = tuple(default_shape or card.get("default_shape") or (128, 128, 3))
        self.source_codec = source_codec
        self.base_target_fer = float(base_target_fer)
        self.channel = channel
        bad = [c for c in candidates if not 0 <= int(c) < len(BASE_FRACTIONS)]
        if bad or not candidates:
            raise ValueError(f"candidates={candidates}: expected indices in 0..{len(BASE_FRACTIONS) - 1}")
        self.candidates = tuple(int(c) for c in candidates)
        self._digital = DigitalImageCodec(source_codec=source_codec, target_fer=base_target_fer)

    # ------------------------------------------------------------------ TX
    def _base(self, image: np.ndarray, n_b: int, snr_db: float, channel: str) -> dict[str, Any] | None:
        """Base layer in ``n_b`` symbols: symbols, decoded base image, success probability; None if none fits."""
        if n_b < MIN_BASE_SYMBOLS:
            return None
        mean = np.full(image.shape, 128, np.uint8)
        choice = choose_image_mcs(image, n_b, snr_db, channel, self.source_codec, mean, self.base_target_fer)
        comp = compress_image(image, choice.plan.payload_bits // 8, self.source_codec)
        if not comp.fits:
            return None
        symbols = DigitalBitPipe(n_b).send(np.unpackbits(np.frombuffer(comp.data, np.uint8)), choice.mcs,
                                           tag=IMAGE_CODEC_IDS[self.source_codec])
        base_img = decompress_image(comp.data, self.source_codec, grey=False)
        return {"symbols": symbols, "image": base_img, "p_ok": float(choice.success_prob), "mcs": choice.mcs.index,
                "payload_bytes": len(comp.data), "quality": comp.quality}

    def _predict_mse(self, image: np.ndarray, sym: np.ndarray, snr_db: float, side: np.ndarray | None) -> float:
        """MSE of the analog decoder over the AWGN twin at ``snr_db`` (one fixed noise draw)."""
        g = torch.Generator().manual_seed(1)
        n0 = 10.0 ** (-snr_db / 10.0)
        e = (torch.randn(sym.size, generator=g) + 1j * torch.randn(sym.size, generator=g)) * np.sqrt(n0 / 2)
        rx = sym + e.numpy().astype(np.complex64)
        out = self.analog_decode(rx, np.full(sym.size, n0, np.float32), np.ones(sym.size, bool), image.shape, side)
        return float(np.mean((out.astype(np.float64) - image) ** 2))

    def encode(self, content: Any, budget: int, snr_db: float = 10.0, channel: str | None = None) -> SemanticFrame:
        """uint8 ``[H, W, 3]`` -> SemanticFrame of exactly ``budget`` symbols (base tier, then analog tiers)."""
        image = check_image(content, "image-hybrid content")
        if not isinstance(budget, (int, np.integer)) or budget <= 0:
            raise ValueError(f"budget={budget!r}: expected a positive int (channel uses)")
        channel = channel or self.channel
        h, w = image.shape[:2]
        hp, wp = padded_hw(h, w)
        per = (hp // STRIDE) * (wp // STRIDE)
        ref = image.astype(np.float64)
        best: tuple[float, int, dict[str, Any]] | None = None
        for flag in self.candidates:
            n_b, m = split(int(budget), flag, per, self.model.n_complex)
            if flag == 0:  # pure analog: whole channels only, the frame may be shorter than the budget
                m = min(self.model.n_complex, int(budget) // per)
                if m == 0:
                    continue
            base = self._base(image, n_b, snr_db, channel) if n_b > 0 else None
            if n_b > 0 and base is None:
                continue  # this split's base layer cannot carry a file
            if m == 0:
                if base is None:
                    continue
                p = base["p_ok"]
                mse = p * float(np.mean((base["image"] - ref) ** 2)) + (1 - p) * float(np.mean((128.0 - ref) ** 2))
                cand = {"base": base, "analog": np.zeros(0, np.complex64), "tiers": [], "m": 0, "n_b": n_b}
            else:
                side = None if base is None else base["image"]
                if m * per + n_b > budget:
                    continue
                sym, tiers, _ = self.analog_encode(image, m * per, snr_db, side)
                mse_with = self._predict_mse(image, sym, snr_db, side)
                if base is None:
                    mse = mse_with
                else:
                    mse_without = self._predict_mse(image, sym, snr_db, None)
                    mse = base["p_ok"] * mse_with + (1 - base["p_ok"]) * mse_without
                cand = {"base": base, "analog": sym, "tiers": tiers, "m": m, "n_b": n_b}
            if best is None or mse < best[0]:
                best = (mse, flag, cand)
        if best is None:
            raise ValueError(f"budget={budget}: expected at least {per} channel uses for a {h}x{w} image")
        mse, flag, c = best
        n_b = c["n_b"]
        parts = ([c["base"]["symbols"]] if n_b else []) + [c["analog"]]
        symbols = np.concatenate(parts).astype(np.complex64)
        tiers = ([n_b] if n_b else []) + [n_b + t for t in c["tiers"]]
        base = c["base"] or {}
        extra = {"base_fraction": BASE_FRACTIONS[flag], "n_base": n_b, "channels": c["m"], "predicted_mse": mse,
                 "base_mcs": base.get("mcs"), "base_bytes": base.get("payload_bytes", 0), "base_p_ok": base.get("p_ok")}
        meta = FrameMeta(codec_id=CODEC_ID, snr_db=float(snr_db), flags=flag, content_shape=tuple(image.shape), extra=extra)
        p = float(np.mean(np.abs(symbols) ** 2))
        return SemanticFrame((symbols / np.sqrt(p)).astype(np.complex64), tiers, meta)

    # ------------------------------------------------------------------ RX
    def decode(self, frame: RxSemanticFrame) -> Decoded:
        """RxSemanticFrame -> Decoded(uint8 image, tasks: base_ok, base_reason, base_fraction)."""
        shape = tuple(frame.meta.content_shape) or self.default_shape
        h, w = int(shape[0]), int(shape[1])
        hp, wp = padded_hw(h, w)
        per = (hp // STRIDE) * (wp // STRIDE)
        flag = int(frame.meta.flags)
        if flag >= len(BASE_FRACTIONS):
            raise ValueError(f"image-hybrid frame flags={flag}: expected 0..{len(BASE_FRACTIONS) - 1}")
        n = frame.n
        n_b, m = split(n, flag, per, self.model.n_complex)
        mask = frame.mask if frame.status.decodable else np.zeros(n, bool)
        side = None
        tasks: dict[str, Any] = {"base_fraction": BASE_FRACTIONS[flag], "base_ok": False, "base_reason": "no_base"}
        if n_b:
            nv = np.where(mask[:n_b], frame.noise_var[:n_b], np.inf).astype(np.float32)
            sub = RxSemanticFrame(np.where(mask[:n_b], frame.symbols[:n_b], 0).astype(np.complex64), mask[:n_b], nv,
                                  frame.snr_db, FrameMeta(codec_id=5, content_shape=(h, w, 3)), frame.status)
            out = self._digital.decode(sub)
            tasks.update(base_ok=bool(out.tasks.get("ok")), base_reason=out.tasks.get("reason"))
            if tasks["base_ok"]:
                side = out.content
        if m == 0:
            img = side if side is not None else np.full((h, w, 3), 128, np.uint8)
            return Decoded(content=img, tasks=tasks)
        # the analog part was sent at the frame's unit power too: symbols are on the same scale
        a = slice(n_b, n_b + m * per)
        img = self.analog_decode(frame.symbols[a], frame.noise_var[a], mask[a], (h, w, 3), side)
        return Decoded(content=img, tasks=tasks)
