"""Shared pytest setup: offline model hub, deterministic seeds, quiet progress bars."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SEMCOM_PROGRESS", "0")

import pytest  # noqa: E402

from semcom_ota.seeding import seed_everything  # noqa: E402


@pytest.fixture
def rng():
    """A fresh NumPy generator; every test that draws random numbers takes this (seed 1234)."""
    return seed_everything(1234)
