"""Device-aware training pieces of the task codec (issue 8): the on-device store, the v2 networks,
the teacher file's arch metadata, the twin round trip and the packed outputs (CPU; CUDA if present)."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest
import torch

from semcom_ota.semantic.task.nets import ARCHS, TaskSystem, TeacherNet, TeacherResNet, make_teacher, n_params
from semcom_ota.semantic.task.store import TeacherStore
from semcom_ota.train import task as T

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_device_store_decodes_like_the_store(device):
    g = torch.Generator().manual_seed(3)
    store = TeacherStore.compress(torch.randn(50, 10, generator=g) * 3, torch.relu(torch.randn(50, 32, generator=g)), k=4)
    dstore = store.to(device)
    rows = torch.tensor([0, 7, 7, 49], device=device)
    assert torch.equal(dstore.logits(rows).cpu(), store.logits(rows.cpu().numpy()))
    assert torch.equal(dstore.features(rows).cpu(), store.features(rows.cpu().numpy()))
    fn = T.stored_targets(dstore)
    lg, ft = fn(rows, torch.zeros(4, 1, 28, 28, device=device))
    assert lg.device.type == device and lg.shape == (4, 10) and ft.shape == (4, 32)


def test_v2_networks_sizes_and_interface():
    assert ARCHS == ("v1", "v2")
    teacher, student = TaskSystem("teacher", arch="v2"), TaskSystem("student", arch="v2")
    assert isinstance(teacher.semantic, TeacherResNet) and isinstance(make_teacher("v1"), TeacherNet)
    # the size target: >= 3x fewer encoder parameters than the teacher
    assert n_params(teacher.encoder_modules()) >= 3 * n_params(student.encoder_modules())
    x = torch.rand(3, 1, 28, 28)
    assert teacher.semantic.features(x).shape == (3, 256) and teacher.semantic(x).shape == (3, 10)
    z, mu, logvar = student.encode(x, torch.full((3,), 5.0))
    assert z.shape == (3, 64) and z.is_complex()
    with pytest.raises(ValueError, match="arch='v3'"):
        TaskSystem("student", arch="v3")


def test_v1_weights_do_not_load_into_v2():
    with pytest.raises(RuntimeError):
        TaskSystem("student", arch="v2").load_state_dict(TaskSystem("student", arch="v1").state_dict())


def test_teacher_file_carries_its_arch(tmp_path, monkeypatch):
    xs = (np.random.default_rng(0).random((64, 28, 28)) * 255).astype(np.uint8)
    ys = np.arange(64) % 10
    monkeypatch.setattr(T, "load_split", lambda split: (xs, ys) if split == "train" else (xs[:16], ys[:16]))
    out = tmp_path / "teacher.safetensors"
    s = T.train_teacher(out, tmp_path, T.TeacherConfig(epochs=1, batch=32, anneal_after=None, arch="v2", max_steps=1))
    assert s["arch"] == "v2" and s["params"] == n_params(TeacherResNet())
    assert T.teacher_arch(out) == "v2" and isinstance(T.load_teacher(out), TeacherResNet)
    logits, feats = T.teacher_outputs(T.load_teacher(out), xs[:10])
    assert logits.shape == (10, 10) and feats.shape == (10, 256)


@pytest.mark.parametrize("device", DEVICES)
def test_through_twin_keeps_the_device_and_the_gradient(device):
    z = torch.complex(torch.randn(6, 64), torch.randn(6, 64)).to(device).requires_grad_(True)
    snr, keep = torch.full((6,), 10.0), torch.tensor([8, 16, 32, 64, 64, 8])
    zh, nv, mask = T.through_twin(z, snr, ("awgn", "rayleigh"), keep, torch.Generator().manual_seed(0))
    assert zh.device.type == nv.device.type == mask.device.type == device
    assert mask.sum(1).tolist() == keep.tolist()
    zh.real.sum().backward()
    assert z.grad is not None and bool((z.grad[mask].real != 0).any())


def test_resolve_device_names_the_bad_device():
    with pytest.raises(ValueError, match="'tpu'"):
        T.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            T.resolve_device("cuda")


def test_pack_outputs_groups_files(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("train_task_script", Path(__file__).parents[3] / "scripts" / "train_task.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    models, ck = tmp_path / "m", tmp_path / "c"
    models.mkdir(), ck.mkdir()
    (models / "task_fmnist.yaml").write_text("codec: task-fmnist\n")
    (models / "task_fmnist.safetensors").write_bytes(b"w")
    (ck / "summaries.json").write_text("{}")
    (ck / "teacher.safetensors").write_bytes(b"t")
    out = script.pack_outputs(tmp_path / "out", models, ck)
    assert sorted(p.name for p in out) == ["task_ckpt.tar", "task_models.tar", "teacher.safetensors"]
    with tarfile.open(tmp_path / "out" / "task_models.tar") as tar:
        assert sorted(tar.getnames()) == ["task_fmnist.safetensors", "task_fmnist.yaml"]


def test_finetune_record_keeps_earlier_rounds():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("train_task_script", Path(__file__).parents[3] / "scripts" / "train_task.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    training: dict = {"epochs": 60}
    script.add_finetune_record(training, {"steps_run": 1})
    assert training["finetune"] == {"steps_run": 1}
    script.add_finetune_record(training, {"steps_run": 2})
    assert training["finetune"] == {"round1": {"steps_run": 1}, "round2": {"steps_run": 2}}
    # a card whose rounds were merged by hand (with totals beside them) gets the next round
    training["finetune"]["total_steps_of_128"] = 3
    script.add_finetune_record(training, {"steps_run": 3})
    assert training["finetune"]["round3"] == {"steps_run": 3} and training["finetune"]["total_steps_of_128"] == 3
    assert training["epochs"] == 60
