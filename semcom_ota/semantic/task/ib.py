"""Information-bottleneck rate term for the transmitted latent.

The JSC encoder outputs a diagonal Gaussian ``q(z|x) = N(mu, diag(exp(logvar)))`` over the ``2n``
real dimensions of the latent; with the prior ``r(z) = N(0, I)`` the variational upper bound of the
rate ``I(X; Z)`` is ``E_x KL(q(z|x) || r(z))``. The IB objective minimised in training is
``task_loss + beta * rate`` (``beta`` the knob trading task information for latent rate).
"""

from __future__ import annotations

import torch


def gaussian_rate(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) in nats, summed over the last dim: ``[B, D]`` -> ``[B]``."""
    if mu.shape != logvar.shape:
        raise ValueError(f"gaussian_rate: mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must match")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def ib_loss(task_loss: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float) -> torch.Tensor:
    """``task_loss + beta * mean rate per real dimension`` (scalar)."""
    if beta < 0:
        raise ValueError(f"ib_loss: beta={beta}, expected >= 0")
    return task_loss + beta * gaussian_rate(mu, logvar).mean() / mu.shape[-1]
