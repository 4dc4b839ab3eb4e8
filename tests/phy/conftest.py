"""Helpers for the PHY tests: random unit-power frames and channel wrappers."""

import numpy as np
import pytest

from semcom_ota.frames import FrameMeta, SemanticFrame


def random_frame(rng: np.random.Generator, n: int, tiers: list[int] | None = None, **meta) -> SemanticFrame:
    """A frame of ``n`` complex Gaussian unit-power symbols."""
    s = ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)
    return SemanticFrame(s, tiers or [n], FrameMeta(**meta))


@pytest.fixture
def make_frame():
    return random_frame


def random_ls_channel(rng: np.random.Generator, lay) -> tuple[np.ndarray, float]:
    """A noisy LS estimate of a random sparse channel on ``lay``'s used subcarriers: 1–5 paths at
    fractional delays in [-4, 15) samples with exponentially spread gains; returns
    ``(H_ls complex128 [n_used], ls_var)`` with ``ls_var`` in [1e-4, 1)."""
    k = int(rng.integers(1, 6))
    delays = rng.uniform(-4.0, 15.0, k)
    gains = (rng.standard_normal(k) + 1j * rng.standard_normal(k)) * np.exp(-rng.uniform(0.0, 3.0, k))
    H = (gains[None, :] * np.exp(-2j * np.pi * np.outer(lay.used, delays) / lay.n_fft)).sum(axis=1)
    ls_var = 10 ** rng.uniform(-4, 0)
    return H + np.sqrt(ls_var / 2) * (rng.standard_normal(lay.n_used) + 1j * rng.standard_normal(lay.n_used)), ls_var


@pytest.fixture
def make_ls_channel():
    return random_ls_channel
