"""The shipped task codecs (models/task_fmnist.yaml, models/teacher_jscc.yaml): contract, accuracy
over the channel twin on held-out test images, truncation, and card/weights checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import semcom_ota.semantic.task  # noqa: F401  (registers the codecs)
from semcom_ota.channel.twin import ChannelTwin
from semcom_ota.frames import FrameStatus, RxSemanticFrame
from semcom_ota.semantic.base import Decoded, codecs, load_codec
from semcom_ota.semantic.task.codec import TaskCodec
from semcom_ota.semantic.task.nets import CLASS_NAMES, TIERS

ROOT = Path(__file__).resolve().parents[3]
CARD = ROOT / "models" / "task_fmnist.yaml"
TEACHER_CARD = ROOT / "models" / "teacher_jscc.yaml"


@pytest.fixture(scope="module")
def codec() -> TaskCodec:
    return load_codec(CARD)


@pytest.fixture(scope="module")
def test_images():
    from semcom_ota.eval.task import test_subset

    return test_subset(500, seed=0)


def test_registered_with_codec_ids(codec):
    assert {"task-fmnist", "teacher-jscc"} <= set(codecs.names())
    assert codec.codec_id == 1 and codec.name == "task-fmnist"
    teacher = load_codec(TEACHER_CARD)
    assert teacher.codec_id == 2 and teacher.name == "teacher-jscc"
    img = np.zeros((28, 28), np.uint8)
    assert teacher.encode(img, 16).meta.codec_id == 2


@pytest.mark.parametrize("budget,n,tiers", [(16, 16, [8, 16]), (32, 32, [8, 16, 32]), (64, 64, [8, 16, 32, 64]),
                                            (50, 32, [8, 16, 32])])
def test_encode_contract(codec, test_images, budget, n, tiers):
    images, _ = test_images
    frame = codec.encode(images[0], budget=budget, snr_db=3.0)
    assert frame.symbols.dtype == np.complex64 and frame.symbols.shape == (n,)
    assert frame.tiers == tiers and frame.meta.codec_id == 1 and frame.meta.n_tiers == len(tiers)
    assert frame.meta.content_shape == (28, 28) and frame.meta.snr_db == 3.0
    assert abs(float(np.mean(np.abs(frame.symbols) ** 2)) - 1.0) < 1e-4
    # every tier prefix is unit power too, so a truncated frame is a valid frame
    for t in tiers:
        assert abs(float(np.mean(np.abs(frame.truncate(t).symbols) ** 2)) - 1.0) < 1e-4


def test_bad_inputs_name_the_problem(codec):
    with pytest.raises(ValueError, match="uint8 \\[28, 28\\]"):
        codec.encode(np.zeros((32, 32), np.uint8), 64)
    with pytest.raises(ValueError, match="uint8 \\[28, 28\\]"):
        codec.encode(np.zeros((28, 28), np.float32), 64)
    with pytest.raises(ValueError, match="budget=4"):
        codec.encode(np.zeros((28, 28), np.uint8), 4)
    frame = codec.encode(np.zeros((28, 28), np.uint8), 16)
    lost = RxSemanticFrame.lost(frame.meta, 16, FrameStatus.CRC_FAIL)
    with pytest.raises(ValueError, match="crc_fail"):
        codec.decode(lost)


def test_decode_contract_over_twin(codec, test_images):
    images, labels = test_images
    frame = codec.encode(images[1], 64, snr_db=10.0)
    z_hat, nv = ChannelTwin("awgn")(torch.from_numpy(frame.symbols)[None], 10.0, generator=torch.Generator().manual_seed(1))
    out = codec.decode(RxSemanticFrame.from_ideal(frame, z_hat[0].numpy(), nv[0].numpy(), 10.0))
    assert isinstance(out, Decoded)
    assert out.content.dtype == np.uint8 and out.content.shape == (28, 28)
    assert set(out.tasks) == {"class", "class_name", "probs"}
    assert len(out.tasks["probs"]) == 10 and abs(sum(out.tasks["probs"]) - 1.0) < 1e-4
    assert out.tasks["class_name"] == CLASS_NAMES[out.tasks["class"]]
    # the reconstruction head resembles the image (far closer than a blank or shuffled image)
    mse = np.mean((out.content.astype(float) - images[1]) ** 2)
    assert mse < 0.5 * np.mean((images[1].astype(float) - images[2]) ** 2)


def _accuracy(codec, images, labels, snr_db, keep, channel="awgn"):
    z = torch.from_numpy(codec.encode_batch(images, 64, snr_db))
    z_hat, nv = ChannelTwin(channel)(z, snr_db, generator=torch.Generator().manual_seed(0))
    mask = np.zeros(z.shape, bool)
    mask[:, :keep] = True
    z_hat = np.where(mask, z_hat.numpy(), 0)
    nv = np.where(mask, nv.numpy(), np.inf).astype(np.float32)
    probs, _ = codec.decode_batch(z_hat, nv, mask, reconstruct=False)
    return float((probs.argmax(1) == labels).mean())


def test_classifies_held_out_images_at_10db(codec, test_images):
    images, labels = test_images
    acc = _accuracy(codec, images, labels, 10.0, 64)
    assert acc >= 0.80, f"accuracy {acc:.3f} on 500 held-out test images at 10 dB AWGN over the twin"


def test_first_tier_alone_beats_chance(codec, test_images):
    images, labels = test_images
    acc = _accuracy(codec, images, labels, 10.0, TIERS[0])
    assert acc >= 0.40, f"accuracy {acc:.3f} with only the first {TIERS[0]} symbols (chance is 0.10)"
    # the same through the frame contract: a frame truncated in flight decodes
    frame = codec.encode(images[3], 64, 10.0)
    rx = RxSemanticFrame(np.where(np.arange(64) < 8, frame.symbols, 0).astype(np.complex64), np.arange(64) < 8,
                         np.where(np.arange(64) < 8, 0.1, np.inf).astype(np.float32), 10.0, frame.meta,
                         FrameStatus.TRUNCATED)
    assert 0 <= codec.decode(rx).tasks["class"] < 10


def _copy_card(tmp_path: Path, **changes) -> Path:
    card = yaml.safe_load(CARD.read_text())
    shutil.copy(CARD.parent / card["weights"], tmp_path / card["weights"])
    card.update(changes)
    out = tmp_path / "card.yaml"
    out.write_text(yaml.safe_dump(card))
    return out


def test_card_weights_mismatch_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="sha256=.*expected 0{64}"):
        load_codec(_copy_card(tmp_path, sha256="0" * 64))
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_codec(_copy_card(tmp_path, weights="nope.safetensors"))
    # the teacher's weights under a student card (right hash): the tensors do not fit
    tcard = yaml.safe_load(TEACHER_CARD.read_text())
    shutil.copy(TEACHER_CARD.parent / tcard["weights"], tmp_path / tcard["weights"])
    with pytest.raises(ValueError, match="do not fit a student"):
        load_codec(_copy_card(tmp_path, weights=tcard["weights"], sha256=tcard["sha256"]))
    with pytest.raises(Exception, match="n_symbols"):
        load_codec(_copy_card(tmp_path, n_symbols=32))
    with pytest.raises(Exception, match="unknown key"):
        load_codec(_copy_card(tmp_path, colour="red"))


def test_classifies_through_the_ofdm_phy_and_sim_link(codec, test_images):
    """Frames go through the real PHY (OFDM, preamble sync, MMSE equalisation, noise_var) and the
    in-process simulator link; the decoder takes the PHY's RxSemanticFrame as it comes."""
    from semcom_ota.eval.task import codec_accuracy_link

    images, labels = test_images
    acc, summary = codec_accuracy_link(codec, images[:30], labels[:30], 64, 10.0, "awgn", "sim", seed=1)
    assert summary["sent"] == 30 and summary["decoded"] >= 28, summary
    assert acc >= 0.7, f"accuracy {acc:.3f} over the PHY + sim link at 10 dB (chance 0.10)"
