"""Contract of the image-semantic codec, and the shipped weights against an untrained network."""

import numpy as np
import pytest
import torch

from semcom_ota.channel.twin import ChannelTwin
from semcom_ota.eval.image_metrics import psnr_db
from semcom_ota.frames import FrameMeta, FrameStatus, RxSemanticFrame
from semcom_ota.semantic.base import codecs, load_codec
from semcom_ota.semantic.image.codec import DEFAULT_CARD, ImageSemanticCodec, centre_crop
from semcom_ota.semantic.image.model import ImageJSCC


@pytest.fixture(scope="module")
def codec():
    return load_codec(DEFAULT_CARD)


@pytest.fixture(scope="module")
def photos():
    from semcom_ota.data.samples import load_samples

    # bundled 192x128 crops of test-split photos, downscaled to 64 px short side and centre-cropped
    return [centre_crop(img, 64) for _, img in load_samples().photos][:4]


def through_twin(frame, snr_db, kind="awgn", seed=0, keep=None):
    torch.manual_seed(seed)
    zh, nv = ChannelTwin(kind=kind)(torch.from_numpy(frame.symbols)[None], torch.tensor([float(snr_db)]))
    nv = np.broadcast_to(np.asarray(nv, np.float32).reshape(-1), (frame.n,)) if np.size(nv) == 1 else np.asarray(nv, np.float32).reshape(-1)
    rx = RxSemanticFrame.from_ideal(frame, zh[0].numpy(), nv, snr_db)
    if keep is not None:  # the PHY cut the payload short: the tail is masked out
        rx.mask[keep:] = False
        rx.symbols[keep:] = 0
        rx.noise_var[keep:] = np.inf
        rx.status = FrameStatus.TRUNCATED
    return rx


def test_registered_with_codec_id_3(codec):
    assert "image-semantic" in codecs and isinstance(codec, ImageSemanticCodec) and codec.codec_id == 3


@pytest.mark.parametrize("shape", [(64, 64, 3), (37, 50, 3), (8, 8, 3), (5, 3, 3)])
def test_any_image_size_unit_power_budget_and_tiers(codec, rng, shape):
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    per = -(-shape[0] // 8) * -(-shape[1] // 8)
    budget = 10 * per + per - 1  # not a multiple of a channel (per > 1): the codec rounds down
    f = codec.encode(img, budget, 10.0)
    assert f.n <= budget and f.n == 10 * per
    assert abs(np.mean(np.abs(f.symbols) ** 2) - 1.0) < 1e-4
    assert f.tiers == [4 * per, 8 * per, 10 * per]
    assert f.meta.codec_id == 3 and f.meta.content_shape == shape
    out = codec.decode(through_twin(f, 10.0)).content
    assert out.dtype == np.uint8 and out.shape == shape


def test_budget_caps_at_the_widest_frame(codec, rng):
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    f = codec.encode(img, 10**6, 10.0)
    assert f.n == 32 * 16 and len(f.tiers) == 8  # 32 channels of 4x4 symbols, 8 tiers: k/n = 1/6


def test_truncation_at_each_tier_decodes_and_quality_drops_as_tiers_drop(codec, photos):
    psnr = {}
    for img in photos[:2]:
        f = codec.encode(img, img.shape[0] * img.shape[1] * 3 // 6, 20.0)
        assert len(f.tiers) == 8
        for t in f.tiers:
            # sender-side truncation (SemanticFrame.truncate) and receiver-side masking both decode
            out = codec.decode(through_twin(f.truncate(t), 20.0)).content
            out_masked = codec.decode(through_twin(f, 20.0, keep=t)).content
            psnr.setdefault(t, []).append(psnr_db(img, out))
            psnr.setdefault(-t, []).append(psnr_db(img, out_masked))
    tiers = sorted(t for t in psnr if t > 0)
    means = [np.mean(psnr[t]) for t in tiers]
    masked = [np.mean(psnr[-t]) for t in tiers]
    assert all(b >= a - 0.3 for a, b in zip(means, means[1:])), means  # non-increasing as tiers drop
    # the shipped model gains little beyond its first tier (see README: limited CPU training), but more
    # tiers must never hurt and the full frame must beat the first tier
    assert means[-1] > means[0] + 0.1, means
    assert all(b >= a - 0.3 for a, b in zip(masked, masked[1:])), masked


def test_lost_frame_decodes_to_a_prior_not_an_error(codec):
    meta = FrameMeta(codec_id=3, content_shape=(16, 16, 3))
    out = codec.decode(RxSemanticFrame.lost(meta, 64, FrameStatus.CRC_FAIL)).content
    assert out.shape == (16, 16, 3)


def test_over_the_air_default_shape(codec, rng):
    img = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    f = codec.encode(img, 4096, 10.0)
    rx = through_twin(f, 10.0)
    rx.meta = FrameMeta(codec_id=3)  # what the header carries: no content_shape
    assert codec.decode(rx).content.shape == tuple(codec.default_shape) == (128, 128, 3)


def test_shipped_weights_beat_an_untrained_network(codec, photos):
    """Bundled test-split sample photos (64x64 views), 10 dB AWGN, k/n = 1/12. Floor: 17 dB (the
    shipped model reaches ~19 dB; an untrained network or a broken decoder sits near 10-12 dB)."""
    torch.manual_seed(0)
    untrained = ImageSemanticCodec(model=ImageJSCC())
    got, base = [], []
    for img in photos:
        budget = img.shape[0] * img.shape[1] * 3 // 12
        got.append(psnr_db(img, codec.decode(through_twin(codec.encode(img, budget, 10.0), 10.0)).content))
        base.append(psnr_db(img, untrained.decode(through_twin(untrained.encode(img, budget, 10.0), 10.0)).content))
    assert np.mean(got) > 17.0, got
    assert np.mean(got) > np.mean(base) + 5.0, (got, base)


def test_quality_rises_with_snr(codec, photos):
    vals = {s: np.mean([psnr_db(p, codec.decode(through_twin(codec.encode(p, 1024, s), s)).content) for p in photos])
            for s in (0.0, 10.0, 20.0)}
    assert vals[0.0] < vals[10.0] - 0.2 and vals[20.0] > vals[10.0] - 0.2, vals


def test_clear_errors_for_bad_input(codec, rng):
    with pytest.raises(TypeError, match="dtype float32, expected uint8"):
        codec.encode(np.zeros((8, 8, 3), np.float32), 100)
    with pytest.raises(ValueError, match=r"shape \(8, 8\), expected \[H, W, 3\]"):
        codec.encode(np.zeros((8, 8), np.uint8), 100)
    with pytest.raises(TypeError, match="numpy uint8 array"):
        codec.encode([[0]], 100)
    with pytest.raises(ValueError, match="budget=3: expected at least 64"):
        codec.encode(np.zeros((64, 64, 3), np.uint8), 3)
    f = codec.encode(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), 512, 10.0)
    rx = through_twin(f, 10.0)
    rx.meta = FrameMeta(codec_id=3, content_shape=(8, 8, 3))  # 512 symbols cannot be an 8x8 image
    with pytest.raises(ValueError, match="content_shape"):
        codec.decode(rx)
