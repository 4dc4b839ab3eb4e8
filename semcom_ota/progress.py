"""The one progress-bar helper for user-facing long work (training, evaluation, demo).

Bars go to stderr; they are disabled when stderr is not a terminal and ``SEMCOM_PROGRESS`` is not
forced on, or when ``SEMCOM_PROGRESS=0``. Logs go through :mod:`logging`, never through bars.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled() -> bool:
    forced = os.environ.get("SEMCOM_PROGRESS")
    if forced is not None:
        return forced not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None, unit: str = "it", **kw) -> Iterator[T]:
    """Wrap an iterable (or, with ``iterable=None``, return a manual bar with ``update``)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not progress_enabled(), dynamic_ncols=True, **kw)
