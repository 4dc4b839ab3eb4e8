"""Symbol-level convenience wrappers of the digital separation baselines, and the ideal-separation line.

    scheme = DigitalImageScheme(codec="avif")
    image_hat, info = scheme.transmit(image, channel_uses=4096, snr_db=12.0, channel="rayleigh", rng=0)
    text_hat, info = DigitalTextScheme(codec="brotli").transmit(text, 1024, 6.0)
    image_hat, info = ideal_separation_image(image, 4096, 12.0, codec="avif")

``transmit`` = choose the MCS for the SNR, source-code to fit, send the symbols through
:func:`~semcom_ota.baselines.digital.simulate_channel` (AWGN, or Rayleigh block fading with perfect
CSI at RX), decode. ``info`` holds the TX choices (``mcs``, ``payload_bytes``, ...) and the RX outcome
(``ok``, ``reason``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from semcom_ota.baselines.codecs import DigitalImageCodec, DigitalTextCodec, check_rate_quality, image_quality
from semcom_ota.baselines.digital import simulate_channel
from semcom_ota.baselines.image_codecs import RateSearch, check_image, decompress_image
from semcom_ota.baselines.mcs import CHANNELS, ideal_capacity_bits, outage_probability
from semcom_ota.frames import RxSemanticFrame
from semcom_ota.seeding import make_rng


class DigitalImageScheme:
    """Image -> (JPEG/WebP/AVIF + LDPC + QAM) -> symbol channel -> image. See the module docstring."""

    def __init__(self, codec: str = "avif", target_fer: float = 0.1, mean_image: np.ndarray | None = None,
                 rate_quality: str = "psnr") -> None:
        self.codec = DigitalImageCodec(source_codec=codec, target_fer=target_fer, mean_image=mean_image,
                                       rate_quality=rate_quality)

    def transmit(self, image: np.ndarray, channel_uses: int, snr_db: float, channel: str = "awgn",
                 rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """uint8 image ``[H, W(, 3)]`` -> (uint8 image of the same shape, info dict)."""
        frame = self.codec.encode_for(image, channel_uses, snr_db, channel)
        rx, nv = simulate_channel(frame.symbols, snr_db, channel, rng)
        out = self.codec.decode(RxSemanticFrame.from_ideal(frame, rx, nv, snr_db))
        return out.content, {**frame.meta.extra, **out.tasks}


class DigitalTextScheme:
    """Text -> (UTF-8/zlib/Brotli + LDPC + QAM) -> symbol channel -> text ("" when decoding fails)."""

    def __init__(self, codec: str = "brotli", target_fer: float = 0.1) -> None:
        self.codec = DigitalTextCodec(source_codec=codec, target_fer=target_fer)

    def transmit(self, text: str, channel_uses: int, snr_db: float, channel: str = "awgn",
                 rng: np.random.Generator | int | None = None) -> tuple[str, dict[str, Any]]:
        frame = self.codec.encode_for(text, channel_uses, snr_db, channel)
        rx, nv = simulate_channel(frame.symbols, snr_db, channel, rng)
        out = self.codec.decode(RxSemanticFrame.from_ideal(frame, rx, nv, snr_db))
        return out.content, {**frame.meta.extra, **out.tasks}


def ideal_separation_image(image: np.ndarray, channel_uses: int, snr_db: float, codec: str = "avif",
                           channel: str = "awgn", rng: np.random.Generator | int | None = None,
                           mean_image: np.ndarray | None = None, quality: str = "psnr") -> tuple[np.ndarray, dict[str, Any]]:
    """The source codec at the rate of an ideal channel code (no channel errors below that rate).

    AWGN: the file fits ``floor(n log2(1 + snr)) / 8`` bytes and always arrives.
    Rayleigh block fading (no CSI at TX): the rate ``R`` (bits/use, on a 32-point grid up to
    ``log2(1 + 4 snr)``) maximising the expected quality ``(1 - P_out(R)) Q(R) + P_out(R) Q(mean)``
    (``quality``: "psnr", dB, as the practical schemes' rate rule, or "mse" for ``Q = -MSE``); one
    fade ``|h|^2 ~ Exp(1)`` drawn from ``rng`` decides whether the file arrives (``log2(1 + snr |h|^2) >= R``)
    or the mean image is returned. ``info`` holds the rate, outage probability and expected quality.
    """
    check_rate_quality(quality)
    check_image(image)
    if channel not in CHANNELS:
        raise ValueError(f"channel={channel!r}: expected one of {CHANNELS}")
    mean = np.full(image.shape, 128, np.uint8) if mean_image is None else check_image(mean_image, "mean_image")
    grey = image.ndim == 2
    search = RateSearch(image, codec)

    def at_bytes(nbytes: int) -> tuple[np.ndarray, bool]:
        c = search(nbytes)
        return (decompress_image(c.data, codec, grey=grey), True) if c.fits else (mean, False)

    if channel == "awgn":
        bits = ideal_capacity_bits(channel_uses, snr_db, "awgn")
        img, fits = at_bytes(bits // 8)
        return img, {"ok": fits, "capacity_bits": bits, "reason": None if fits else "source_does_not_fit"}
    snr = 10.0 ** (snr_db / 10.0)
    q_mean = image_quality(image, mean, quality)
    best = None
    for r in np.linspace(0.0, math.log2(1.0 + 4.0 * snr), 33)[1:]:
        img, fits = at_bytes(int(r * channel_uses) // 8)
        p_out = outage_probability(r, snr_db)
        e = (1 - p_out) * image_quality(image, img, quality) + p_out * q_mean
        if best is None or e > best[0]:
            best = (e, r, p_out, img, fits)
    e, r, p_out, img, fits = best
    g = make_rng(rng).exponential(1.0)
    arrived = math.log2(1.0 + snr * g) >= r and fits
    info = {"ok": arrived, "rate_bits_per_use": r, "outage_prob": p_out, "expected_quality": e, "quality": quality,
            "reason": None if arrived else ("outage" if fits else "source_does_not_fit")}
    return (img if arrived else mean), info
