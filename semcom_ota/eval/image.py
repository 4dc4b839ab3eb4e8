"""Image transmission quality (PSNR, MS-SSIM) of the semantic, hybrid and separation schemes.

Every scheme sends each test image in the same number of channel uses ``k = round(cbr · H·W·3)``
(``cbr`` = k/n, n = real pixel values) over the same channel:

- ``link="twin"``: the symbol-level channel twin (:class:`semcom_ota.channel.twin.ChannelTwin`,
  AWGN or Rayleigh block fading with one fade per frame, perfect CSI at RX); rows are labelled
  with the channel (``awgn``/``rayleigh``).
- ``link="sim"|"gnuradio"``: frames go through the OFDM PHY and the link
  (:func:`semcom_ota.link.transport.transmit_frames`); rows are labelled ``<link>:<channel>``.

Schemes: ``semantic`` (``image-semantic``), ``hybrid`` (``image-hybrid``), ``jpeg+ldpc``,
``webp+ldpc``, ``avif+ldpc`` (``image-digital`` codecs: source codec + 802.11n LDPC + QAM at the
best MCS for the SNR; a failed frame gives a mid-grey image), and ``ideal-separation`` (AVIF at the
capacity of the channel, no channel errors below it; an outage line on Rayleigh). The digital frames
travel through the same channel function as the semantic ones.

Test images (:func:`load_eval_images`): ``data="photos"`` = the held-out *test* split of
:func:`semcom_ota.data.load_photos`, or a directory of image files; each image is downscaled so its
short side is ``size`` px (default 128) and centre-cropped to ``size × size``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from semcom_ota.eval.image_metrics import ms_ssim, psnr_db
from semcom_ota.frames import RxSemanticFrame, SemanticFrame
from semcom_ota.progress import progress
from semcom_ota.results import ResultRow

log = logging.getLogger(__name__)

SCHEMES = ("semantic", "hybrid", "jpeg+ldpc", "webp+ldpc", "avif+ldpc", "ideal-separation")
CHANNELS = ("awgn", "rayleigh")
LINKS = ("twin", "sim", "gnuradio")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def parse_cbr(text: str | float) -> float:
    """``"1/12"`` or ``0.0833`` -> float k/n in (0, 1]."""
    try:
        v = float(Fraction(str(text).strip()))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"cbr={text!r}: expected a ratio k/n such as 1/12 or 0.083") from None
    if not 0 < v <= 1:
        raise ValueError(f"cbr={text!r}: expected 0 < k/n <= 1")
    return v


def load_eval_images(data: str, size: int = 128, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 ``[size, size, 3]``) test images: ``"photos"`` (held-out test split) or a directory."""
    from semcom_ota.semantic.image.codec import centre_crop

    if data == "photos":
        from semcom_ota.data.photos import load_photos

        items = [(p.name, p.image) for p in load_photos("test")]
    else:
        d = Path(data)
        if not d.is_dir():
            raise ValueError(f"data={data!r}: expected 'photos' or a directory of image files")
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"data={data!r}: no image files ({', '.join(IMAGE_SUFFIXES)}) in the directory")
        items = [(f.name, np.asarray(Image.open(f).convert("RGB"))) for f in files]
    items = [(n, centre_crop(im, size)) for n, im in items if min(im.shape[:2]) >= 16]
    return items[:limit] if limit else items


@dataclass
class ImageEvalConfig:
    """What :func:`evaluate_image` runs. ``cbr`` = k/n; ``snr_db`` in dB."""

    snr_db: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0)
    channel: str = "awgn"
    link: str = "twin"
    cbr: float = 1 / 12
    schemes: tuple[str, ...] = SCHEMES
    seed: int = 0
    card: str | None = None
    tx_snr_offset_db: float = 0.0  # the TX plans for snr_db - offset (> 0: the channel is better than assumed)
    draws: int = 1  # channel realisations per image: each frame is sent this many times (Rayleigh: distinct fades)
    rate_quality: str = "psnr"  # what the separation baselines' outage-aware rate choice maximises ("psnr" or "mse")
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel={self.channel!r}: expected one of {list(CHANNELS)}")
        if self.link not in LINKS:
            raise ValueError(f"link={self.link!r}: expected one of {list(LINKS)}")
        bad = [s for s in self.schemes if s not in SCHEMES]
        if bad or not self.schemes:
            raise ValueError(f"schemes={list(self.schemes)}: unknown {bad}; expected some of {list(SCHEMES)}")
        if not 0 < self.cbr <= 1:
            raise ValueError(f"cbr={self.cbr}: expected 0 < k/n <= 1")
        if not np.isfinite(self.tx_snr_offset_db) or abs(self.tx_snr_offset_db) > 30:
            raise ValueError(f"tx_snr_offset_db={self.tx_snr_offset_db}: expected a finite offset within ±30 dB")
        from semcom_ota.baselines.codecs import check_rate_quality

        check_rate_quality(self.rate_quality)
        if isinstance(self.draws, bool) or not isinstance(self.draws, (int, np.integer)) or not 1 <= self.draws <= 1000:
            raise ValueError(f"draws={self.draws!r}: expected an int in 1..1000 (channel realisations per image)")


def twin_channel(channel: str, seed: int) -> Callable[[list[SemanticFrame], float], list[RxSemanticFrame]]:
    """Symbol-level channel: frames -> RxSemanticFrames through :class:`ChannelTwin`. Frame ``i`` at a
    given SNR uses a generator seeded by ``(seed, snr, i)`` and the twin draws the fade before the
    noise, so every scheme's ``i``-th frame sees the same Rayleigh fade (common random numbers: the
    schemes are compared on the same channel realisations)."""
    from semcom_ota.channel.twin import ChannelTwin

    twin = ChannelTwin(kind=channel)

    def send(frames: list[SemanticFrame], snr_db: float) -> list[RxSemanticFrame]:
        out = []
        for i, frame in enumerate(frames):
            gen = torch.Generator().manual_seed((int(seed) * 1_000_003 + int(round(snr_db * 100)) * 1009 + i) % 2**62)
            z = torch.from_numpy(frame.symbols.astype(np.complex64))[None]
            with torch.no_grad():
                zh, nv = twin(z, float(snr_db), generator=gen)
            out.append(RxSemanticFrame.from_ideal(frame, zh[0].numpy(), nv[0].numpy(), snr_db))
        return out

    return send


def link_channel(link: str, channel: str, seed: int) -> Callable[[list[SemanticFrame], float], list[RxSemanticFrame]]:
    """Frames through the OFDM PHY (default :class:`~semcom_ota.phy.PhyConfig`) and a link: ``sim``
    (in-process simulator; ``fading="rayleigh"`` draws one fade per burst) or ``gnuradio``
    (``loopback_channel`` flowgraph, or ``loopback_fading`` for Rayleigh). One link per SNR point;
    lost frames come back as ``RxSemanticFrame.lost`` and decode to each codec's fallback."""
    from semcom_ota.link import open_link, transmit_frames

    def send(frames: list[SemanticFrame], snr_db: float) -> list[RxSemanticFrame]:
        if link == "sim":
            kw: dict[str, Any] = {"snr_db": float(snr_db), "seed": seed}
            if channel == "rayleigh":
                kw["fading"] = "rayleigh"
        else:
            kw = {"snr_db": float(snr_db), "seed": seed,
                  "flowgraph": "loopback_fading" if channel == "rayleigh" else "loopback_channel"}
        for i, f in enumerate(frames):
            f.meta.seq = i % 256
        with open_link(link, **kw) as lk:
            res = transmit_frames(frames, lk)
        if res.lost:
            log.info("%s link at %g dB: %d of %d frames lost %s", link, snr_db, sum(res.lost.values()), res.sent, dict(res.lost))
        return res.rx

    return send


def make_codecs(cfg: ImageEvalConfig) -> dict[str, Any]:
    """The codec object of every frame-based scheme in ``cfg.schemes``."""
    import semcom_ota.baselines  # noqa: F401  (registers image-digital)
    from semcom_ota.semantic.base import codecs
    from semcom_ota.semantic.image.codec import DEFAULT_CARD, ImageSemanticCodec
    from semcom_ota.semantic.image.hybrid import ImageHybridCodec

    card = cfg.card or DEFAULT_CARD
    out: dict[str, Any] = {}
    for s in cfg.schemes:
        if s == "semantic":
            out[s] = ImageSemanticCodec(card_path=card)
        elif s == "hybrid":
            out[s] = ImageHybridCodec(card_path=card, channel=cfg.channel)
        elif s.endswith("+ldpc"):
            out[s] = codecs.create("image-digital", source_codec=s.split("+")[0], channel=cfg.channel,
                                   rate_quality=cfg.rate_quality)
    return out


def evaluate_image(cfg: ImageEvalConfig, images: list[tuple[str, np.ndarray]]) -> list[ResultRow]:
    """Mean PSNR (dB, the mean of per-image PSNRs) and mean MS-SSIM per (scheme, SNR) over ``images``;
    DESIGN §2 rows (``channel_uses`` = k per image). Every transmitter (rate choice, hybrid split,
    encoder conditioning) plans for ``snr - cfg.tx_snr_offset_db``; the channel runs at ``snr`` (the
    row's SNR), so a positive offset models a channel better than the fed-back SNR said;
    ``ideal-separation`` then sends at the capacity of the assumed SNR. With ``cfg.draws = R`` each
    image is encoded once and its frame sent ``R`` times (frame index ``i + r·N``: draw ``r`` of image
    ``i`` sees the same fade in every scheme); the means are over all ``N·R`` received images."""
    from semcom_ota.baselines.schemes import ideal_separation_image

    if not images:
        raise ValueError("evaluate_image: no test images")
    shapes = {im.shape for _, im in images}
    if len(shapes) != 1:
        raise ValueError(f"evaluate_image: images of several shapes {sorted(shapes)}; expected one size")
    shape = next(iter(shapes))
    budget = int(round(cfg.cbr * shape[0] * shape[1] * shape[2]))
    send = twin_channel(cfg.channel, cfg.seed) if cfg.link == "twin" else link_channel(cfg.link, cfg.channel, cfg.seed)
    label = cfg.channel if cfg.link == "twin" else f"{cfg.link}:{cfg.channel}"
    if cfg.tx_snr_offset_db:
        label += f" (tx assumes {-cfg.tx_snr_offset_db:+g} dB)"
    codecs_ = make_codecs(cfg)
    reps = int(cfg.draws)
    rows: list[ResultRow] = []
    jobs = [(s, snr) for s in cfg.schemes for snr in cfg.snr_db]
    for scheme, snr in progress(jobs, desc=f"eval image {label}", unit="point"):
        tx_snr = snr - cfg.tx_snr_offset_db
        if scheme == "ideal-separation":
            outs = [ideal_separation_image(img, budget, tx_snr, codec="avif", channel=cfg.channel,
                                           rng=np.random.default_rng([cfg.seed, int(round(snr * 100)) % 2**32, i]),
                                           quality=cfg.rate_quality)[0]
                    for i, (_, img) in enumerate(images * reps)]
        else:
            codec = codecs_[scheme]
            frames = []
            for _, img in images:
                if scheme.endswith("+ldpc"):
                    frame = codec.encode_for(img, budget, tx_snr, cfg.channel)
                elif scheme == "hybrid":
                    frame = codec.encode(img, budget, tx_snr, channel=cfg.channel)
                else:
                    frame = codec.encode(img, budget, tx_snr)
                if frame.n > budget:
                    raise RuntimeError(f"{scheme}: frame of {frame.n} symbols exceeds the budget {budget}")
                frames.append(frame)
            outs = [codec.decode(rx).content for rx in send(frames * reps, snr)]
        ref = np.stack([im for _, im in images * reps])
        rec = np.stack(outs)
        n = len(outs)
        rows.append(ResultRow("image", scheme, label, float(snr), budget, "psnr_db", float(np.mean(psnr_db(ref, rec))), n))
        rows.append(ResultRow("image", scheme, label, float(snr), budget, "ms_ssim", float(np.mean(ms_ssim(ref, rec))), n))
        log.info("%s %s %g dB: PSNR %.2f dB", scheme, label, snr, rows[-2].value)
    return rows
