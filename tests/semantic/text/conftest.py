from pathlib import Path

import pytest

CARD = Path(__file__).resolve().parents[3] / "models" / "text_semantic.yaml"


@pytest.fixture(scope="session")
def lam():
    """The bundled MiniLM, loaded once per session (offline)."""
    from semcom_ota.semantic.lam import load_lam

    return load_lam()


@pytest.fixture(scope="session")
def codec(lam):
    """The shipped text-semantic codec, built from its model card through the registry."""
    import semcom_ota.semantic.text  # noqa: F401  (registers text-semantic)
    from semcom_ota.semantic.base import load_codec

    return load_codec(CARD)


@pytest.fixture(scope="session")
def test_sentences():
    """48 held-out WEB + fortunes *test* sentences (seeded)."""
    from semcom_ota.eval.text import sample_sentences

    return sample_sentences("web", "test", 32, 7) + sample_sentences("fortunes", "test", 16, 7)
