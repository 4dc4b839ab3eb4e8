"""Differentiable channel twin (torch) for training the semantic layer.

It models what the PHY hands the codec after equalisation with perfect channel knowledge
(docs/architecture.md, "Equalised symbols are unbiased"): ``z_hat = z + e`` with
``e ~ CN(0, noise_var)`` independent of ``z`` and ``noise_var = N0 / |h|²`` per symbol.
SNR convention (same as the NumPy simulator): ``SNR = P_s / N0`` with ``P_s`` the mean power of the
transmitted symbols of a row (1 for unit-power rows, so ``N0 = 10**(-snr_db/10)``).

Kinds
-----
- ``"awgn"``: ``h = 1``.
- ``"rayleigh"``: one block-fading coefficient ``h ~ CN(0, 1)`` per row (or per
  ``coherence_symbols`` symbols).
- ``"rician"``: as rayleigh with a line-of-sight part, K factor ``rician_k_db``.
- ``"subcarrier"``: frequency-selective OFDM. Symbol ``i`` of a row rides data subcarrier
  ``i % n_subcarriers`` (time order: ``n_subcarriers`` symbols per OFDM symbol), or the PHY's exact
  placement when ``grid_index`` is given (``OfdmLayout.payload_index``); per-subcarrier
  gains are independent CN(0, 1) (``tdl=None``) or the frequency response of a random 3GPP TDL
  (``tdl="EPA"|"EVA"|"ETU"``, sampled at ``sample_rate_hz`` with a 64-point FFT), constant over the
  frame (or redrawn every ``coherence_symbols`` symbols).

Example
-------
>>> import torch
>>> from semcom_ota.channel.twin import ChannelTwin, power_normalise
>>> twin = ChannelTwin("rayleigh")
>>> z = power_normalise(torch.randn(4, 96, dtype=torch.complex64))
>>> z_hat, noise_var = twin(z, snr_db=10.0)
>>> z_hat.shape, noise_var.shape
(torch.Size([4, 96]), torch.Size([4, 96]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from semcom_ota.channel.sim import TDL_PROFILES, tdl_power_profile

__all__ = [
    "NOISE_VAR_MAX",
    "TWIN_KINDS",
    "ChannelTwin",
    "power_normalise",
    "sample_snr_db",
    "to_complex",
    "to_real",
    "truncate_mask",
    "ofdm_data_bins",
]

#: noise variance reported for symbols in a deep fade or not received (finite stand-in for inf)
NOISE_VAR_MAX = 1.0e4
TWIN_KINDS = ("awgn", "rayleigh", "rician", "subcarrier")

# the project PHY's default data subcarriers (PhyConfig defaults: 64-point FFT, used bins ±2..±27,
# DC and its neighbours nulled, pilots ±8, ±22)
_BINS_48 = [k for k in range(-27, 28) if abs(k) >= 2 and k not in (-22, -8, 8, 22)]


def ofdm_data_bins(n_subcarriers: int, fft_size: int = 64) -> np.ndarray:
    """FFT bin indices (signed) of ``n_subcarriers`` data subcarriers.

    48 on a 64-point FFT gives the project PHY's default data bins (±2..±27 without pilots ±8, ±22);
    other counts take the bins nearest DC, DC excluded.
    """
    if n_subcarriers == 48 and fft_size == 64:
        return np.asarray(_BINS_48)
    if n_subcarriers > fft_size - 1:
        raise ValueError(f"n_subcarriers = {n_subcarriers}: expected <= fft_size - 1 = {fft_size - 1}")
    order = sorted((k for k in range(-fft_size // 2, fft_size // 2) if k != 0), key=lambda k: (abs(k), k))
    return np.asarray(sorted(order[:n_subcarriers]))


# --------------------------------------------------------------------------------------------------
# helpers


def to_complex(x: torch.Tensor) -> torch.Tensor:
    """Real ``[..., 2]`` (re, im) → complex ``[...]`` (float32 → complex64, float64 → complex128)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch.Tensor of shape [..., 2], got {type(x).__name__}")
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"x: expected a real floating tensor [..., 2], got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[-1] != 2:
        raise ValueError(f"x: expected a last dimension of 2 (re, im), got shape {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    return torch.view_as_complex(x.contiguous())


def to_real(z: torch.Tensor) -> torch.Tensor:
    """Complex ``[...]`` → real ``[..., 2]`` (re, im); differentiable."""
    if not isinstance(z, torch.Tensor) or not z.is_complex():
        raise TypeError(f"z: expected a complex torch.Tensor, got {getattr(z, 'dtype', type(z).__name__)}")
    return torch.view_as_real(z)


def power_normalise(z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each row (last dimension) of complex ``z`` to unit average power; differentiable.

    ``z`` complex ``[..., n]`` → same shape, ``mean(|z|², -1) == 1``. Rows of zeros stay zero.
    """
    if not isinstance(z, torch.Tensor) or not z.is_complex():
        raise TypeError(f"z: expected a complex torch.Tensor, got {getattr(z, 'dtype', type(z).__name__)}")
    p = (z.real**2 + z.imag**2).mean(dim=-1, keepdim=True)
    return z * torch.rsqrt(p + eps)


def sample_snr_db(
    batch: int, low_db: float, high_db: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``batch`` SNRs (dB) uniform in ``[low_db, high_db]``; float32 ``[batch]``."""
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch = {batch!r}: expected a positive integer")
    if not (math.isfinite(low_db) and math.isfinite(high_db)) or high_db < low_db:
        raise ValueError(f"SNR range [{low_db!r}, {high_db!r}] dB: expected finite low_db <= high_db")
    u = torch.rand(int(batch), generator=generator)
    return (low_db + (high_db - low_db) * u).float()


def truncate_mask(
    batch: int,
    n: int,
    tier_ends: Sequence[int],
    generator: torch.Generator | None = None,
    probs: Sequence[float] | None = None,
) -> torch.Tensor:
    """Random truncation at importance-tier boundaries, for learning importance ordering.

    Each row keeps symbols ``[0, end)`` for an ``end`` drawn from ``tier_ends`` (uniformly, or with
    ``probs``). ``tier_ends`` are increasing ends of tiers in ``1..n`` (include ``n`` to allow keeping
    everything). Returns bool ``[batch, n]`` (True = received).
    """
    ends = [int(e) for e in tier_ends]
    if not ends or any(b <= a for a, b in zip(ends, ends[1:])) or ends[0] < 1 or ends[-1] > n:
        raise ValueError(f"tier_ends = {list(tier_ends)!r}: expected strictly increasing ints in 1..n={n}")
    if probs is None:
        idx = torch.randint(len(ends), (int(batch),), generator=generator)
    else:
        p = torch.as_tensor(list(probs), dtype=torch.float64)
        if p.numel() != len(ends) or bool((p < 0).any()) or float(p.sum()) <= 0:
            raise ValueError(f"probs = {list(probs)!r}: expected {len(ends)} non-negative weights, not all zero")
        idx = torch.multinomial(p / p.sum(), int(batch), replacement=True, generator=generator)
    end = torch.as_tensor(ends)[idx]
    return torch.arange(n)[None, :] < end[:, None]


def _snr_tensor(snr_db: Any, batch: int) -> torch.Tensor:
    if isinstance(snr_db, torch.Tensor):
        s = snr_db.detach().to(torch.float64)
        if s.ndim == 0:
            s = s.expand(batch)
        elif s.shape != (batch,):
            raise ValueError(f"snr_db: expected a float or a tensor of shape [{batch}], got shape {tuple(s.shape)}")
    else:
        try:
            s = torch.full((batch,), float(snr_db), dtype=torch.float64)
        except (TypeError, ValueError):
            raise TypeError(f"snr_db: expected a float or a tensor [B] of dB values, got {snr_db!r}") from None
    if not bool(torch.isfinite(s).all()):
        raise ValueError(f"snr_db: expected finite dB values, got {snr_db!r}")
    return s


# --------------------------------------------------------------------------------------------------
# the twin


class ChannelTwin(torch.nn.Module):
    """Differentiable equivalent of PHY + channel as seen by a codec: ``(z, snr_db) -> (z_hat, noise_var)``.

    Parameters
    ----------
    kind : ``"awgn"`` | ``"rayleigh"`` | ``"rician"`` | ``"subcarrier"``
    rician_k_db : K factor of ``"rician"`` (dB)
    n_subcarriers : data subcarriers per OFDM symbol for ``"subcarrier"`` (48 for the project PHY)
    coherence_symbols : symbols per fading block along a row; ``None`` = one draw per row (frame)
    tdl : ``None`` (i.i.d. subcarrier gains) or ``"EPA"``/``"EVA"``/``"ETU"`` (correlated gains)
    sample_rate_hz, fft_size : used to turn a TDL into subcarrier gains
    data_bins : signed FFT bins of the data subcarriers (default :func:`ofdm_data_bins`)
    grid_index : int ``[N]``, optional — grid position (OFDM symbol · n_subcarriers + subcarrier) of
        each payload position in time order, as the PHY's ``OfdmLayout.payload_index`` gives it;
        rows longer than ``N`` are rejected. Default: position ``i`` at grid position ``i``.

    Input (``forward``)
    -------------------
    z : complex64 ``[B, n]`` (unit average power per row expected) or real ``[B, n, 2]``
    snr_db : float or float tensor ``[B]`` (dB), finite
    mask : bool ``[B, n]``, optional — False = not received (z_hat 0, noise_var ``NOISE_VAR_MAX``)
    generator : ``torch.Generator``, optional

    Output
    ------
    z_hat : same dtype/shape as ``z`` — unbiased equalised symbols ``z + e``
    noise_var : float32 ``[B, n]`` — ``N0/|h|²`` per symbol, clipped to ``NOISE_VAR_MAX``

    ``N0 = P_s · 10**(-snr_db/10)`` with ``P_s`` the row's mean ``|z|²`` over received symbols
    (detached: the channel reacts to power, it is not a path for gradients).
    """

    def __init__(
        self,
        kind: str = "awgn",
        rician_k_db: float = 6.0,
        n_subcarriers: int = 48,
        coherence_symbols: int | None = None,
        tdl: str | None = None,
        sample_rate_hz: float = 20e6,
        fft_size: int = 64,
        data_bins: Sequence[int] | None = None,
        grid_index: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if kind not in TWIN_KINDS:
            raise ValueError(f"kind = {kind!r}: expected one of {list(TWIN_KINDS)}")
        if not math.isfinite(rician_k_db) or not -30 <= rician_k_db <= 40:
            raise ValueError(f"rician_k_db = {rician_k_db!r}: expected a value in [-30, 40] dB")
        if int(n_subcarriers) != n_subcarriers or n_subcarriers < 1:
            raise ValueError(f"n_subcarriers = {n_subcarriers!r}: expected a positive integer")
        if coherence_symbols is not None and (int(coherence_symbols) != coherence_symbols or coherence_symbols < 1):
            raise ValueError(f"coherence_symbols = {coherence_symbols!r}: expected a positive integer or None")
        if tdl is not None and (kind != "subcarrier" or str(tdl).upper() not in TDL_PROFILES):
            raise ValueError(f"tdl = {tdl!r}: expected None or one of {sorted(TDL_PROFILES)} with kind='subcarrier'")
        self.kind = kind
        self.rician_k_db = float(rician_k_db)
        self.n_subcarriers = int(n_subcarriers)
        self.coherence_symbols = None if coherence_symbols is None else int(coherence_symbols)
        self.tdl = None if tdl is None else str(tdl).upper()
        if data_bins is not None and len(data_bins) != self.n_subcarriers:
            raise ValueError(f"data_bins: expected {self.n_subcarriers} bins (n_subcarriers), got {len(data_bins)}")
        self._grid: torch.Tensor | None = None
        if grid_index is not None:
            g = torch.tensor(np.array(grid_index, dtype=np.int64)).reshape(-1)
            if g.numel() == 0 or bool((g < 0).any()):
                raise ValueError("grid_index: expected a non-empty sequence of non-negative grid positions")
            self._grid = g
        if self.tdl is not None:
            powers = tdl_power_profile(self.tdl, sample_rate_hz)
            bins = np.asarray(data_bins) if data_bins is not None else ofdm_data_bins(self.n_subcarriers, fft_size)
            f = np.exp(-2j * np.pi * np.outer(np.arange(powers.size), bins) / fft_size)  # [L, nsc]
            self.register_buffer("_tap_std", torch.as_tensor(np.sqrt(powers), dtype=torch.float32), persistent=False)
            self.register_buffer("_dft", torch.as_tensor(f, dtype=torch.complex64), persistent=False)

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind!r}, rician_k_db={self.rician_k_db}, n_subcarriers={self.n_subcarriers}, "
            f"coherence_symbols={self.coherence_symbols}, tdl={self.tdl!r}"
        )

    # ---------------------------------------------------------------------------------------------
    def gains(self, batch: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random channel gains ``h`` complex64 ``[batch, n]`` for one forward pass (E|h|² = 1)."""
        ctype = torch.complex64
        if self.kind == "awgn":
            return torch.ones(batch, n, dtype=ctype)
        if self._grid is not None:
            if n > self._grid.numel():
                raise ValueError(f"z: rows of {n} symbols exceed grid_index ({self._grid.numel()} positions)")
            pos = self._grid[:n]
        else:
            pos = torch.arange(n)
        coh = self.coherence_symbols
        n_blocks = 1 if coh is None else int(pos.max()) // coh + 1
        blk = torch.zeros(n, dtype=torch.long) if coh is None else pos // coh
        if self.kind in ("rayleigh", "rician"):
            h = torch.randn(batch, n_blocks, dtype=ctype, generator=generator)
            if self.kind == "rician":
                k = 10.0 ** (self.rician_k_db / 10.0)
                theta = 2 * math.pi * torch.rand(batch, n_blocks, generator=generator)
                los = torch.polar(torch.ones_like(theta), theta)
                h = math.sqrt(k / (k + 1)) * los + math.sqrt(1 / (k + 1)) * h
            return h[:, blk]
        # subcarrier
        nsc = self.n_subcarriers
        if self.tdl is None:
            hf = torch.randn(batch, n_blocks, nsc, dtype=ctype, generator=generator)
        else:
            taps = torch.randn(batch, n_blocks, self._tap_std.numel(), dtype=ctype, generator=generator) * self._tap_std
            hf = taps @ self._dft  # [B, blocks, nsc]
        return hf[:, blk, pos % nsc]

    def forward(
        self,
        z: torch.Tensor,
        snr_db: float | torch.Tensor,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        real_io = False
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z: expected a complex64 torch.Tensor [B, n] or real [B, n, 2], got {type(z).__name__}")
        if not z.is_complex():
            if z.is_floating_point() and z.ndim == 3 and z.shape[-1] == 2:
                z = to_complex(z)
                real_io = True
            else:
                raise TypeError(
                    f"z: expected complex64 [B, n] or real float [B, n, 2], got dtype {z.dtype} shape {tuple(z.shape)}"
                )
        if z.ndim != 2:
            raise ValueError(f"z: expected shape [B, n], got {tuple(z.shape)}")
        batch, n = z.shape
        snr = _snr_tensor(snr_db, batch)
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != (batch, n):
                raise ValueError(
                    f"mask: expected a bool tensor of shape [{batch}, {n}], got "
                    f"{getattr(mask, 'dtype', type(mask).__name__)} {tuple(getattr(mask, 'shape', ()))}"
                )
        real_dtype = torch.float64 if z.dtype == torch.complex128 else torch.float32

        p = torch.view_as_real(z.detach()).square().sum(dim=-1)  # |z|² [B, n]
        if not bool(torch.isfinite(p.sum())):
            raise ValueError("z: contains NaN or inf (expected finite symbols of about unit power)")
        if mask is None:
            ps = p.mean(dim=1)
        else:
            cnt = mask.sum(dim=1)
            ps = torch.where(cnt > 0, (p * mask).sum(dim=1) / cnt.clamp(min=1), torch.ones_like(p[:, 0]))
        ps = torch.where(ps > 0, ps, torch.ones_like(ps))
        n0 = (ps * torch.pow(10.0, -snr / 10.0).to(real_dtype))[:, None]  # [B, 1]

        if self.kind == "awgn":
            noise_var = n0.clamp(max=NOISE_VAR_MAX)  # [B, 1]
        else:
            per_row = self.kind in ("rayleigh", "rician") and self.coherence_symbols is None
            h = self.gains(batch, 1 if per_row else n, generator)  # [B, 1] or [B, n]
            g2 = torch.view_as_real(h).to(real_dtype).square().sum(dim=-1).clamp(min=torch.finfo(real_dtype).tiny)
            noise_var = (n0 / g2).clamp(max=NOISE_VAR_MAX)
        noise_var = noise_var.expand(batch, n)
        if mask is not None:
            noise_var = torch.where(mask, noise_var, torch.full_like(noise_var, NOISE_VAR_MAX))
        std = (0.5 * noise_var).sqrt()  # per real dimension
        w = torch.randn(batch, n, 2, dtype=real_dtype, generator=generator)
        z_hat = z + torch.view_as_complex(w * std[..., None])
        if mask is not None:
            z_hat = torch.where(mask, z_hat, torch.zeros((), dtype=z_hat.dtype))
        noise_var = noise_var.contiguous()
        if real_io:
            z_hat = to_real(z_hat)
        return z_hat, noise_var
