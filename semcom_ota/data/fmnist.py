"""Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (IDX files, gzip).

Splits: ``train`` = the first 55 000 images of the train file, ``val`` = its last 5 000,
``test`` = the 10 000 images of the test file. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from semcom_ota.data.base import DataUnavailable, check_split, env_path

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
ROOT_ENV = "SEMCOM_FASHION_MNIST_DIR"
N_TRAIN = 55_000
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
FIX = "apt-get install dataset-fashion-mnist"


def fmnist_root(root: str | Path | None = None) -> Path:
    """The directory holding the IDX files: ``root``, else ``$SEMCOM_FASHION_MNIST_DIR``, else the Debian path."""
    return Path(root) if root is not None else env_path(ROOT_ENV, DEFAULT_ROOT)


def read_idx(path: Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file of unsigned bytes into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()!r}, expected 000008xx)")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise ValueError(f"{path}: {len(data) - offset} payload bytes, expected {expected} for shape {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


@functools.lru_cache(maxsize=4)
def _load_file_pair(root: Path, which: str) -> tuple[np.ndarray, np.ndarray]:
    paths = [root / FILES[f"{which}_images"], root / FILES[f"{which}_labels"]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataUnavailable(f"Fashion-MNIST files missing: {', '.join(missing)}; install the Debian package: {FIX}")
    images = read_idx(paths[0])
    labels = read_idx(paths[1]).astype(np.int64)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{root}: {which} images {images.shape} / labels {labels.shape}, expected [N,28,28] / [N]")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_fashion_mnist(split: str, root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images and labels of one split.

    Parameters
    ----------
    split : "train" (55 000) | "val" (5 000) | "test" (10 000)
    root : directory of the IDX files (default ``$SEMCOM_FASHION_MNIST_DIR`` or the Debian path)

    Returns
    -------
    images : uint8 ``[N, 28, 28]`` (0 = background), read-only
    labels : int64 ``[N]`` in 0..9, names in :data:`FASHION_MNIST_CLASSES`

    Raises :class:`DataUnavailable` naming ``dataset-fashion-mnist`` when the files are missing.
    """
    check_split(split)
    base = fmnist_root(root)
    if split == "test":
        return _load_file_pair(base, "test")
    images, labels = _load_file_pair(base, "train")
    sl = slice(0, N_TRAIN) if split == "train" else slice(N_TRAIN, None)
    return images[sl], labels[sl]
