"""Natural photos for the image codecs: 12 KDE Plasma wallpaper photos, 6 scikit-image colour photos
and scikit-learn's 2 sample images, split BY IMAGE (a photo is wholly in one split).

The split is fixed (not seeded) so that reported figures always use the same held-out photos:

* test: ColorfulCups, EveningGlow, Kite (wallpapers); skimage coffee, chelsea; sklearn flower
* val:  Grey (wallpaper); skimage rocket
* train: the other 8 wallpapers; skimage astronaut, hubble_deep_field, motorcycle_left; sklearn china

The remaining Plasma wallpapers (Altai, Cascade, Flow, ...) are artwork, not photos, and are never
used. Wallpapers are decoded at reduced scale (JPEG draft mode) and downscaled so that the longer
side is at most ``max_side`` pixels (Lanczos); the small library photos are returned as they are
unless larger than ``max_side``.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import NamedTuple

import numpy as np

from semcom_ota.data.base import DataUnavailable, check_split, env_path

WALLPAPERS_ROOT = "/usr/share/wallpapers"
WALLPAPERS_ENV = "SEMCOM_WALLPAPERS_DIR"
WALLPAPERS_FIX = "apt-get install plasma-workspace-wallpapers"
WALLPAPER_PHOTOS: tuple[str, ...] = (
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
    "Grey", "Kite", "OneStandsOut", "Path", "Volna", "summer_1am",
)
SKIMAGE_PHOTOS: dict[str, str] = {  # name -> file in skimage.data.data_dir
    "astronaut": "astronaut.png", "chelsea": "chelsea.png", "coffee": "coffee.png",
    "rocket": "rocket.jpg", "hubble_deep_field": "hubble_deep_field.jpg", "motorcycle_left": "motorcycle_left.png",
}
SKLEARN_PHOTOS: tuple[str, ...] = ("china.jpg", "flower.jpg")

PHOTO_SPLITS: dict[str, tuple[str, ...]] = {
    "test": ("wallpaper:ColorfulCups", "wallpaper:EveningGlow", "wallpaper:Kite",
             "skimage:coffee", "skimage:chelsea", "sklearn:flower"),
    "val": ("wallpaper:Grey", "skimage:rocket"),
    "train": ("wallpaper:BytheWater", "wallpaper:ColdRipple", "wallpaper:DarkestHour", "wallpaper:FallenLeaf",
              "wallpaper:OneStandsOut", "wallpaper:Path", "wallpaper:Volna", "wallpaper:summer_1am",
              "skimage:astronaut", "skimage:hubble_deep_field", "skimage:motorcycle_left", "sklearn:china"),
}
DEFAULT_MAX_SIDE = 768


class PhotoItem(NamedTuple):
    """One photo: ``name`` ("wallpaper:Kite", "skimage:coffee", "sklearn:flower") and ``image`` uint8 ``[H, W, 3]`` RGB."""

    name: str
    image: np.ndarray


def _package_dir(module: str, fix: str) -> Path:
    """The directory of ``module`` ("skimage.data"), found without importing the package (fast)."""
    top, *sub = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable(f"photos need the PyPI package {top}: {fix}")
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*sub)


def photo_path(name: str, wallpapers_root: str | Path | None = None) -> Path:
    """The file holding photo ``name`` (raises :class:`DataUnavailable` naming the package when absent)."""
    kind, _, stem = name.partition(":")
    if kind == "wallpaper":
        root = Path(wallpapers_root) if wallpapers_root is not None else env_path(WALLPAPERS_ENV, WALLPAPERS_ROOT)
        images = root / stem / "contents" / "images"
        files = sorted(images.glob("*.jpg")) if images.is_dir() else []
        if not files:
            raise DataUnavailable(f"wallpaper photo {stem!r} not found under {root}; install the Debian package: {WALLPAPERS_FIX}")
        # The packaged sizes of one wallpaper share one file; take the largest name (highest resolution).
        return max(files, key=lambda p: int(p.stem.split("x")[0]) if p.stem.split("x")[0].isdigit() else 0)
    if kind == "skimage":
        path = _package_dir("skimage.data", ".venv/bin/pip install scikit-image") / SKIMAGE_PHOTOS[stem]
    elif kind == "sklearn":
        path = _package_dir("sklearn.datasets", ".venv/bin/pip install scikit-learn") / "images" / f"{stem}.jpg"
    else:
        raise ValueError(f"photo name {name!r}: expected 'wallpaper:NAME', 'skimage:NAME' or 'sklearn:NAME'")
    if not path.is_file():
        raise DataUnavailable(f"photo file {path} missing; reinstall {'scikit-image' if kind == 'skimage' else 'scikit-learn'}")
    return path


def read_photo(path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Decode an image file to uint8 RGB ``[H, W, 3]``, the longer side at most ``max_side`` (None: full size)."""
    from PIL import Image

    with Image.open(path) as im:
        if max_side is not None and im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))  # DCT-domain downscale by 1/2, 1/4 or 1/8 (never below max_side)
        im = im.convert("RGB")
        if max_side is not None and max(im.size) > max_side:
            scale = max_side / max(im.size)
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
        return np.asarray(im, dtype=np.uint8).copy()


@functools.lru_cache(maxsize=8)
def _load(split: str, max_side: int | None, wallpapers_root: str | None) -> tuple[PhotoItem, ...]:
    items = []
    for name in PHOTO_SPLITS[split]:
        img = read_photo(photo_path(name, wallpapers_root), max_side)
        img.setflags(write=False)
        items.append(PhotoItem(name, img))
    return tuple(items)


def load_photos(split: str, max_side: int | None = DEFAULT_MAX_SIDE, wallpapers_root: str | Path | None = None) -> list[PhotoItem]:
    """The photos of one split (see the module docstring for the fixed lists).

    Parameters
    ----------
    split : "train" (12 photos) | "val" (2) | "test" (6)
    max_side : longest side in pixels after downscaling (None keeps full size, up to 5120×2880)
    wallpapers_root : where the Plasma wallpapers live (default ``$SEMCOM_WALLPAPERS_DIR`` or /usr/share/wallpapers)

    Returns a list of :class:`PhotoItem` (``name``, ``image`` uint8 ``[H, W, 3]``, read-only).
    """
    check_split(split)
    if max_side is not None and int(max_side) < 16:
        raise ValueError(f"max_side={max_side!r}: expected None or an integer >= 16")
    root = Path(wallpapers_root) if wallpapers_root is not None else env_path(WALLPAPERS_ENV, WALLPAPERS_ROOT)
    return list(_load(split, None if max_side is None else int(max_side), str(root)))
