"""Image quality metrics: PSNR and MS-SSIM (Wang, Simoncelli, Bovik 2003).

Both take uint8 (or float in [0, data_range]) images ``[H, W]``, ``[H, W, C]`` or batches
``[N, H, W, C]`` and return one float per image (``psnr_db``/``ms_ssim`` on a batch return a float32
array ``[N]``).

MS-SSIM uses the standard parameters: an 11-tap Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03,
5 scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2×2 average pooling between scales,
"valid" filtering (no padding), SSIM computed per colour channel and averaged over channels. Negative
contrast-structure terms are clipped to 0 before the power (as in common reference codes, so the
fractional power stays real). Images too small for 5 scales (the coarsest scale must still be at
least 11 pixels on its short side, i.e. 176 px for 5 scales) use fewer scales: the first ``S`` weights,
renormalised to sum to 1. ``scales=1`` is plain SSIM (equal to scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _as_batch(name: str, x: np.ndarray) -> np.ndarray:
    """-> float64 ``[N, H, W, C]``."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array (uint8 image), got {type(x).__name__}")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: dtype {x.dtype}, expected uint8 or float")
    if x.ndim == 2:
        x = x[None, :, :, None]
    elif x.ndim == 3:
        x = x[None]
    elif x.ndim != 4:
        raise ValueError(f"{name}: shape {x.shape}, expected [H, W], [H, W, C] or [N, H, W, C]")
    return x.astype(np.float64)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    single = isinstance(a, np.ndarray) and a.ndim in (2, 3)
    a, b = _as_batch("reference", a), _as_batch("test", b)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: reference {a.shape} vs test {b.shape}; expected equal shapes")
    return a, b, single


def psnr_db(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0) -> float | np.ndarray:
    """PSNR in dB, ``10·log10(data_range² / MSE)`` per image (``inf`` for identical images)."""
    a, b, single = _pair(reference, test)
    mse = np.mean((a - b) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(data_range**2 / mse)
    return float(out[0]) if single else out.astype(np.float32)


def _gauss_window() -> torch.Tensor:
    r = torch.arange(WIN_SIZE, dtype=torch.float64) - (WIN_SIZE - 1) / 2
    g = torch.exp(-(r**2) / (2 * SIGMA**2))
    return g / g.sum()


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, valid region. ``x`` ``[B, 1, H, W]``."""
    x = F.conv2d(x, g.view(1, 1, 1, -1))
    return F.conv2d(x, g.view(1, 1, -1, 1))


def _ssim_cs(x: torch.Tensor, y: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per image-channel. ``x``, ``y`` ``[B, 1, H, W]``."""
    g = _gauss_window()
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mx, my = _filter(x, g), _filter(y, g)
    sxx = _filter(x * x, g) - mx * mx
    syy = _filter(y * y, g) - my * my
    sxy = _filter(x * y, g) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = ((2 * mx * my + c1) / (mx * mx + my * my + c1)) * cs
    return ssim.mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def n_scales_for(height: int, width: int, max_scales: int = 5) -> int:
    """Scales usable on an ``height × width`` image: the coarsest must keep ≥ 11 px on its short side."""
    s = 0
    side = min(height, width)
    while s < max_scales and side >= WIN_SIZE:
        s += 1
        side //= 2
    if s == 0:
        raise ValueError(f"image {height}x{width}: too small for SSIM, expected both sides >= {WIN_SIZE}")
    return s


def ms_ssim(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0, scales: int | None = None) -> float | np.ndarray:
    """MS-SSIM per image in [0, 1] (1 for identical images).

    ``scales``: None = as many of the standard 5 as the size allows (see module docstring).
    """
    a, b, single = _pair(reference, test)
    n, h, w, c = a.shape
    usable = n_scales_for(h, w)
    if scales is None:
        scales = usable
    elif not 1 <= scales <= usable:
        raise ValueError(f"scales={scales}: expected 1..{usable} for a {h}x{w} image")
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=torch.float64)
    weights = weights / weights.sum()
    x = torch.from_numpy(a).permute(0, 3, 1, 2).reshape(n * c, 1, h, w)
    y = torch.from_numpy(b).permute(0, 3, 1, 2).reshape(n * c, 1, h, w)
    vals = []
    for s in range(scales):
        ssim, cs = _ssim_cs(x, y, data_range)
        vals.append(torch.relu(ssim if s == scales - 1 else cs))
        if s < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(vals, dim=0)  # [S, N·C]
    per = torch.prod(stacked ** weights[:, None], dim=0).view(n, c).mean(dim=1)
    out = per.numpy()
    return float(out[0]) if single else out.astype(np.float32)
