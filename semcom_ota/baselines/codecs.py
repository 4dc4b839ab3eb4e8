"""The digital separation baselines as Codecs, so they travel over any link like the semantic codecs.

    codec = codecs.create("image-digital", source_codec="avif")      # codec_id 5
    frame = codec.encode(image, budget=4096, snr_db=12.0)             # SemanticFrame, one tier, QAM symbols
    out = codec.decode(rx_frame)                                       # Decoded(image, tasks={"ok", "reason", ...})
    codecs.create("text-digital", source_codec="brotli")              # codec_id 7

TX: pick the MCS for ``budget`` channel uses at ``snr_db`` (:func:`semcom_ota.baselines.mcs.select_mcs`),
source-code the content to fit the payload, and fill exactly ``budget`` symbols with
:class:`~semcom_ota.baselines.digital.DigitalBitPipe`. The MCS index and the source codec travel in
the frame's in-band header (RM(1,5)-coded BPSK, 32 symbols); ``FrameMeta.flags`` mirrors the source
codec id for the PHY header (jpeg 0, webp 1, avif 2; utf8 0, zlib 1, brotli 2), the RX trusts the
in-band copy. RX: symbols + ``noise_var`` (``inf`` where ``mask`` is False) -> LLRs -> BP -> CRC ->
source decoder. Any failure gives the cliff: the mean image / the empty sentence, with the reason in
``Decoded.tasks["reason"]`` (``frame_<status>``, ``header``, ``parity``, ``length``, ``crc``,
``source_does_not_fit``, ``source_decode``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np

from semcom_ota.baselines.digital import DigitalBitPipe
from semcom_ota.baselines.image_codecs import (
    IMAGE_CODEC_IDS, RateSearch, check_image, check_image_codec, decompress_image,
)
from semcom_ota.baselines.mcs import CHANNELS, McsChoice, select_mcs
from semcom_ota.baselines.text_codecs import TEXT_CODEC_IDS, check_text_codec, decompress_text, fit_text
from semcom_ota.config import StrictModel, load_yaml
from semcom_ota.frames import FrameMeta, RxSemanticFrame, SemanticFrame
from semcom_ota.semantic.base import Codec, Decoded, codecs

log = logging.getLogger(__name__)

IMAGE_DIGITAL_ID = 5
TEXT_DIGITAL_ID = 7


class DigitalCardConfig(StrictModel):
    """Model-card keys of the digital codecs (all optional)."""

    codec: str
    source_codec: str | None = None
    channel: Literal["awgn", "rayleigh"] = "awgn"
    target_fer: float = 0.1
    image_shape: list[int] | None = None
    rate_quality: Literal["psnr", "mse"] = "psnr"


def _card(card_path: str | Path | None) -> dict[str, Any]:
    if card_path is None:
        return {}
    cfg = load_yaml(card_path, DigitalCardConfig)
    return {k: v for k, v in cfg.model_dump().items() if v is not None and k != "codec"}


def _bits_of(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes(data), np.uint8))


def _rx_arrays(frame: RxSemanticFrame) -> tuple[np.ndarray, np.ndarray]:
    nv = np.where(frame.mask, frame.noise_var.astype(np.float64), np.inf)
    return np.where(frame.mask, frame.symbols, 0).astype(np.complex64), nv


def _check_budget_snr(budget: int, snr_db: float) -> None:
    if not isinstance(budget, (int, np.integer)) or int(budget) <= 0:
        raise ValueError(f"budget={budget!r}: expected a positive int (channel uses)")
    if not np.isfinite(float(snr_db)):
        raise ValueError(f"snr_db={snr_db!r}: expected a finite number (dB)")


#: quality measures the image rate choice can maximise in expectation over the fading statistics
RATE_QUALITIES = ("psnr", "mse")


def image_quality(reference: np.ndarray, estimate: np.ndarray, quality: str) -> float:
    """The value the TX maximises: PSNR in dB (``"psnr"``, the eval metric, averaged per image; capped
    at 100 dB so that an exact copy stays finite) or ``-MSE`` (``"mse"``: the expectation then weighs a
    lost frame's mid-grey image far more)."""
    mse = float(np.mean((reference.astype(np.float64) - estimate.astype(np.float64)) ** 2))
    if quality == "mse":
        return -mse
    return min(100.0, 10.0 * float(np.log10(255.0 ** 2 / max(mse, 1e-300))))


def check_rate_quality(quality: str) -> str:
    if quality not in RATE_QUALITIES:
        raise ValueError(f"rate quality {quality!r}: expected one of {RATE_QUALITIES}")
    return quality


def choose_image_mcs(image: np.ndarray, budget: int, snr_db: float, channel: str, source_codec: str,
                     mean_image: np.ndarray, target_fer: float = 0.1, quality: str = "psnr",
                     search: RateSearch | None = None) -> McsChoice:
    """AWGN: :func:`select_mcs` (most payload with frame error rate <= ``target_fer``), unless that
    payload cannot hold even the smallest file of the source codec; then, and for Rayleigh, the MCS
    maximising the expected ``quality`` (:func:`image_quality`) where a lost frame gives the mean image.
    ``search``: a :class:`RateSearch` of this image and codec to reuse (its files are kept)."""
    check_rate_quality(quality)
    search = search or RateSearch(image, source_codec)
    if channel == "awgn":
        choice = select_mcs(None, budget, snr_db, "awgn", target_fer=target_fer)
        if search(choice.plan.payload_bits // 8).fits:
            return choice
    q_fail = image_quality(image, mean_image, quality)
    cache: dict[int, float] = {}

    def value(bits: int) -> float:
        if bits not in cache:
            c = search(bits // 8)
            rec = decompress_image(c.data, source_codec, grey=image.ndim == 2) if c.fits else mean_image
            cache[bits] = image_quality(image, rec, quality)
        return cache[bits]

    return select_mcs(None, budget, snr_db, channel, utility=value, fail_utility=q_fail, rule="expected")


@codecs.register("image-digital")
class DigitalImageCodec(Codec):
    """Separation baseline for images: JPEG/WebP/AVIF + IEEE 802.11n LDPC + Gray QAM (codec_id 5).

    Parameters
    ----------
    source_codec: "jpeg", "webp" or "avif".
    channel: the channel the TX plans for: "awgn" (BLER-threshold rate choice) or "rayleigh"
        (outage-aware, maximises expected quality; no CSI at TX).
    target_fer: AWGN frame error rate accepted by the rate choice.
    rate_quality: what the outage-aware rate choice (Rayleigh) maximises in expectation: ``"psnr"``
        (default; the per-image PSNR the evaluation averages) or ``"mse"`` (``-MSE``).
    mean_image: uint8 image returned when decoding fails (e.g. a data set mean); default mid-grey
        of ``image_shape`` / the frame's ``content_shape``.
    image_shape: the shape the RX expects ([H, W] or [H, W, 3]) when frames carry no content_shape
        (frames from a real link); without it the shape of the last image this instance encoded is used.
    card_path: a model card (YAML) with the keys above.
    """

    name = "image-digital"
    codec_id = IMAGE_DIGITAL_ID

    def __init__(self, source_codec: str = "avif", channel: str = "awgn", target_fer: float = 0.1,
                 mean_image: np.ndarray | None = None, image_shape: tuple[int, ...] | list[int] | None = None,
                 card_path: str | Path | None = None, rate_quality: str = "psnr") -> None:
        kw = _card(card_path)
        self.source_codec = check_image_codec(kw.get("source_codec", source_codec))
        self.rate_quality = check_rate_quality(kw.get("rate_quality", rate_quality))
        self.channel = kw.get("channel", channel)
        if self.channel not in CHANNELS:
            raise ValueError(f"image-digital channel={self.channel!r}: expected one of {CHANNELS}")
        self.target_fer = float(kw.get("target_fer", target_fer))
        shape = kw.get("image_shape", image_shape)
        self.image_shape = tuple(int(s) for s in shape) if shape is not None else None
        self.mean_image = None if mean_image is None else check_image(mean_image, "mean_image")
        self._last_shape: tuple[int, ...] | None = None

    def _mean(self, shape: tuple[int, ...] | None) -> np.ndarray | None:
        if self.mean_image is not None:
            return self.mean_image
        shape = shape or self.image_shape
        return None if not shape else np.full(shape, 128, np.uint8)

    def encode(self, content: np.ndarray, budget: int, snr_db: float = 10.0) -> SemanticFrame:
        return self.encode_for(content, budget, snr_db, self.channel)

    def encode_for(self, image: np.ndarray, budget: int, snr_db: float, channel: str) -> SemanticFrame:
        """:meth:`encode` planning for ``channel`` ("awgn" or "rayleigh") instead of ``self.channel``."""
        check_image(image, "content")
        _check_budget_snr(budget, snr_db)
        self._last_shape = tuple(image.shape)
        mean = self._mean(image.shape)
        if mean.shape != image.shape:
            raise ValueError(f"mean_image shape {mean.shape} differs from the image shape {image.shape}")
        search = RateSearch(image, self.source_codec)  # shared by the rate choice and the final file
        choice = choose_image_mcs(image, int(budget), float(snr_db), channel, self.source_codec, mean, self.target_fer,
                                  self.rate_quality, search)
        comp = search(choice.plan.payload_bits // 8)
        data = comp.data if comp.fits else b""
        tag = IMAGE_CODEC_IDS[self.source_codec]
        symbols = DigitalBitPipe(int(budget)).send(_bits_of(data), choice.mcs, tag=tag)
        extra = {"mcs": choice.mcs.index, "mcs_name": choice.mcs.name, "payload_bytes": len(data), "quality": comp.quality,
                 "success_prob": choice.success_prob, "source_fits": comp.fits, "channel_plan": channel}
        meta = FrameMeta(codec_id=self.codec_id, snr_db=float(snr_db), flags=tag, content_shape=tuple(image.shape), extra=extra)
        return SemanticFrame(symbols, [int(budget)], meta)

    def decode(self, frame: RxSemanticFrame) -> Decoded:
        # over a real link the header carries no shape: the configured one, else the last one encoded here
        shape = tuple(frame.meta.content_shape) or self.image_shape or self._last_shape
        mean = self._mean(shape)
        if not frame.status.decodable:
            return Decoded(mean, {"ok": False, "reason": f"frame_{frame.status.value}"})
        res = DigitalBitPipe(frame.n).receive(*_rx_arrays(frame))
        tasks: dict[str, Any] = {"ok": res.ok, "reason": res.reason, "mcs": None if res.mcs is None else res.mcs.index}
        if not res.ok:
            return Decoded(mean, tasks)
        codec = {v: k for k, v in IMAGE_CODEC_IDS.items()}.get(res.tag)
        tasks.update(source_codec=codec, payload_bytes=res.bits.size // 8)
        if res.bits.size == 0:
            return Decoded(mean, {**tasks, "ok": False, "reason": "source_does_not_fit"})
        try:
            grey = None if not shape else len(shape) == 2
            img = decompress_image(np.packbits(res.bits).tobytes(), codec, grey=grey)
        except Exception as err:  # noqa: BLE001 - any decoder failure is the cliff, with its reason
            log.warning("image-digital: source decoder failed: %s", err)
            return Decoded(mean, {**tasks, "ok": False, "reason": "source_decode"})
        return Decoded(img, tasks)


@codecs.register("text-digital")
class DigitalTextCodec(Codec):
    """Separation baseline for text: UTF-8 / zlib / Brotli + IEEE 802.11n LDPC + Gray QAM (codec_id 7).

    When the coded text does not fit even the highest-rate MCS, the longest prefix that fits the
    highest-goodput MCS is sent (``tasks["chars_sent"]`` at TX in ``meta.extra``).

    Parameters: ``source_codec`` ("utf8", "zlib", "brotli"), ``channel``, ``target_fer``, ``card_path``
    as for :class:`DigitalImageCodec`; ``combine_repeats`` (default True): the MCS choice and the
    reported ``success_prob`` credit the RX's chase combining of the frame's cyclic repeat of coded bits
    (:func:`~semcom_ota.baselines.mcs.success_probability`); False scores bare codewords (the image codec's rule).
    """

    name = "text-digital"
    codec_id = TEXT_DIGITAL_ID

    def __init__(self, source_codec: str = "brotli", channel: str = "awgn", target_fer: float = 0.1,
                 card_path: str | Path | None = None, combine_repeats: bool = True) -> None:
        kw = _card(card_path)
        self.combine_repeats = bool(combine_repeats)
        self.source_codec = check_text_codec(kw.get("source_codec", source_codec))
        self.channel = kw.get("channel", channel)
        if self.channel not in CHANNELS:
            raise ValueError(f"text-digital channel={self.channel!r}: expected one of {CHANNELS}")
        self.target_fer = float(kw.get("target_fer", target_fer))

    def encode(self, content: str, budget: int, snr_db: float = 10.0) -> SemanticFrame:
        return self.encode_for(content, budget, snr_db, self.channel)

    def encode_for(self, text: str, budget: int, snr_db: float, channel: str) -> SemanticFrame:
        """:meth:`encode` planning for ``channel`` instead of ``self.channel``."""
        if not isinstance(text, str):
            raise TypeError(f"content: expected str, got {type(text).__name__}")
        _check_budget_snr(budget, snr_db)
        # the highest-goodput MCS bounds what can be sent at all (raises when no MCS fits the budget)
        kw = {"target_fer": self.target_fer, "combine_repeats": self.combine_repeats}
        best = select_mcs(None, int(budget), float(snr_db), channel, **kw)
        bits, tag, info = self.source_fit(text, best.plan.payload_bits)
        choice = select_mcs(bits.size, int(budget), float(snr_db), channel, **kw)
        symbols = DigitalBitPipe(int(budget)).send(bits, choice.mcs, tag=tag)
        extra = {"mcs": choice.mcs.index, "mcs_name": choice.mcs.name, **info,
                 "chars_total": len(text), "success_prob": choice.success_prob, "channel_plan": channel}
        meta = FrameMeta(codec_id=self.codec_id, snr_db=float(snr_db), flags=tag, extra=extra)
        return SemanticFrame(symbols, [int(budget)], meta)

    def source_fit(self, text: str, max_bits: int) -> tuple[np.ndarray, int, dict[str, Any]]:
        """Source-code the longest prefix of ``text`` that fits ``max_bits`` -> (payload bits uint8 ``[L]``,
        the in-band tag 0..3, TX info with at least ``chars_sent``). Subclasses swap the source coder here."""
        data, kept = fit_text(text, max_bits // 8, self.source_codec)
        return _bits_of(data), TEXT_CODEC_IDS[self.source_codec], {"payload_bytes": len(data), "chars_sent": kept}

    def source_decode(self, bits: np.ndarray, tag: int, tasks: dict[str, Any]) -> str:
        """Payload bits that passed the CRC -> text (ValueError/KeyError when they do not decode);
        may add RX info to ``tasks``."""
        codec = {v: k for k, v in TEXT_CODEC_IDS.items()}.get(tag)
        tasks.update(source_codec=codec, payload_bytes=bits.size // 8)
        return decompress_text(np.packbits(bits).tobytes(), codec)

    def decode(self, frame: RxSemanticFrame) -> Decoded:
        if not frame.status.decodable:
            return Decoded("", {"ok": False, "reason": f"frame_{frame.status.value}"})
        res = DigitalBitPipe(frame.n).receive(*_rx_arrays(frame))
        tasks: dict[str, Any] = {"ok": res.ok, "reason": res.reason, "mcs": None if res.mcs is None else res.mcs.index}
        if not res.ok:
            return Decoded("", tasks)
        try:
            return Decoded(self.source_decode(res.bits, res.tag, tasks), tasks)
        except (ValueError, KeyError) as err:
            log.warning("%s: source decoder failed: %s", self.name, err)
            return Decoded("", {**tasks, "ok": False, "reason": "source_decode"})
