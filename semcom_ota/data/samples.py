"""The demo content bundled in ``semcom_ota/assets/samples`` (< 1 MB), drawn from TEST splits only.

* ``photo_*.png``: 192×128 RGB crops of four test-split photos (no codec trains on them)
* ``fmnist_test8.npz``: 8 Fashion-MNIST test images (``images`` uint8 [8,28,28], ``labels`` int64 [8],
  ``indices`` into the test file)
* ``sentences.txt``: 10 test-split sentences (4 WEB, 3 fortunes, 3 Shakespeare), one per line
* ``LICENSES.md``: source and licence of each file

:func:`build_samples` regenerates them from the installed data sets (``semcom data build-samples``);
:func:`load_samples` reads them through :mod:`importlib.resources`, so it works from a wheel.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

SAMPLE_PHOTOS: dict[str, str] = {  # file -> test-split photo name
    "photo_coffee.png": "skimage:coffee",
    "photo_chelsea.png": "skimage:chelsea",
    "photo_kite.png": "wallpaper:Kite",
    "photo_colorfulcups.png": "wallpaper:ColorfulCups",
}
SAMPLE_SIZE_WH = (192, 128)
SAMPLE_SENTENCES = {"web": 4, "fortunes": 3, "shakespeare": 3}
FMNIST_FILE = "fmnist_test8.npz"
SENTENCES_FILE = "sentences.txt"


class Samples(NamedTuple):
    """Bundled demo content: ``photos`` [(name, uint8 [128,192,3])], ``fmnist`` (uint8 [8,28,28], int64 [8]), ``sentences``."""

    photos: list[tuple[str, np.ndarray]]
    fmnist: tuple[np.ndarray, np.ndarray]
    sentences: list[str]


def _samples_dir():
    return resources.files("semcom_ota") / "assets" / "samples"


def load_samples() -> Samples:
    """Read the bundled samples (no data packages needed)."""
    from PIL import Image

    base = _samples_dir()
    photos = []
    for fname in sorted(SAMPLE_PHOTOS):
        with Image.open(io.BytesIO((base / fname).read_bytes())) as im:
            photos.append((fname.removesuffix(".png"), np.asarray(im.convert("RGB"), dtype=np.uint8).copy()))
    with np.load(io.BytesIO((base / FMNIST_FILE).read_bytes())) as z:
        fmnist = (z["images"].astype(np.uint8), z["labels"].astype(np.int64))
    sentences = [s for s in (base / SENTENCES_FILE).read_text(encoding="utf-8").splitlines() if s.strip()]
    return Samples(photos, fmnist, sentences)


def crop_resize(image: np.ndarray, size_wh: tuple[int, int] = SAMPLE_SIZE_WH) -> np.ndarray:
    """Centre-crop ``image`` (uint8 [H,W,3]) to the aspect of ``size_wh`` and resize to it (Lanczos)."""
    from PIL import Image

    w, h = size_wh
    H, W = image.shape[:2]
    if W * h > H * w:  # too wide
        cw, ch = round(H * w / h), H
    else:
        cw, ch = W, round(W * h / w)
    x0, y0 = (W - cw) // 2, (H - ch) // 2
    crop = Image.fromarray(np.ascontiguousarray(image[y0:y0 + ch, x0:x0 + cw]))
    return np.asarray(crop.resize((w, h), Image.LANCZOS), dtype=np.uint8)


def build_samples(out_dir: str | Path, seed: int = 0) -> list[Path]:
    """Regenerate the bundled samples (except LICENSES.md) from TEST splits into ``out_dir``."""
    from PIL import Image

    from semcom_ota.data.corpora import load_sentences
    from semcom_ota.data.fmnist import load_fashion_mnist
    from semcom_ota.data.photos import load_photos

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    test_photos = {p.name: p.image for p in load_photos("test", max_side=None)}
    for fname, name in SAMPLE_PHOTOS.items():
        if name not in test_photos:
            raise ValueError(f"sample photo {name!r} is not in the photo test split")
        Image.fromarray(crop_resize(test_photos[name])).save(out / fname, optimize=True)
        written.append(out / fname)
    images, labels = load_fashion_mnist("test")
    idx = np.array([int(np.flatnonzero(labels == c)[0]) for c in range(8)])  # first test image of classes 0..7
    np.savez_compressed(out / FMNIST_FILE, images=images[idx], labels=labels[idx], indices=idx)
    written.append(out / FMNIST_FILE)
    rng = np.random.default_rng(seed)
    chosen = []
    for corpus, n in SAMPLE_SENTENCES.items():
        pool = [s for s in load_sentences(corpus, "test", seed=0) if 8 <= len(s.split()) <= 20 and s.isascii()]
        chosen += [pool[i] for i in sorted(rng.choice(len(pool), size=n, replace=False))]
    (out / SENTENCES_FILE).write_text("\n".join(chosen) + "\n", encoding="utf-8")
    written.append(out / SENTENCES_FILE)
    return written
