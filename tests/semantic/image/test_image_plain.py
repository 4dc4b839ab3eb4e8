"""The ``arch: plain`` image JSCC network (PlainJSCC): shapes, power, layout, truncation, cards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file

from semcom_ota.frames import RxSemanticFrame
from semcom_ota.semantic.image.codec import ImageSemanticCodec, load_model
from semcom_ota.semantic.image.model import ImageJSCC, PlainJSCC, build_image_model

ROOT = Path(__file__).resolve().parents[3]
PLAIN_CARD = ROOT / "models" / "image_semantic_plain.yaml"


def test_shapes_power_and_full_convolution():
    torch.manual_seed(0)
    net = PlainJSCC(width=8, n_complex=8, group=1).eval()
    for h, w in ((32, 48), (20, 12)):
        x = torch.rand(2, 3, h, w)
        z = net.encode(x, torch.tensor([0.0, 20.0]), m=3)
        assert z.shape == (2, 3, h // 4, w // 4) and z.dtype == torch.complex64
        assert torch.allclose(z.abs().pow(2).mean(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)
        nv = torch.full(z.shape, 0.1)
        with torch.no_grad():
            y = net.decode(z, nv, torch.ones(z.shape, dtype=torch.bool))
        assert y.shape == (2, 3, h, w) and float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_bad_arguments_are_named():
    net = PlainJSCC(width=8)
    with pytest.raises(ValueError, match="m=9"):
        net.encode(torch.rand(1, 3, 16, 16), torch.tensor([10.0]), m=9)
    with pytest.raises(ValueError, match="side-image"):
        net.encode(torch.rand(1, 3, 16, 16), torch.tensor([10.0]), 2, torch.rand(1, 3, 16, 16), torch.ones(1))
    with pytest.raises(ValueError, match="n_complex=6, group=4"):
        PlainJSCC(n_complex=6, group=4)
    with pytest.raises(ValueError, match="arch='deep'"):
        build_image_model(arch="deep")
    with pytest.raises(ValueError, match="arch='plain'"):
        build_image_model(arch="plain", widht=8)
    assert isinstance(build_image_model(width=32), ImageJSCC)  # no arch: the default network


def test_codec_emits_channel_major_prefixes_with_tiers_per_channel():
    torch.manual_seed(0)
    codec = ImageSemanticCodec(model=PlainJSCC(width=8, n_complex=8, group=1))
    img = np.random.default_rng(0).integers(0, 256, (30, 44, 3), dtype=np.uint8)  # padded to 32x44 -> 8x11
    per = 8 * 11
    full = codec.encode(img, budget=8 * per + 5, snr_db=10.0)
    part = codec.encode(img, budget=2 * per + per - 1, snr_db=10.0)  # room for 2 channels only
    assert full.n == 8 * per and part.n == 2 * per
    assert list(part.tiers) == [per, 2 * per] and list(full.tiers) == [per * (i + 1) for i in range(8)]
    # channel-major: symbol c·per + i is latent channel c at raster position i
    x = torch.from_numpy(np.pad(img, ((0, 2), (0, 0), (0, 0)), mode="edge")).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        z = codec.model.encode(x, torch.tensor([10.0]), 2)
    assert z.shape == (1, 2, 8, 11) and np.allclose(part.symbols, z.reshape(-1).numpy(), atol=1e-5)
    rx = RxSemanticFrame.from_ideal(full, full.symbols, np.full(full.n, 1e-3, np.float32), 30.0)
    out = codec.decode(rx).content
    assert out.shape == img.shape and out.dtype == np.uint8
    with pytest.raises(ValueError, match="budget=10"):
        codec.encode(img, budget=10, snr_db=10.0)


def test_training_loop_logs_validation_and_resumes(tmp_path):
    """The plain training loop (semcom_ota.train.image_plain) on a tiny net: validation curve, checkpoint, resume."""
    from semcom_ota.train import image_plain as mod

    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(2)]
    kw = dict(arch="plain", width=8, n_complex=4, group=1, batch=4, crop=16, channels=("awgn", "rayleigh"),
              channel_probs=(0.5, 0.5), p_side_both=0.0, p_side_enc_only=0.0, ckpt_every=10, val_every=10)
    val = np.stack([p[:16, :16] for p in photos])
    res, curve = mod.train_plain(mod.ImageArchTrainConfig(steps=20, **kw), photos, val, tmp_path / "c.pt")
    assert res.steps == 20 and [c["step"] for c in curve] == [0, 10, 20]
    assert all(5.0 < c["val_awgn_10db"] < 40.0 and 5.0 < c["val_rayleigh_10db"] < 40.0 for c in curve)
    res2, curve2 = mod.train_plain(mod.ImageArchTrainConfig(steps=30, **kw), photos, val, tmp_path / "c.pt")
    assert res2.steps == 30 and [c["step"] for c in curve2] == [0, 10, 20, 30]
    assert curve2[-1]["cpu_s"] >= curve[-1]["cpu_s"]
    with pytest.raises(ValueError, match="side-image"):
        mod.train_plain(mod.ImageArchTrainConfig(steps=1, **{**kw, "p_side_both": 0.3}), photos, val, None)


@pytest.mark.skipif(not PLAIN_CARD.is_file(), reason="models/image_semantic_plain.yaml not shipped")
def test_truncation_is_monotonic_on_the_shipped_plain_model():
    """Importance ordering: each extra tier (latent channel) improves the validation reconstruction."""
    from semcom_ota.data.photos import load_photos
    from semcom_ota.semantic.image.codec import val_crops

    model, _ = load_model(PLAIN_CARD)
    crops = val_crops([p.image for p in load_photos("val")])[::4]
    x = torch.from_numpy(np.stack([c for _, c in crops])).permute(0, 3, 1, 2).float() / 255
    psnr = []
    with torch.no_grad():
        for m in range(1, model.n_complex + 1):
            z = model.encode(x, torch.full((x.shape[0],), 20.0), m)
            y = model.decode(z, torch.full(z.shape, 0.01), torch.ones(z.shape, dtype=torch.bool))
            psnr.append(float((-10 * torch.log10(((y - x) ** 2).mean(dim=(1, 2, 3)))).mean()))
    assert all(b > a - 0.05 for a, b in zip(psnr, psnr[1:])), psnr
    assert psnr[-1] > psnr[0] + 1.0, psnr


def test_default_card_still_loads_the_resaf_network():
    model, card = load_model(ROOT / "models" / "image_semantic.yaml")
    assert isinstance(model, ImageJSCC) and model.arch == "resaf" and model.stride == 8


@pytest.mark.skipif(not PLAIN_CARD.is_file(), reason="models/image_semantic_plain.yaml not shipped")
def test_shipped_plain_card_loads_and_reconstructs():
    from semcom_ota.data.photos import load_photos
    from semcom_ota.semantic.image.codec import centre_crop

    model, card = load_model(PLAIN_CARD)
    assert isinstance(model, PlainJSCC) and card["architecture"]["arch"] == "plain"
    codec = ImageSemanticCodec(PLAIN_CARD)
    img = centre_crop(load_photos("val")[0].image, 128)
    frame = codec.encode(img, budget=128 * 128 * 3 // 12, snr_db=20.0)
    assert frame.n == 4096 and len(frame.tiers) == 4
    rx = RxSemanticFrame.from_ideal(frame, frame.symbols, np.full(frame.n, 0.01, np.float32), 20.0)
    out = codec.decode(rx).content.astype(float)
    psnr = 10 * np.log10(255.0**2 / np.mean((out - img.astype(float)) ** 2))
    assert psnr > 20.0


def test_corrupt_or_mismatched_weights_give_clear_errors(tmp_path):
    net = PlainJSCC(width=8, n_complex=8, group=1)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "w.safetensors"))
    card = {"codec": "image-semantic", "weights": "w.safetensors",
            "architecture": {"arch": "plain", "width": 8, "n_complex": 8, "group": 1}}
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(card))
    model, _ = load_model(tmp_path / "ok.yaml")
    assert isinstance(model, PlainJSCC)
    # the same weights under a card that names another width
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump({**card, "architecture": {**card["architecture"], "width": 16}}))
    with pytest.raises(ValueError, match=r"w\.safetensors do not match .*arch='plain'"):
        load_model(tmp_path / "wide.yaml")
    # plain weights under a card without arch (the resaf network)
    (tmp_path / "resaf.yaml").write_text(yaml.safe_dump({**card, "architecture": {"width": 8}}))
    with pytest.raises(ValueError, match="arch='resaf'"):
        load_model(tmp_path / "resaf.yaml")
    # a truncated file
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "bad.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**card, "weights": "bad.safetensors"}))
    with pytest.raises(ValueError, match=r"bad\.safetensors: not a readable safetensors file"):
        load_model(tmp_path / "bad.yaml")
    (tmp_path / "gone.yaml").write_text(yaml.safe_dump({**card, "weights": "gone.safetensors"}))
    with pytest.raises(FileNotFoundError, match="gone.safetensors"):
        load_model(tmp_path / "gone.yaml")


def test_hybrid_refuses_a_plain_network():
    from semcom_ota.semantic.image.hybrid import ImageHybridCodec

    hyb = ImageHybridCodec(model=PlainJSCC(width=8))
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="side-image"):  # the refinement of a base layer needs the side input
        hyb.analog_encode(img, 1024, 10.0, side=img)
