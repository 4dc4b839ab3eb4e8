"""Structured pruning of a BERT-family LAM encoder (layers, attention heads, FFN channels) and
distillation from the unpruned teacher to recover quality.

All functions return a pruned *copy*; the teacher is never modified. Importance is by weight
magnitude (data-free), and distillation on real sentences recovers what pruning costs.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Sequence

import numpy as np
import torch

from semcom_ota.progress import progress

log = logging.getLogger(__name__)


def _layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    try:
        return model.encoder.layer
    except AttributeError:
        raise TypeError(f"structured pruning supports BERT-family encoders (model.encoder.layer); got {type(model).__name__}") from None


def prune_layers(model: torch.nn.Module, keep: int) -> torch.nn.Module:
    """Keep ``keep`` transformer layers, evenly spaced and always including the last one."""
    n = len(_layers(model))
    if not 1 <= keep <= n:
        raise ValueError(f"prune_layers(keep={keep}): expected 1..{n} for this {n}-layer model")
    idx = sorted({int(round(x)) for x in np.linspace(n - 1, 0, keep)} | {n - 1})[-keep:]
    out = copy.deepcopy(model)
    out.encoder.layer = torch.nn.ModuleList([out.encoder.layer[i] for i in idx])
    out.config.num_hidden_layers = keep
    for i, layer in enumerate(out.encoder.layer):
        for mod in layer.modules():
            if hasattr(mod, "layer_idx"):
                mod.layer_idx = i
    return out


def _slice_linear(lin: torch.nn.Linear, idx: torch.Tensor, dim: int) -> torch.nn.Linear:
    w = lin.weight.data.index_select(dim, idx).clone()
    b = lin.bias.data.clone() if lin.bias is not None else None
    if dim == 0 and b is not None:
        b = b.index_select(0, idx).clone()
    new = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    new.weight.data.copy_(w)
    if b is not None:
        new.bias.data.copy_(b)
    return new


def prune_heads(model: torch.nn.Module, keep_heads: int) -> torch.nn.Module:
    """Keep the ``keep_heads`` heads of each layer with the largest value/output weight norms."""
    out = copy.deepcopy(model)
    for layer in _layers(out):
        att = layer.attention.self
        n_heads, d = att.num_attention_heads, att.attention_head_size
        if not 1 <= keep_heads <= n_heads:
            raise ValueError(f"prune_heads(keep_heads={keep_heads}): expected 1..{n_heads}")
        wv = att.value.weight.data.view(n_heads, d, -1)
        wo = layer.attention.output.dense.weight.data.view(-1, n_heads, d)
        score = wv.pow(2).sum((1, 2)) + wo.pow(2).sum((0, 2))
        heads = torch.sort(torch.topk(score, keep_heads).indices).values
        idx = (heads[:, None] * d + torch.arange(d)[None, :]).reshape(-1)
        att.query, att.key, att.value = (_slice_linear(m, idx, 0) for m in (att.query, att.key, att.value))
        layer.attention.output.dense = _slice_linear(layer.attention.output.dense, idx, 1)
        att.num_attention_heads = keep_heads
        att.all_head_size = keep_heads * d
    return out


def prune_ffn(model: torch.nn.Module, keep_fraction: float) -> torch.nn.Module:
    """Keep the FFN channels (intermediate neurons) with the largest in/out weight norms."""
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"prune_ffn(keep_fraction={keep_fraction}): expected 0 < f <= 1")
    out = copy.deepcopy(model)
    for layer in _layers(out):
        w_in, w_out = layer.intermediate.dense.weight.data, layer.output.dense.weight.data
        k = max(1, int(round(keep_fraction * w_in.shape[0])))
        score = w_in.pow(2).sum(1) + w_out.pow(2).sum(0)
        idx = torch.sort(torch.topk(score, k).indices).values
        layer.intermediate.dense = _slice_linear(layer.intermediate.dense, idx, 0)
        layer.output.dense = _slice_linear(layer.output.dense, idx, 1)
    return out


def _embed(model: torch.nn.Module, enc: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    e = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)
    return h, torch.nn.functional.normalize(e, dim=-1)


def distill(student: torch.nn.Module, teacher: torch.nn.Module, tokenizer, texts: Sequence[str], steps: int = 200,
            batch_size: int = 32, lr: float = 5e-5, max_tokens: int = 64, seed: int = 0) -> dict[str, float]:
    """Train ``student`` (in place) to reproduce the teacher's sentence embeddings (cosine) and token
    features (MSE). Teacher outputs are computed on the fly once per batch (the teacher is frozen).
    Returns ``{"steps", "seconds", "final_loss"}``."""
    if len(texts) < batch_size:
        raise ValueError(f"distill: {len(texts)} texts, expected at least batch_size={batch_size}")
    g = np.random.default_rng(seed)
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad] or list(student.parameters()), lr=lr)
    for p in student.parameters():
        p.requires_grad_(True)
    student.train()
    teacher.eval()
    t0, loss_v = time.perf_counter(), float("nan")
    bar = progress(range(steps), desc="distil pruned encoder", unit="step")
    for _ in bar:
        batch = [texts[i] for i in g.choice(len(texts), batch_size, replace=False)]
        enc = tokenizer(batch, max_length=max_tokens, truncation=True, padding=True, return_tensors="pt")
        with torch.no_grad():
            th, te = _embed(teacher, enc)
        sh, se = _embed(student, enc)
        m = enc["attention_mask"].unsqueeze(-1).float()
        loss = (1 - (se * te).sum(-1)).mean() + ((sh - th).pow(2) * m).sum() / (m.sum() * th.shape[-1])
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_v = float(loss.detach())
    student.eval()
    for p in student.parameters():
        p.requires_grad_(False)
    return {"steps": steps, "seconds": time.perf_counter() - t0, "final_loss": loss_v}
