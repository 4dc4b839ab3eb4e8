"""The two-view teacher (issue 8): soft labels averaged over the image and its mirror, the same in the
store and in the online-distillation baseline; features stay those of the image itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from semcom_ota.semantic.task.nets import TeacherResNet, images_to_tensor
from semcom_ota.semantic.task.store import TeacherStore
from semcom_ota.train import task as T


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    model = TeacherResNet().eval()
    with torch.no_grad():  # random but not degenerate: spread the head so the views disagree
        model.head[1].weight.mul_(20.0)
    return model


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    xs = (rng.random((24, 28, 28)) * 255).astype(np.uint8)
    xs[:, :, :10] = 0  # asymmetric: the mirror image differs
    return xs


def test_one_view_is_the_plain_network(teacher, images):
    x = images_to_tensor(images)
    with torch.no_grad():
        lg, f = T.teacher_forward(teacher, x, views=1)
        assert torch.allclose(lg, teacher(x), atol=1e-5) and torch.allclose(f, teacher.features(x))


def test_two_views_average_the_mirror_logits_and_keep_the_image_features(teacher, images):
    x = images_to_tensor(images)
    with torch.no_grad():
        lg, f = T.teacher_forward(teacher, x, views=2)
        mean = 0.5 * (teacher(x) + teacher(x.flip(3)))
        assert torch.allclose(lg, mean, atol=1e-4)
        assert not torch.allclose(lg, teacher(x), atol=1e-2)  # the mirror view changes the targets
        assert torch.equal(f, teacher.features(x))
        # the two-view logits of an image and of its mirror are the same
        assert torch.allclose(T.teacher_forward(teacher, x.flip(3), views=2)[0], lg, atol=1e-4)
    assert T.TEACHER_VIEWS == 2


def test_bad_views_name_the_value(teacher, images):
    x = images_to_tensor(images[:2])
    for bad in (0, 3):
        with pytest.raises(ValueError, match=f"views={bad}"):
            T.teacher_forward(teacher, x, views=bad)
        with pytest.raises(ValueError, match=f"views={bad}"):
            T.online_targets(teacher, views=bad)


def test_store_and_online_arm_give_the_same_targets(teacher, images, tmp_path, monkeypatch):
    """The store is built with the views the online baseline runs, so both arms learn the same thing."""
    labels = np.arange(len(images)) % 10
    monkeypatch.setattr(T, "load_split", lambda split: (images, labels))
    path = tmp_path / "teacher.safetensors"
    save_file({k: v.contiguous() for k, v in teacher.state_dict().items()}, str(path), metadata={"arch": "v2"})
    for views in (1, 2):
        out = tmp_path / f"store{views}.safetensors"
        info = T.build_store(path, out, views=views)
        assert info["views"] == views
        with safe_open(str(out), "pt") as f:
            assert f.metadata()["views"] == str(views)
        store = TeacherStore.load(out)
        rows = torch.arange(len(images))
        x = images_to_tensor(images)
        lg_on, f_on = T.online_targets(T.load_teacher(path), views=views)(rows, x)
        lg_st, f_st = T.stored_targets(store)(rows, x)
        assert torch.equal(lg_on.argmax(1), lg_st.argmax(1))
        top = lg_on.topk(4, dim=1)
        assert torch.allclose(lg_st.gather(1, top.indices), top.values, atol=0.05)
        step = f_on.abs().max(1).values / 127
        assert bool(((f_st - f_on).abs().max(1).values <= step * 0.51 + 1e-3).all())
    # the clean accuracy helper follows the views too
    acc1 = T.accuracy_clean(T.load_teacher(path), images, labels, views=1)
    acc2 = T.accuracy_clean(T.load_teacher(path), images, labels, views=2)
    with torch.no_grad():
        x = images_to_tensor(images)
        want2 = float((T.teacher_forward(teacher, x, 2)[0].argmax(1).numpy() == labels).mean())
        want1 = float((teacher(x).argmax(1).numpy() == labels).mean())
    assert acc1 == pytest.approx(want1) and acc2 == pytest.approx(want2)


def test_whole_run_estimate_charges_the_store_build_both_ways():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_task", Path(__file__).parents[3] / "scripts" / "bench" / "task.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    live = {"batch": 100, "store_n": 1000, "views": 2, "teacher_forward_cpu_s": 20.0, "teacher_forward_steps": 10,
            "stored": {"cpu_s": 5.0, "steps": 10}, "online": {"cpu_s": 25.0, "steps": 10}}
    est = bench.full_run_cpu_estimate(live, items=250, epochs=4)  # 3 batches x 4 epochs = 12 steps
    assert est["steps"] == 12 and est["online_cpu_s"] == pytest.approx(30.0)
    # no measured build: one live forward (2 s) per batch of the 1000-image store = 20 s
    assert est["store_build_cpu_s"] == pytest.approx(20.0) and est["stored_cpu_s"] == pytest.approx(6.0 + 20.0)
    assert est["stored_share_cpu_s"] == pytest.approx(6.0 + 5.0) and est["ratio"] == pytest.approx(30.0 / 26.0)
    measured = bench.full_run_cpu_estimate(live, items=250, epochs=4, store_build_cpu_s=40.0)
    assert measured["store_build"] == "measured" and measured["stored_cpu_s"] == pytest.approx(46.0)
    assert measured["ratio_store_share"] == pytest.approx(30.0 / 16.0)
