"""Fine-tuning pieces of the task codec (issue 8): the teacher recovered from a teacher-jscc file,
validation-chosen checkpoints in ``train_system``, the encode-once accuracy sweeps (CPU, tiny data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from semcom_ota.semantic.task.nets import TaskSystem, TeacherResNet
from semcom_ota.semantic.task.store import TeacherStore
from semcom_ota.train import task as T


@pytest.fixture()
def tiny_data(monkeypatch):
    rng = np.random.default_rng(0)
    xs = (rng.random((96, 28, 28)) * 255).astype(np.uint8)
    ys = np.arange(96) % 10
    monkeypatch.setattr(T, "load_split", lambda split: (xs, ys) if split == "train" else (xs[:40], ys[:40]))
    return xs, ys


def test_teacher_from_jscc_is_the_frozen_encoder(tmp_path):
    system = TaskSystem("teacher", arch="v2")
    jscc = T.save_system(system, tmp_path / "teacher_jscc.safetensors", {"epochs": "1"})
    out = tmp_path / "teacher.safetensors"
    s = T.teacher_from_jscc(jscc, out)
    assert s["arch"] == "v2" and T.teacher_arch(out) == "v2"
    teacher = T.load_teacher(out)
    assert isinstance(teacher, TeacherResNet)
    # the teacher's weights are the teacher-jscc file's (float16) semantic weights
    sd = load_file(str(jscc))
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, sd["semantic." + k].to(v.dtype)), k
    student = T.save_system(TaskSystem("student", arch="v2"), tmp_path / "student.safetensors", {})
    with pytest.raises(ValueError, match="kind='student'"):
        T.teacher_from_jscc(student, tmp_path / "x.safetensors")


def test_twin_accuracies_match_system_accuracy(tiny_data):
    xs, ys = tiny_data
    system = TaskSystem("student", arch="v1")
    points = [("awgn", 0.0), ("rayleigh", 0.0), ("rayleigh", 10.0)]
    got = T.twin_accuracies(system, xs[:40], ys[:40], points, batch=16)
    for ch, snr in points:
        assert got[(ch, snr)] == T.system_accuracy(system, xs[:40], ys[:40], snr, ch, batch=16)


def test_train_system_keeps_the_best_validation_checkpoint(tiny_data, tmp_path):
    xs, _ = tiny_data
    g = torch.Generator().manual_seed(1)
    store = TeacherStore.compress(torch.randn(96, 10, generator=g), torch.rand(96, 256, generator=g))
    scores = iter([0.1, 0.9, 0.2, 0.3])  # the second check is the best
    seen = []

    def select(system):
        seen.append({k: v.clone() for k, v in system.state_dict().items()})
        return next(scores)

    cfg = T.SystemConfig(epochs=2, batch=16, max_steps=4, eval_every=2, channels=("awgn", "rayleigh", "rayleigh"),
                         snr_skew=2.0, pct_start=0.1)
    system = TaskSystem("student", arch="v1")
    s = T.train_system(system, tmp_path / "ft.pt", cfg, T.stored_targets(store), select=select)
    assert len(seen) == 4 and s["best_step"] == 4 and s["best_score"] == pytest.approx(0.9)
    assert s["steps_run"] == 8
    for k, v in system.state_dict().items():
        assert torch.equal(v, seen[1][k]), k  # the best weights are loaded at the end
    best = load_file(str(tmp_path / "ft.best.safetensors"))
    assert torch.equal(best["jsc.net.0.weight"].float(), seen[1]["jsc.net.0.weight"].half().float())


def test_train_system_stops_at_the_wall_time_limit(tiny_data, tmp_path):
    cfg = T.SystemConfig(epochs=3, batch=16, max_steps=4, max_wall_s=0.0)
    s = T.train_system(TaskSystem("student", arch="v1"), tmp_path / "w.pt", cfg, None)
    assert s["steps_run"] == 1


def test_encode_cache_is_exactly_encode_batch():
    from semcom_ota.eval.task import _FEATURES, _encode_cached
    from semcom_ota.semantic.task.codec import TaskCodec

    codec = TaskCodec.__new__(TaskCodec)
    codec.system = TaskSystem("student", arch="v1").eval()
    imgs = (np.random.default_rng(2).random((12, 28, 28)) * 255).astype(np.uint8)
    for n, snr in ((64, 0.0), (8, 20.0), (32, 5.0)):
        assert np.array_equal(_encode_cached(codec, imgs, n, snr).numpy(), codec.encode_batch(imgs, n, snr))
    assert sum(k[0] == id(codec.system) for k in _FEATURES) == 1  # one semantic pass for the three points
    with pytest.raises(ValueError, match="n=7"):
        _encode_cached(codec, imgs, 7, 0.0)


def test_encode_cache_never_serves_another_system():
    from semcom_ota.eval.task import _encode_cached
    from semcom_ota.semantic.task.codec import TaskCodec

    imgs = (np.random.default_rng(3).random((6, 28, 28)) * 255).astype(np.uint8)
    for seed in range(4):  # fresh systems, often at a recycled address once the last one is freed
        torch.manual_seed(seed)
        codec = TaskCodec.__new__(TaskCodec)
        codec.system = TaskSystem("student", arch="v1").eval()
        assert np.array_equal(_encode_cached(codec, imgs, 64, 0.0).numpy(), codec.encode_batch(imgs, 64, 0.0))
        del codec
