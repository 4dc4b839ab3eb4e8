"""Training of the image JSCC network: crops, side-image variants, losses, devices, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom_ota.train.image import (
    ImageTrainConfig,
    build_patch_pool,
    lr_at,
    random_crops,
    resolve_device,
    train_image_jscc,
)


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128]
    base = np.stack([(xx * 2) % 256, (yy * 2) % 256, (xx + yy) % 256], axis=-1)
    return [np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8) for _ in range(2)]


def test_side_crop_is_the_same_window_of_a_lossy_copy(photos):
    rng = np.random.default_rng(1)
    pool = build_patch_pool(photos, 32, rng)
    variants = [[np.full_like(p, 7 * (j + 1))] for j, (_, p) in enumerate(pool)]  # constant "copies"
    want = np.array([True, False, True, False])
    crops, side = random_crops(pool, 4, 32, rng, variants, want)
    assert crops.shape == side.shape == (4, 32, 32, 3) and crops.dtype == side.dtype == np.uint8
    assert (side[~want] == 0).all()
    assert all(len(np.unique(side[i])) == 1 and side[i].flat[0] > 0 for i in np.flatnonzero(want))


def test_lr_by_time_follows_whichever_runs_out_first():
    cfg = ImageTrainConfig(steps=1000, lr=1e-3, lr_final=1e-5, lr_by_time=True, time_limit_min=1.0)
    assert lr_at(cfg, 0, 0.0) == pytest.approx(1e-3)
    assert lr_at(cfg, 0, 60.0) == pytest.approx(1e-5)  # time is up: at the final rate
    assert lr_at(cfg, 1000, 0.0) == pytest.approx(1e-5)
    assert lr_at(cfg.model_copy(update={"lr_by_time": False}), 0, 60.0) == pytest.approx(1e-3)


def test_device_names():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device='tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_training_runs_saves_cpu_checkpoints_and_resumes(photos, tmp_path):
    cfg = ImageTrainConfig(steps=3, batch=2, crop=32, width=16, n_complex=8, group=4, side_variants=1,
                           ckpt_every=2, time_limit_min=5.0)
    ck = tmp_path / "ck.pt"
    res = train_image_jscc(cfg, photos, ck)
    assert res.steps == 3 and np.isfinite(res.final_loss)
    state = torch.load(ck, map_location="cpu", weights_only=True)
    assert state["step"] == 3 and "machine" in state
    assert all(v.device.type == "cpu" for v in state["model"].values())
    res2 = train_image_jscc(cfg.model_copy(update={"steps": 5}), photos, ck)
    assert res2.steps == 5
    moved = any(not torch.equal(res.model.state_dict()[k], v) for k, v in res2.model.state_dict().items())
    assert moved, "resumed training did not update the weights"
