"""Exportable encoder halves of the convolutional codecs, structured channel pruning and distillation.

- :class:`ImageEncoderNet`: the encoder of :class:`~semcom_ota.semantic.image.model.ImageJSCC` without
  the side-image input (the plain ``image-semantic`` codec), real-valued for ONNX:
  ``(image [B,3,H,W], snr_db [B], fraction [B]) -> latent [B, 2M, H/8, W/8]`` (before the power
  normalisation, which :class:`~semcom_ota.semantic.compress.conv_onnx.OrtImageEncoder` applies).
- :class:`TaskEncoderNet`: semantic encoder + JSC encoder of a
  :class:`~semcom_ota.semantic.task.nets.TaskSystem` (student or teacher):
  ``(image [B,1,28,28], snr_db [B]) -> mu [B, 2n]`` (interleaved re/im, before the per-tier power
  normalisation).
- :func:`prune_image_encoder`, :func:`prune_task_encoder`: keep the conv output channels with the
  largest weight norms (a fraction per channel group), slicing every consumer; return a copy.
- :func:`distill_encoder`: train a pruned copy to reproduce the unpruned encoder's output (MSE) on real
  training inputs.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from semcom_ota.progress import progress
from semcom_ota.semantic.image.model import SNR_SCALE_DB, ImageJSCC
from semcom_ota.semantic.task.nets import TaskSystem, encoder_condition

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- image encoder
class ImageEncoderNet(nn.Module):
    """Encoder half of an :class:`ImageJSCC` with no side image (its 4 side input channels are zero,
    so they are sliced off ``e1``: exact, and cheaper).

    Input: ``image`` float32 ``[B, 3, H, W]`` in [0, 1] (H, W multiples of 8), ``snr_db`` float32 ``[B]``,
    ``fraction`` float32 ``[B]`` (kept channels / M). Output: float32 ``[B, 2M, H/8, W/8]``; maps ``2c``,
    ``2c+1`` are the real and imaginary part of complex channel ``c`` (not yet power-normalised).
    """

    def __init__(self, jscc: ImageJSCC) -> None:
        super().__init__()
        src = copy.deepcopy(jscc)
        self.n_complex, self.group = jscc.n_complex, jscc.group
        e1 = nn.Conv2d(3, src.e1.out_channels, src.e1.kernel_size, src.e1.stride, src.e1.padding)
        e1.weight.data.copy_(src.e1.weight.data[:, :3])
        e1.bias.data.copy_(src.e1.bias.data)
        self.e1, self.e2, self.e3, self.e4, self.e5 = e1, src.e2, src.e3, src.e4, src.e5
        self.e_af1, self.e_af2, self.e_out = src.e_af1, src.e_af2, src.e_out
        self.a1, self.a2, self.a3 = src.e_act[0], src.e_act[1], src.e_act[2]

    def forward(self, image: torch.Tensor, snr_db: torch.Tensor, fraction: torch.Tensor) -> torch.Tensor:
        ctx = torch.stack([snr_db / SNR_SCALE_DB, fraction], dim=1)
        h = self.a1(self.e1(image - 0.5))
        h = self.a2(self.e2(h))
        h = self.e3(h)
        h = self.a3(self.e4(h))
        h = self.e_af1(h, ctx)
        h = self.e5(h)
        h = self.e_af2(h, ctx)
        return self.e_out(h)


class ChannelPReLU(nn.Module):
    """PReLU with per-channel slopes ``a`` written as ops ONNX Runtime runs fast: ``max(x, a·x)`` when
    every ``0 <= a <= 1`` (exact there), else ``relu(x) − a·relu(−x)``. ORT's own ``PRelu`` kernel
    takes a slow broadcasting path for ``[C, 1, 1]`` slopes (~9× slower on a ``[1, 32, 64, 64]``
    tensor here: a third of the int8 image encoder's time). Input/output ``[B, C, h, w]``."""

    def __init__(self, prelu: nn.PReLU) -> None:
        super().__init__()
        w = prelu.weight.detach().clone()
        self.register_buffer("slope", w.reshape(1, -1, 1, 1))
        self.as_max = bool(((w >= 0) & (w <= 1)).all())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.as_max:
            return torch.maximum(x, x * self.slope)
        return torch.relu(x) - self.slope * torch.relu(-x)


def for_export(net: nn.Module) -> nn.Module:
    """A copy of ``net`` with every ``nn.PReLU`` (per-channel) replaced by :class:`ChannelPReLU`."""
    out = copy.deepcopy(net).eval()
    for name, mod in list(out.named_modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, nn.PReLU) and child.weight.numel() > 1:
                setattr(mod, child_name, ChannelPReLU(child))
    return out


def normalise_image_latent(y: torch.Tensor, m: int) -> torch.Tensor:
    """``[B, 2M, h, w]`` real latent -> complex64 ``[B, m, h, w]`` with mean ``|z|² = 1`` per image
    (exactly :meth:`ImageJSCC.encode`'s last step)."""
    y = y[:, : 2 * m]
    z = torch.complex(y[:, 0::2].contiguous(), y[:, 1::2].contiguous())
    p = z.abs().pow(2).mean(dim=(1, 2, 3), keepdim=True)
    return z / torch.sqrt(p + 1e-12)


# --------------------------------------------------------------------------- task encoder
def _leaves(module: nn.Module) -> list[nn.Module]:
    """Leaf modules of nested ``nn.Sequential`` s, in forward order."""
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _leaves(child)]
    return [module]


class TaskEncoderNet(nn.Module):
    """Semantic + JSC encoder of a :class:`TaskSystem` (the TX half), ``mu`` only (the encoder is
    deterministic at inference).

    Input: ``image`` float32 ``[B, 1, 28, 28]`` in [0, 1], ``snr_db`` float32 ``[B]``.
    Output: ``mu`` float32 ``[B, 2n]`` (interleaved re/im of the ``n`` complex symbols, before the
    per-tier power normalisation).
    """

    def __init__(self, system: TaskSystem) -> None:
        super().__init__()
        src = copy.deepcopy(system)
        seq = src.semantic.net if src.kind == "student" else src.semantic.backbone
        self.kind = src.kind
        self.features = nn.Sequential(*_leaves(seq))
        self.film = src.jsc.film
        self.n_symbols = src.jsc.n_symbols
        first, act, last = src.jsc.net[0], src.jsc.net[1], src.jsc.net[2]
        mu = nn.Linear(last.in_features, 2 * self.n_symbols)  # mu is the first half of the last layer's rows
        mu.weight.data.copy_(last.weight.data[: 2 * self.n_symbols])
        mu.bias.data.copy_(last.bias.data[: 2 * self.n_symbols])
        self.head = nn.Sequential(first, act, mu)

    def forward(self, image: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        h = self.film(self.features(image), encoder_condition(snr_db))
        return self.head(h)


# --------------------------------------------------------------------------- slicing helpers
def _sliced_weight_bias(mod: nn.Conv2d | nn.Linear, out_idx: torch.Tensor | None,
                        in_idx: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``mod``'s weight with rows ``out_idx`` / columns ``in_idx`` kept (dims 0 / 1), and its bias."""
    w = mod.weight.data
    if out_idx is not None:
        w = w.index_select(0, out_idx)
    if in_idx is not None:
        w = w.index_select(1, in_idx)
    b = mod.bias.data if mod.bias is not None else None
    if b is not None and out_idx is not None:
        b = b.index_select(0, out_idx)
    return w, b


def _with_weights(new: nn.Conv2d | nn.Linear, w: torch.Tensor, b: torch.Tensor | None) -> nn.Conv2d | nn.Linear:
    new.weight.data.copy_(w)
    if b is not None:
        new.bias.data.copy_(b)
    return new


def _slice_conv(conv: nn.Conv2d, out_idx: torch.Tensor | None = None, in_idx: torch.Tensor | None = None) -> nn.Conv2d:
    w, b = _sliced_weight_bias(conv, out_idx, in_idx)
    return _with_weights(nn.Conv2d(w.shape[1], w.shape[0], conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                                   bias=b is not None), w, b)


def _slice_prelu(act: nn.PReLU, idx: torch.Tensor) -> nn.PReLU:
    new = nn.PReLU(len(idx))
    new.weight.data.copy_(act.weight.data.index_select(0, idx))
    return new


def _slice_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(idx), eps=bn.eps, momentum=bn.momentum)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(new, name).data.copy_(getattr(bn, name).data.index_select(0, idx))
    new.num_batches_tracked.data.copy_(bn.num_batches_tracked.data)
    return new


def _slice_linear(lin: nn.Linear, out_idx: torch.Tensor | None = None, in_idx: torch.Tensor | None = None) -> nn.Linear:
    w, b = _sliced_weight_bias(lin, out_idx, in_idx)
    return _with_weights(nn.Linear(w.shape[1], w.shape[0], bias=b is not None), w, b)


def _keep(score: torch.Tensor, keep: float, name: str) -> torch.Tensor:
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"{name}: keep fraction {keep}: expected 0 < keep <= 1")
    k = max(1, int(round(keep * score.numel())))
    return torch.sort(torch.topk(score, k).indices).values


def _filter_norm2(conv: nn.Conv2d) -> torch.Tensor:
    return conv.weight.data.pow(2).flatten(1).sum(1)


# --------------------------------------------------------------------------- pruning
def prune_image_encoder(enc: ImageEncoderNet, keep: float) -> ImageEncoderNet:
    """Keep ``keep`` of the channels of every channel group of the encoder, by filter L2 norm.

    Groups: ``e1`` output; the residual stream ``e2 → e3 → e4`` (producers ``e2``, ``e3.c2``); the
    inner channels of ``e3`` and ``e5``; the stream ``e4 → AF → e5 → AF → e_out`` (producers ``e4``,
    ``e5.c2``; the AF gates' inputs and outputs follow). The latent (``e_out`` output) keeps all ``2M``
    maps, so the symbol layout is unchanged. Returns a pruned copy; ``enc`` is not modified.
    """
    out = copy.deepcopy(enc)
    # e1 output
    i1 = _keep(_filter_norm2(out.e1), keep, "e1")
    out.e1, out.a1, out.e2 = _slice_conv(out.e1, out_idx=i1), _slice_prelu(out.a1, i1), _slice_conv(out.e2, in_idx=i1)
    # inner channels of the residual blocks
    for blk in (out.e3, out.e5):
        ii = _keep(_filter_norm2(blk.c1), keep, "resblock")
        blk.c1, blk.act, blk.c2 = _slice_conv(blk.c1, out_idx=ii), _slice_prelu(blk.act, ii), _slice_conv(blk.c2, in_idx=ii)
    # stream A: e2 out -> e3 (skip) -> e4 in
    ia = _keep(_filter_norm2(out.e2) + _filter_norm2(out.e3.c2), keep, "stream e2-e4")
    out.e2, out.a2 = _slice_conv(out.e2, out_idx=ia), _slice_prelu(out.a2, ia)
    out.e3.c1, out.e3.c2 = _slice_conv(out.e3.c1, in_idx=ia), _slice_conv(out.e3.c2, out_idx=ia)
    out.e4 = _slice_conv(out.e4, in_idx=ia)
    # stream B: e4 out -> AF -> e5 (skip) -> AF -> e_out in
    ib = _keep(_filter_norm2(out.e4) + _filter_norm2(out.e5.c2), keep, "stream e4-e_out")
    c = out.e4.out_channels
    ctx_cols = torch.arange(c, out.e_af1.mlp[0].in_features)  # the (snr, fraction) inputs stay
    out.e4, out.a3 = _slice_conv(out.e4, out_idx=ib), _slice_prelu(out.a3, ib)
    for af in (out.e_af1, out.e_af2):
        af.mlp[0] = _slice_linear(af.mlp[0], in_idx=torch.cat([ib, ctx_cols]))
        af.mlp[2] = _slice_linear(af.mlp[2], out_idx=ib)
    out.e5.c1, out.e5.c2 = _slice_conv(out.e5.c1, in_idx=ib), _slice_conv(out.e5.c2, out_idx=ib)
    out.e_out = _slice_conv(out.e_out, in_idx=ib)
    return out.train(enc.training)


#: layers :func:`prune_task_encoder` can slice (anything else, e.g. a residual block, is refused)
PLAIN_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.PReLU, nn.LeakyReLU, nn.GELU, nn.MaxPool2d, nn.AvgPool2d,
                nn.AdaptiveAvgPool2d, nn.Flatten, nn.Linear, nn.Dropout, nn.Identity)


def prunable_task_encoder(enc: TaskEncoderNet) -> bool:
    """True when every layer of ``enc.features`` is a plain layer (:data:`PLAIN_LAYERS`)."""
    return all(isinstance(m, PLAIN_LAYERS) for m in enc.features)


def prune_task_encoder(enc: TaskEncoderNet, keep: float) -> TaskEncoderNet:
    """Keep ``keep`` of the output channels of every convolution of the semantic encoder, ranked by the
    L2 norm of the BatchNorm-folded filter (``|γ|·‖W‖/√(var+ε)``); the next convolution's inputs or the
    flatten→Linear's input columns follow. Returns a pruned copy."""
    if not prunable_task_encoder(enc):
        odd = sorted({type(m).__name__ for m in enc.features if not isinstance(m, PLAIN_LAYERS)})
        raise ValueError(f"prune_task_encoder: the encoder holds {odd} (residual blocks); channel pruning "
                         "supports plain conv/BatchNorm/activation/linear chains only")
    out = copy.deepcopy(enc)
    layers = list(out.features)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    for ci in convs:
        conv = layers[ci]
        score = _filter_norm2(conv).sqrt()
        bn_i = ci + 1 if ci + 1 < len(layers) and isinstance(layers[ci + 1], nn.BatchNorm2d) else None
        if bn_i is not None:
            bn = layers[bn_i]
            score = score * bn.weight.data.abs() / torch.sqrt(bn.running_var + bn.eps)
        idx = _keep(score, keep, f"conv {ci}")
        n_old = conv.out_channels
        layers[ci] = _slice_conv(conv, out_idx=idx)
        if bn_i is not None:
            layers[bn_i] = _slice_bn(layers[bn_i], idx)
        nxt = next((j for j in range(ci + 1, len(layers)) if isinstance(layers[j], (nn.Conv2d, nn.Linear))), None)
        if nxt is None:
            raise ValueError(f"prune_task_encoder: conv {ci} has no consumer (conv or linear) after it")
        if isinstance(layers[nxt], nn.Conv2d):
            layers[nxt] = _slice_conv(layers[nxt], in_idx=idx)
        else:
            lin = layers[nxt]
            block = lin.in_features // n_old  # flatten: channel c -> columns c*block .. c*block+block-1
            cols = (idx[:, None] * block + torch.arange(block)[None, :]).reshape(-1)
            layers[nxt] = _slice_linear(lin, in_idx=cols)
    out.features = nn.Sequential(*layers)
    return out.train(enc.training)  # new layers start in train mode (BatchNorm would use batch statistics)


def n_parameters(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


# --------------------------------------------------------------------------- distillation
def distill_encoder(student: nn.Module, teacher: nn.Module, sample_inputs: Callable[[np.random.Generator], tuple[torch.Tensor, ...]],
                    steps: int = 300, lr: float = 1e-3, seed: int = 0, desc: str = "distil pruned encoder") -> dict[str, float]:
    """Train ``student`` (in place) to reproduce ``teacher``'s output on real inputs.

    ``sample_inputs(rng)`` returns one batch of inputs (the forward arguments). Loss: MSE normalised
    by the teacher output's mean square. Both run in eval mode (BatchNorm statistics and dropout
    frozen; the student's weights, including BatchNorm affine, are trained). Returns
    ``{"steps", "seconds", "first_loss", "final_loss"}`` (final = mean of the last 20 steps).
    """
    rng = np.random.default_rng(seed)
    teacher.eval()
    student.eval()
    params = list(student.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    t0, losses = time.perf_counter(), []
    for _ in progress(range(steps), desc=desc, unit="step"):
        inputs = sample_inputs(rng)
        with torch.no_grad():
            target = teacher(*inputs)
        loss = (student(*inputs) - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-8)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    for p in params:
        p.requires_grad_(False)
    tail = losses[-20:] or [float("nan")]
    return {"steps": steps, "seconds": round(time.perf_counter() - t0, 1), "first_loss": losses[0] if losses else float("nan"),
            "final_loss": float(np.mean(tail))}
