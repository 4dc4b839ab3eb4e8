"""Fashion-MNIST, photos and Tux Paint stamps on the real Debian/PyPI data."""

import numpy as np
import pytest

from semcom_ota import data
from semcom_ota.data import photos, tuxpaint
from semcom_ota.data.base import split_of


def test_fashion_mnist_splits():
    sizes = {}
    for s in data.SPLITS:
        x, y = data.load_fashion_mnist(s)
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and y.dtype == np.int64 and x.shape[0] == y.shape[0]
        assert y.min() == 0 and y.max() == 9
        sizes[s] = len(y)
    assert sizes == {"train": 55_000, "val": 5_000, "test": 10_000}
    assert len(data.FASHION_MNIST_CLASSES) == 10
    _, y_test = data.load_fashion_mnist("test")
    assert np.all(np.bincount(y_test) == 1000)
    x_tr, _ = data.load_fashion_mnist("train")
    x_va, _ = data.load_fashion_mnist("val")
    assert not np.array_equal(x_tr[-1], x_va[0])
    assert x_tr.mean() > 50  # real images, not zeros


def test_photo_split_by_image():
    splits = {s: data.load_photos(s) for s in data.SPLITS}
    names = {s: [p.name for p in v] for s, v in splits.items()}
    assert [len(names[s]) for s in data.SPLITS] == [12, 2, 6]
    flat = [n for v in names.values() for n in v]
    assert len(set(flat)) == 20
    assert sorted(n.split(":")[1] for n in flat if n.startswith("wallpaper:")) == sorted(photos.WALLPAPER_PHOTOS)
    for p in (p for v in splits.values() for p in v):
        assert p.image.dtype == np.uint8 and p.image.ndim == 3 and p.image.shape[2] == 3
        assert max(p.image.shape[:2]) <= 768 and p.image.std() > 10
    kite = next(p for p in splits["test"] if p.name == "wallpaper:Kite")
    assert kite.image.shape == (480, 768, 3)


def test_tuxpaint_stamps():
    index = tuxpaint.stamp_index()
    assert 700 <= len(index) <= 1100
    counts = {s: sum(1 for _, _, u in index if split_of(u, 0) == s) for s in data.SPLITS}
    assert 0.7 < counts["train"] / len(index) < 0.9
    test = data.load_tuxpaint("test")
    assert len(test) == counts["test"]
    key = lambda it: (it.caption, it.image.shape, it.image.tobytes())  # noqa: E731
    assert not {key(it) for it in data.load_tuxpaint("val")} & {key(it) for it in test}
    for image, caption in test:
        assert image.dtype == np.uint8 and image.shape[2] == 3 and max(image.shape[:2]) <= 256
        assert caption and (caption[0].isupper() or caption[0].isdigit()), caption


def test_tuxpaint_transparency_becomes_white():
    from PIL import Image

    checked = 0
    for png, _, _ in tuxpaint.stamp_index()[:40]:
        alpha = np.asarray(Image.open(png).convert("RGBA"))[..., 3]
        if (alpha == 0).sum() < 100:
            continue
        rgb = tuxpaint.read_stamp(png, max_side=None)
        assert rgb.shape[:2] == alpha.shape
        assert np.all(rgb[alpha == 0] == 255)
        assert np.any(rgb[alpha == 255] < 250)  # the drawing itself is kept
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("split", ["train ", "", "TEST"])
def test_bad_split_names_the_value(split):
    with pytest.raises(ValueError, match=repr(split)):
        data.load_photos(split)
