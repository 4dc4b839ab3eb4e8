"""Session fixtures for the data tests: each corpus is loaded once (dumps are cached on disk)."""

import pytest

from semcom_ota import data


@pytest.fixture(scope="session")
def corpus_splits():
    """``{corpus: {split: [sentences]}}`` for the default seed, loaded once per session."""
    return {c: {s: data.load_sentences(c, s) for s in data.SPLITS} for c in data.CORPORA}


@pytest.fixture(scope="session")
def pair_splits():
    return {s: data.load_paraphrase_pairs(s) for s in data.SPLITS}
