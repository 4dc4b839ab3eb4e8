"""What every loader shares: the error for a missing package, the cache directory and seeded splits.

Splits are assigned per *unit* (a Bible chapter, a play scene, a fortune, a photo, a stamp
group), never per sentence, so near-duplicates inside a unit cannot leak across splits. A unit's
split is a pure function of ``(seed, unit_id)`` (a keyed BLAKE2b hash mapped to [0, 1)), so two
corpora that share unit ids (the KJV and the WEB, by book and chapter) get the same assignment.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

SplitName = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_RATIOS: tuple[float, float, float] = (0.8, 0.1, 0.1)


class DataUnavailable(RuntimeError):
    """A data set's package or files are missing. The message names the package to install."""


def cache_dir() -> Path:
    """The cache for expensive dumps: ``$SEMCOM_CACHE`` or ``~/.cache/semcom-ota`` (created on use)."""
    root = os.environ.get("SEMCOM_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "semcom-ota"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_split(split: str) -> str:
    """Return ``split`` if it is one of train/val/test, else raise ValueError naming it."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
    return split


def unit_fraction(unit_id: str, seed: int) -> float:
    """A uniform number in [0, 1) that depends only on ``(seed, unit_id)``."""
    digest = hashlib.blake2b(f"{int(seed)}\x1f{unit_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def split_of(unit_id: str, seed: int = 0, ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> str:
    """The split (train/val/test) that unit ``unit_id`` falls in for ``seed``.

    ``ratios`` are the expected train/val/test fractions; they must be non-negative and sum to 1.
    """
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1.0) > 1e-9:
        raise ValueError(f"ratios={ratios!r}: expected three non-negative fractions summing to 1")
    u = unit_fraction(unit_id, seed)
    if u < ratios[0]:
        return "train"
    if u < ratios[0] + ratios[1]:
        return "val"
    return "test"


def env_path(var: str, default: str) -> Path:
    """A data root from environment variable ``var`` (used to relocate or, in tests, hide a data set)."""
    return Path(os.environ.get(var) or default)
