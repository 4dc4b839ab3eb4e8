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
