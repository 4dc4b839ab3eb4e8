"""Stored-teacher-output format and the information-bottleneck rate term (no trained model needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semcom_ota.semantic.task.ib import gaussian_rate, ib_loss
from semcom_ota.semantic.task.nets import JSCEncoder
from semcom_ota.semantic.task.store import TeacherStore


def _fake_outputs(n=300, c=10, f=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g) * 4
    feats = torch.relu(torch.randn(n, f, generator=g)) * 3
    return logits, feats


def test_store_round_trip(tmp_path):
    logits, feats = _fake_outputs()
    store = TeacherStore.compress(logits, feats, k=4)
    path = store.save(tmp_path / "store.safetensors", metadata={"teacher": "unit"})
    back = TeacherStore.load(path)
    for name in ("topk_logits", "topk_idx", "tail_lse", "feat_q", "feat_scale"):
        a, b = getattr(store, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    # 4*2 + 4 + 2 + 64 + 2 bytes per row
    assert back.nbytes == 300 * (8 + 4 + 2 + 64 + 2)
    rec = back.logits()
    # top-4 classes and their logits come back (float16 precision); argmax is preserved
    top = logits.topk(4, dim=1)
    assert torch.equal(rec.topk(4, dim=1).indices.sort(1).values, top.indices.sort(1).values)
    assert torch.allclose(rec.gather(1, top.indices), top.values, atol=0.02)
    # the tail keeps its total probability at temperature 1
    p, q = F.softmax(logits, 1), F.softmax(rec, 1)
    assert float((p - q).abs().sum(1).max()) < 0.05 + 2 * float(p.scatter(1, top.indices, 0).sum(1).max())
    assert torch.allclose(p.scatter(1, top.indices, 0).sum(1), q.scatter(1, top.indices, 0).sum(1), atol=0.01)
    # int8 features: error at most half a quantisation step per row
    err = (back.features() - feats).abs().max(1).values
    step = feats.abs().max(1).values / 127
    assert bool((err <= step * 0.51 + 1e-3).all())
    rows = np.array([5, 7, 299])
    assert torch.equal(back.logits(rows), rec[rows]) and torch.equal(back.features(rows), back.features()[rows])


def test_store_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="teacher store"):
        TeacherStore.load(tmp_path / "missing.safetensors")
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"), metadata={"format": "other"})
    with pytest.raises(ValueError, match="format=teacher-store"):
        TeacherStore.load(tmp_path / "other.safetensors")
    logits, feats = _fake_outputs(n=5)
    with pytest.raises(ValueError, match="k=11"):
        TeacherStore.compress(logits, feats, k=11)
    s = TeacherStore.compress(logits, feats, k=3)
    with pytest.raises(ValueError, match="feat_q"):
        TeacherStore(s.topk_logits, s.topk_idx, s.tail_lse, s.feat_q.astype(np.int16), s.feat_scale)


def test_gaussian_rate_matches_closed_form():
    mu = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0], [np.log(0.25), 0.0]], dtype=torch.float32)
    want = torch.tensor([0.5, 0.5 * (4 + 0.25 - 1 - np.log(0.25))], dtype=torch.float32)
    assert torch.allclose(gaussian_rate(mu, logvar), want, atol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        ib_loss(torch.zeros(()), mu, logvar, beta=-1.0)


def _train_ib(beta: float, steps: int = 80) -> float:
    """Tiny synthetic IB problem: 4 Gaussian classes in 8-d, JSC encoder -> AWGN 10 dB -> linear head."""
    torch.manual_seed(0)
    centres = torch.randn(4, 8) * 2
    enc = JSCEncoder(8, n_symbols=8, hidden=32)
    head = torch.nn.Linear(16, 4)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-2)
    for _ in range(steps):
        y = torch.randint(0, 4, (64,))
        x = centres[y] + torch.randn(64, 8)
        z, mu, logvar = enc(x, torch.full((64,), 10.0), sample=True)
        z_hat = z + (torch.randn_like(z.real) + 1j * torch.randn_like(z.real)) * (0.1 / 2) ** 0.5
        logits = head(torch.cat([z_hat.real, z_hat.imag], 1))
        loss = ib_loss(F.cross_entropy(logits, y), mu, logvar, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        y = torch.randint(0, 4, (512,))
        _, mu, logvar = enc(centres[y] + torch.randn(512, 8), torch.full((512,), 10.0))
        return float(gaussian_rate(mu, logvar).mean() / mu.shape[1])


@pytest.mark.slow  # three tiny trainings: ~3 s on an idle core, ~25 s on the shared 2-core machine
def test_ib_rate_decreases_with_beta():
    rates = [_train_ib(b) for b in (0.0, 0.3, 3.0)]
    assert rates[0] > rates[1] > rates[2], rates
    assert rates[2] < 0.5 * rates[0], rates
