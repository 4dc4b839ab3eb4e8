"""The ``image-hybrid`` scheme (codec_id 4): a digital base layer plus analog semantic refinement.

    codec = codecs.create("image-hybrid")                 # uses models/image_semantic.yaml
    frame = codec.encode(image, budget=4096, snr_db=15.0, channel="awgn")
    out = codec.decode(rx_frame)                          # Decoded(image, tasks={"base_ok", "base_fraction", ...})

Frame layout (time order = importance order)::

    | digital base: AVIF/WebP + LDPC + QAM, n_b symbols | analog refinement: m latent channels (tiers) |

- **Base layer**: the image coded with a source codec (the TX tries each of ``source_codecs``,
  AVIF and WebP by default, and keeps the best) at the MCS the separation baseline's rate choice picks
  for ``n_b`` channel uses, with a low target frame error rate (``base_target_fer`` = 1 %: the most
  robust rate; the all-digital frame uses the baseline's own 10 %), sent through
  :class:`~semcom_ota.baselines.digital.DigitalBitPipe` (its own in-band header names the MCS and codec).
- **Analog refinement**: the ``image-semantic`` network with the decoded base image as side
  information at both ends (the encoder sees what the base already says and spends its symbols on the
  rest; the decoder starts from the base image and refines it). If the base fails at the receiver, the
  decoder runs without it: the analog part still decodes on its own (the network is trained for it).
- **Split**: the base layer takes ``n_b = BASE_UNITS[flag] · per_channel`` symbols (``per_channel`` =
  symbols of one latent channel, ``ceil(H/8)·ceil(W/8)``), the analog part the whole channels that fit
  in the rest (at most 32); ``flag`` 7 is an all-digital frame. The flag travels in the 3 header
  ``flags`` bits, so the receiver recovers the split from the flags and the image size alone, also
  when the frame was truncated at a tier end. The TX tries every split whose base is between 1/8
  and 7/8 of the budget, plus pure analog (flag 0) and pure digital (flag 7), with every source codec,
  and keeps the one with the highest predicted quality (``quality``: mean PSNR in dB by default, the
  evaluation's metric, or ``-MSE``). The prediction averages over the channel the TX plans for: at
  each fading point ``g`` (AWGN: ``g = 1``; Rayleigh block fading, no CSI at the TX: the medians of
  ``FADE_POINTS`` equiprobable bins of ``|h|^2 ~ Exp(1)``) the base decodes with its MCS's
  probability at ``snr·g`` and the image is then the analog decode with the base as side image, else
  the analog decode alone (the receiver does exactly this), both from one pass of the decoder over
  the AWGN twin at ``snr·g``. Flag 0 is the pure semantic codec and flag 7 the separation scheme, so
  at the SNR it planned for the hybrid is not below either on average, up to the prediction's error.

Tiers: the base layer is tier 0 (truncating to it leaves a base-only frame), then the analog tiers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom_ota.baselines.codecs import DigitalImageCodec, check_rate_quality, choose_image_mcs, image_quality
from semcom_ota.baselines.digital import DigitalBitPipe
from semcom_ota.baselines.image_codecs import IMAGE_CODEC_IDS, RateSearch, check_image_codec, decompress_image
from semcom_ota.baselines.mcs import HEADER_SYMBOLS, success_probability
from semcom_ota.frames import FrameMeta, RxSemanticFrame, SemanticFrame
from semcom_ota.semantic.base import Codec, Decoded, codecs
from semcom_ota.semantic.image.codec import (
    DEFAULT_CARD, ImageSemanticBase, check_image, load_model, padded_hw, tier_ends,
)
from semcom_ota.semantic.image.model import STRIDE, ImageJSCC

log = logging.getLogger(__name__)

CODEC_ID = 4
#: base-layer size in units of one latent channel's symbols, indexed by the 3 header flag bits;
#: flag 7 (None) = all-digital frame
BASE_UNITS: tuple[int | None, ...] = (0, 1, 2, 4, 6, 8, 12, None)
ALL_DIGITAL = 7
#: smallest base layer worth sending: the in-band header plus one 648-bit BPSK codeword
MIN_BASE_SYMBOLS = HEADER_SYMBOLS + 648
#: frame error rate the all-digital frame (flag 7) accepts: the separation baseline's own
SEPARATION_TARGET_FER = 0.1
#: fading points the TX averages over on Rayleigh block fading (medians of equiprobable bins)
FADE_POINTS = 8


def fade_gains(channel: str) -> np.ndarray:
    """Power gains ``|h|^2`` the TX averages its prediction over: ``[1]`` on AWGN; on Rayleigh the
    medians of :data:`FADE_POINTS` equiprobable bins of ``Exp(1)`` (float ``[K]``)."""
    if channel == "awgn":
        return np.ones(1)
    if channel != "rayleigh":
        raise ValueError(f"image-hybrid channel={channel!r}: expected 'awgn' or 'rayleigh'")
    k = np.arange(FADE_POINTS)
    return -np.log1p(-(k + 0.5) / FADE_POINTS)


def split(n: int, flag: int, per_channel: int, max_channels: int) -> tuple[int, int]:
    """``(n_b, m)``: base symbols and analog channels of an ``n``-symbol frame (``n`` as sent or as
    received: a truncated frame keeps its base and the analog channels it has left)."""
    if not 0 <= flag < len(BASE_UNITS):
        raise ValueError(f"image-hybrid flags={flag}: expected 0..{len(BASE_UNITS) - 1}")
    if flag == ALL_DIGITAL:
        return n, 0
    n_b = min(n, BASE_UNITS[flag] * per_channel)
    return n_b, min(max_channels, -(-(n - n_b) // per_channel))


def base_fraction(flag: int, n: int, per_channel: int) -> float:
    """Share of an ``n``-symbol frame taken by the base layer."""
    return 1.0 if flag == ALL_DIGITAL else min(1.0, BASE_UNITS[flag] * per_channel / max(n, 1))


@codecs.register("image-hybrid")
class ImageHybridCodec(ImageSemanticBase, Codec):
    """Digital base layer + analog refinement (see the module docstring).

    Parameters
    ----------
    card_path: model card (``models/image_hybrid.yaml``, or the analog network's own card); its
        ``source_codec``, ``base_target_fer`` and ``quality`` keys override the arguments.
    model: an :class:`ImageJSCC` to use instead of the card's weights.
    source_codec: base-layer image codec(s) the TX chooses from per image: one name ("avif", "webp",
        "jpeg") or a sequence (default AVIF and WebP); the in-band header of the base names the one sent.
    base_target_fer: frame error rate the base layer's rate choice accepts (lower = more robust).
    quality: what the TX's choice maximises in expectation: "psnr" (dB, default) or "mse" (``-MSE``).
    channel: what the TX plans for, "awgn" or "rayleigh" (no CSI at TX); ``encode(channel=...)`` overrides.
    candidates: flags (indices into :data:`BASE_UNITS`) the TX may try; None = all (see the module
        docstring for which of them fit a given budget).
    default_shape: image shape the RX assumes when ``FrameMeta.content_shape`` is empty.
    """

    name = "image-hybrid"
    codec_id = CODEC_ID

    def __init__(self, card_path: str | Path = DEFAULT_CARD, model: ImageJSCC | None = None,
                 source_codec: str | tuple[str, ...] = ("avif", "webp"), base_target_fer: float = 0.01,
                 channel: str = "awgn", candidates: tuple[int, ...] | None = None,
                 default_shape: tuple[int, int, int] | None = None, quality: str = "psnr") -> None:
        card: dict[str, Any] = {}
        if model is None:
            model, card = load_model(card_path)
        self.model = model.eval()
        self.default_shape = tuple(default_shape or card.get("default_shape") or (128, 128, 3))
        names = card.get("source_codec", source_codec)
        names = (names,) if isinstance(names, str) else tuple(names)
        if not names:
            raise ValueError("image-hybrid source_codec: expected at least one of avif, webp, jpeg")
        self.source_codecs = tuple(check_image_codec(c) for c in names)
        self.source_codec = self.source_codecs[0]
        self.base_target_fer = float(card.get("base_target_fer", base_target_fer))
        self.quality = check_rate_quality(card.get("quality", quality))
        fade_gains(channel)  # validates the channel name
        self.channel = channel
        candidates = tuple(range(len(BASE_UNITS))) if candidates is None else tuple(int(c) for c in candidates)
        bad = [c for c in candidates if not 0 <= c < len(BASE_UNITS)]
        if bad or not candidates:
            raise ValueError(f"candidates={candidates}: expected flags in 0..{len(BASE_UNITS) - 1}")
        self.candidates = candidates
        self._digital = DigitalImageCodec(source_codec=self.source_codec, target_fer=self.base_target_fer)

    # ------------------------------------------------------------------ TX
    def _base(self, search: RateSearch, n_b: int, snr_db: float, channel: str, target_fer: float) -> dict[str, Any] | None:
        """Base layer of ``search.image`` in ``n_b`` symbols with ``search.codec``: symbols, decoded base
        image, success probability per fading point; None if no file fits."""
        if n_b < MIN_BASE_SYMBOLS:
            return None
        image = search.image
        mean = np.full(image.shape, 128, np.uint8)
        choice = choose_image_mcs(image, n_b, snr_db, channel, search.codec, mean, target_fer, self.quality, search)
        comp = search(choice.plan.payload_bits // 8)
        if not comp.fits:
            return None
        symbols = DigitalBitPipe(n_b).send(np.unpackbits(np.frombuffer(comp.data, np.uint8)), choice.mcs,
                                           tag=IMAGE_CODEC_IDS[search.codec])
        base_img = decompress_image(comp.data, search.codec, grey=False)
        bits = 8 * len(comp.data)
        p_fade = np.array([success_probability(choice.plan, snr_db + 10.0 * np.log10(g), "awgn", bits)
                           for g in fade_gains(channel)])
        return {"symbols": symbols, "image": base_img, "p_ok": float(choice.success_prob), "p_fade": p_fade,
                "mcs": choice.mcs.index, "payload_bytes": len(comp.data), "quality": comp.quality, "codec": search.codec}

    def _predict_quality(self, image: np.ndarray, sym: np.ndarray, snr_db: float, channel: str,
                         side: np.ndarray | None) -> np.ndarray:
        """Quality (``self.quality``) of the analog decode at each fading point of ``channel``
        (float ``[K]``): one seeded AWGN draw at ``snr_db + 10 log10 g`` per point, decoded in one batch."""
        gains = fade_gains(channel)
        n0 = (10.0 ** (-snr_db / 10.0)) / gains  # noise variance after equalisation, per point
        g = torch.Generator().manual_seed(1)
        e = torch.randn(sym.size, generator=g) + 1j * torch.randn(sym.size, generator=g)
        rx = (sym[None] + e.numpy()[None] * np.sqrt(n0 / 2)[:, None]).astype(np.complex64)
        nv = np.repeat(n0[:, None], sym.size, axis=1).astype(np.float32)
        outs = self.analog_decode(rx, nv, np.ones(rx.shape, bool), image.shape, side)
        return np.array([image_quality(image, o, self.quality) for o in outs])

    def encode(self, content: Any, budget: int, snr_db: float = 10.0, channel: str | None = None) -> SemanticFrame:
        """uint8 ``[H, W, 3]`` -> SemanticFrame of at most ``budget`` symbols (base tier, then analog tiers)."""
        image = check_image(content, "image-hybrid content")
        if not isinstance(budget, (int, np.integer)) or budget <= 0:
            raise ValueError(f"budget={budget!r}: expected a positive int (channel uses)")
        channel = channel or self.channel
        fade_gains(channel)
        h, w = image.shape[:2]
        hp, wp = padded_hw(h, w)
        per = (hp // STRIDE) * (wp // STRIDE)
        q_grey = image_quality(image, np.full(image.shape, 128, np.uint8), self.quality)
        searches = [RateSearch(image, c) for c in self.source_codecs]
        best: tuple[float, int, dict[str, Any]] | None = None
        for flag in self.candidates:
            if flag == ALL_DIGITAL:
                n_b, m = int(budget), 0
            else:
                n_b = BASE_UNITS[flag] * per
                m = min(self.model.n_complex, (int(budget) - n_b) // per) if n_b <= budget else 0
                frac = n_b / budget
                if m == 0 or (flag != 0 and not 0.125 <= frac <= 0.875):
                    continue
            fer = SEPARATION_TARGET_FER if flag == ALL_DIGITAL else self.base_target_fer
            bases = [self._base(sr, n_b, snr_db, channel, fer) for sr in searches] if n_b > 0 else [None]
            if n_b > 0:
                bases = [b for b in bases if b is not None]
                if not bases:
                    continue  # this split's base layer cannot carry a file
            sym, tiers = np.zeros(0, np.complex64), []
            for base in bases:
                if m == 0:
                    q_ok = image_quality(image, base["image"], self.quality)
                    q = float(np.mean(base["p_fade"] * q_ok + (1 - base["p_fade"]) * q_grey))
                else:
                    side = None if base is None else base["image"]
                    sym, tiers, _ = self.analog_encode(image, m * per, snr_db, side)
                    q_with = self._predict_quality(image, sym, snr_db, channel, side)
                    if base is None:
                        q = float(np.mean(q_with))
                    else:
                        q_without = self._predict_quality(image, sym, snr_db, channel, None)
                        q = float(np.mean(base["p_fade"] * q_with + (1 - base["p_fade"]) * q_without))
                cand = {"base": base, "analog": sym, "tiers": tiers, "m": m, "n_b": n_b}
                if best is None or q > best[0]:
                    best = (q, flag, cand)
        if best is None:
            raise ValueError(f"budget={budget}: expected at least {per} channel uses for a {h}x{w} image")
        q, flag, c = best
        n_b = c["n_b"]
        parts = ([c["base"]["symbols"]] if n_b else []) + [c["analog"]]
        symbols = np.concatenate(parts).astype(np.complex64)
        tiers = ([n_b] if n_b else []) + [n_b + t for t in c["tiers"]]
        base = c["base"] or {}
        extra = {"base_fraction": base_fraction(flag, symbols.size, per), "n_base": n_b, "channels": c["m"],
                 "predicted_quality": q, "quality_measure": self.quality, "base_codec": base.get("codec"),
                 "base_mcs": base.get("mcs"), "base_bytes": base.get("payload_bytes", 0), "base_p_ok": base.get("p_ok")}
        meta = FrameMeta(codec_id=CODEC_ID, snr_db=float(snr_db), flags=flag, content_shape=tuple(image.shape), extra=extra)
        p = float(np.mean(np.abs(symbols) ** 2))
        return SemanticFrame((symbols / np.sqrt(p)).astype(np.complex64), tiers, meta)

    # ------------------------------------------------------------------ RX
    def decode(self, frame: RxSemanticFrame) -> Decoded:
        """RxSemanticFrame -> Decoded(uint8 image ``[H, W, 3]``; tasks: ``base_ok``, ``base_reason``,
        ``base_fraction`` and, when the base decoded, ``base_image`` uint8 ``[H, W, 3]``)."""
        shape = tuple(frame.meta.content_shape) or self.default_shape
        h, w = int(shape[0]), int(shape[1])
        hp, wp = padded_hw(h, w)
        per = (hp // STRIDE) * (wp // STRIDE)
        flag = int(frame.meta.flags)
        n = frame.n
        n_b, m = split(n, flag, per, self.model.n_complex)
        mask = frame.mask if frame.status.decodable else np.zeros(n, bool)
        side = None
        tasks: dict[str, Any] = {"base_fraction": base_fraction(flag, n, per), "base_ok": False, "base_reason": "no_base"}
        if n_b:
            nv = np.where(mask[:n_b], frame.noise_var[:n_b], np.inf).astype(np.float32)
            sub = RxSemanticFrame(np.where(mask[:n_b], frame.symbols[:n_b], 0).astype(np.complex64), mask[:n_b], nv,
                                  frame.snr_db, FrameMeta(codec_id=5, content_shape=(h, w, 3)), frame.status)
            out = self._digital.decode(sub)
            tasks.update(base_ok=bool(out.tasks.get("ok")), base_reason=out.tasks.get("reason"))
            if tasks["base_ok"]:
                side = out.content
                tasks["base_image"] = side
        if m == 0:
            img = side if side is not None else np.full((h, w, 3), 128, np.uint8)
            return Decoded(content=img, tasks=tasks)
        # the analog part was sent at the frame's unit power too: symbols are on the same scale
        a = slice(n_b, n_b + m * per)
        img = self.analog_decode(frame.symbols[a], frame.noise_var[a], mask[a], (h, w, 3), side)
        return Decoded(content=img, tasks=tasks)
