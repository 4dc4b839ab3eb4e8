"""Gradient-based rate adapter for the text codec (after Wang et al., WCNC 2024).

Importance of each transmitted symbol slot (token position ``p``, symbol ``j``) is the magnitude of
the gradient of the decoder loss with respect to a gate ``g[p, j]`` that multiplies the received
symbol and its "received" flag (``g = 1`` keeps it, ``g = 0`` erases it), averaged over a calibration
set, several SNRs and both fading models. The first-order Taylor term ``|dL/dg|`` estimates how much
the loss grows when that symbol is dropped. Slots are sorted by decreasing importance; a budget of
``B`` channel uses keeps the first ``B`` slots in that order (the decoder sees the rest masked) or,
when ``B`` exceeds the frame, repeats the most important slots cyclically (the receiver combines
repeats by inverse-variance weighting), so that every budget is met exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from semcom_ota.semantic.text.model import TextJscc


def symbol_order(importance: np.ndarray | torch.Tensor) -> np.ndarray:
    """Importance ``[L, K]`` -> flat slot indices ``[L*K]`` sorted by decreasing importance (stable)."""
    imp = np.asarray(importance.detach().cpu().numpy() if isinstance(importance, torch.Tensor) else importance, np.float64)
    if imp.ndim != 2:
        raise ValueError(f"importance: expected shape [L, K], got {imp.shape}")
    return np.argsort(-imp.reshape(-1), kind="stable")


def budget_slots(order: np.ndarray, budget: int) -> np.ndarray:
    """Slot index sent in each of ``budget`` channel uses: the order, cut or repeated cyclically."""
    if int(budget) < 1:
        raise ValueError(f"budget={budget}: expected a positive number of channel uses")
    return np.asarray(order)[np.arange(int(budget)) % len(order)]


def tier_ends(n: int, n_tiers: int) -> list[int]:
    """``n_tiers`` (at most ``n``) nearly equal importance tiers over ``n`` symbols -> their end indices."""
    t = max(1, min(int(n_tiers), int(n)))
    ends = sorted({int(round(n * (i + 1) / t)) for i in range(t)})
    return [e for e in ends if e > 0]


def gradient_importance(model: TextJscc, feats: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                        channel_fn, snrs_db=(0.0, 5.0, 10.0, 15.0, 20.0), batch_size: int = 64) -> torch.Tensor:
    """Average ``|dL/dg|`` per slot over a calibration set.

    Parameters
    ----------
    model: the trained :class:`TextJscc` (not modified).
    feats: float ``[N, L, D]`` LAM token features of the calibration sentences.
    targets: int64 ``[N, L]`` restricted-vocabulary targets; ``weights`` float ``[N, L]`` loss weights.
    channel_fn: ``(z [B,L,K] complex, snr_db [B]) -> (z_hat, noise_var)`` (the channel twin, both kinds).

    Returns
    -------
    float32 ``[L, K]`` importance (larger = dropping it costs more).
    """
    L, K = model.cfg.max_tokens, model.cfg.symbols_per_token
    acc = torch.zeros(L, K, dtype=torch.float64)
    count = 0
    model.eval()
    for snr in snrs_db:
        for s in range(0, feats.shape[0], batch_size):
            f = feats[s:s + batch_size].float()
            B = f.shape[0]
            snr_t = torch.full((B,), float(snr))
            with torch.no_grad():
                z = model.encoder(f, snr_t)
                z_hat, nv = channel_fn(z, snr_t)
            gate = torch.ones(B, L, K, requires_grad=True)
            h = model.decoder(z_hat * gate, nv, gate, snr_t)
            logp = torch.log_softmax(model.logits(h), dim=-1)
            nll = -logp.gather(-1, targets[s:s + B, :, None]).squeeze(-1)
            loss = (nll * weights[s:s + B]).sum()
            (g,) = torch.autograd.grad(loss, gate)
            acc += g.abs().sum(0).double()
            count += B
    return (acc / max(count, 1)).float()
