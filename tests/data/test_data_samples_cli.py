"""Bundled demo samples and the `semcom data` CLI."""

from importlib import resources

import numpy as np
from typer.testing import CliRunner

from semcom_ota import data
from semcom_ota.cli.main import app
from semcom_ota.data import samples


def test_samples_load_from_package_resources():
    s = data.load_samples()
    assert len(s.photos) == 4
    for name, img in s.photos:
        assert img.dtype == np.uint8 and img.shape == (128, 192, 3) and img.std() > 10, name
    images, labels = s.fmnist
    assert images.shape == (8, 28, 28) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert 8 <= len(s.sentences) <= 12
    base = resources.files("semcom_ota") / "assets" / "samples"
    total = sum(f.stat().st_size for f in base.iterdir() if f.is_file()) if hasattr(base, "iterdir") else 0
    assert 0 < total < 1_000_000
    assert (base / "LICENSES.md").is_file()


def test_samples_come_from_test_splits(corpus_splits):
    from semcom_ota.data.photos import PHOTO_SPLITS

    assert set(samples.SAMPLE_PHOTOS.values()) <= set(PHOTO_SPLITS["test"])
    s = data.load_samples()
    x_test, y_test = data.load_fashion_mnist("test")
    with np.load(resources.files("semcom_ota") / "assets" / "samples" / samples.FMNIST_FILE) as z:
        idx = z["indices"]
    assert np.array_equal(x_test[idx], s.fmnist[0]) and np.array_equal(y_test[idx], s.fmnist[1])
    test_sentences = set().union(*(set(corpus_splits[c]["test"]) for c in samples.SAMPLE_SENTENCES))
    assert all(x in test_sentences for x in s.sentences)
    # and the sample photos match a crop of the test photo they name
    full = {p.name: p.image for p in data.load_photos("test", max_side=None)}
    for fname, name in samples.SAMPLE_PHOTOS.items():
        got = dict(s.photos)[fname.removesuffix(".png")]
        assert np.abs(got.astype(int) - samples.crop_resize(full[name]).astype(int)).max() <= 1


def test_build_samples_reproduces_the_bundled_files(tmp_path):
    base = resources.files("semcom_ota") / "assets" / "samples"
    for path in samples.build_samples(tmp_path):
        if path.suffix == ".npz":
            with np.load(path) as new, np.load(base / path.name) as old:
                assert all(np.array_equal(new[k], old[k]) for k in ("images", "labels", "indices"))
        elif path.suffix == ".txt":
            assert path.read_text() == (base / path.name).read_text()
        else:
            assert path.stat().st_size > 1000


def test_cli_data_list_and_show():
    runner = CliRunner()
    out = runner.invoke(app, ["data", "list"])
    assert out.exit_code == 0, out.output
    for name in ("web", "kjv", "fortunes", "shakespeare", "fashion-mnist", "photos", "tuxpaint", "samples"):
        assert name in out.output
    out = runner.invoke(app, ["data", "show", "fashion-mnist"])
    assert out.exit_code == 0 and "train 55000, val 5000, test 10000" in out.output, out.output
    out = runner.invoke(app, ["data", "show", "nope"])
    assert out.exit_code != 0 and "nope" in out.output
