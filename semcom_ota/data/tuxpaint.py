"""Tux Paint stamps (Debian ``tuxpaint-stamps-default``): ~800 clip-art images with English captions.

Each stamp is ``NAME.png`` beside ``NAME.txt`` whose first line is the English caption ("A frog.");
further lines are translations. SVG-only stamps (~165) are skipped: no SVG renderer is a dependency.
Transparent pixels are composited onto white. Variants of one stamp (``frog.png``, ``frog-1.png``)
form one split unit, so they never straddle splits; units are split 80/10/10 by a seeded hash.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from semcom_ota.data.base import DataUnavailable, check_split, env_path, split_of
from semcom_ota.data.text import normalise

TUXPAINT_ROOT = "/usr/share/tuxpaint/stamps"
TUXPAINT_ENV = "SEMCOM_TUXPAINT_DIR"
TUXPAINT_FIX = "apt-get install tuxpaint-stamps-default"
DEFAULT_MAX_SIDE = 256
_VARIANT = re.compile(r"-\d+$")


class StampItem(NamedTuple):
    """One stamp: ``image`` uint8 ``[H, W, 3]`` on white and its English ``caption``; unpacks as ``image, caption``.

    The PNG paths, in the same order, come from :func:`stamp_index`.
    """

    image: np.ndarray
    caption: str


def tuxpaint_root(root: str | Path | None = None) -> Path:
    return Path(root) if root is not None else env_path(TUXPAINT_ENV, TUXPAINT_ROOT)


def stamp_index(root: str | Path | None = None) -> list[tuple[Path, str, str]]:
    """``[(png path, caption, unit id), ...]`` for every PNG stamp with a caption, sorted by path."""
    base = tuxpaint_root(root)
    txts = sorted(base.rglob("*.txt")) if base.is_dir() else []
    if not txts:
        raise DataUnavailable(f"no Tux Paint stamps under {base}; install the Debian package: {TUXPAINT_FIX}")
    out = []
    for txt in txts:
        png = txt.with_suffix(".png")
        if not png.is_file():
            continue
        first = txt.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
        caption = normalise(first[0]) if first else ""
        if not caption or "=" in caption.split(" ")[0]:
            continue
        unit = f"tuxpaint:{txt.parent.relative_to(base)}/{_VARIANT.sub('', txt.stem)}"
        out.append((png, caption, unit))
    return out


def read_stamp(path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """A stamp PNG as uint8 RGB ``[H, W, 3]``, alpha composited on white, longer side ≤ ``max_side``."""
    from PIL import Image

    with Image.open(path) as im:
        rgba = im.convert("RGBA")
    if max_side is not None and max(rgba.size) > max_side:
        scale = max_side / max(rgba.size)
        rgba = rgba.resize((max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))), Image.LANCZOS)
    a = np.asarray(rgba, dtype=np.float32)
    alpha = a[..., 3:4] / 255.0
    rgb = a[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=6)
def _load(split: str, seed: int, max_side: int | None, root: str | None) -> tuple[StampItem, ...]:
    items = []
    for png, caption, unit in stamp_index(root):
        if split_of(unit, seed) != split:
            continue
        img = read_stamp(png, max_side)
        img.setflags(write=False)
        items.append(StampItem(img, caption))
    return tuple(items)


def load_tuxpaint(split: str, seed: int = 0, max_side: int | None = DEFAULT_MAX_SIDE,
                  root: str | Path | None = None) -> list[StampItem]:
    """Tux Paint stamps of one split as :class:`StampItem` (unpacks as ``image, caption``).

    Parameters
    ----------
    split : "train" | "val" | "test" (about 80/10/10 of the stamp groups)
    seed : split seed
    max_side : longest side in pixels (None keeps the native size, up to ~500 px)
    root : stamp directory (default ``$SEMCOM_TUXPAINT_DIR`` or /usr/share/tuxpaint/stamps)
    """
    check_split(split)
    return list(_load(split, int(seed), None if max_side is None else int(max_side), str(tuxpaint_root(root))))
