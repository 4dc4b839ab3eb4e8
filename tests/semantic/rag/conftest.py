import pytest


@pytest.fixture(scope="session")
def lam():
    """The bundled MiniLM, loaded once per session (offline)."""
    from semcom_ota.semantic.lam import load_lam

    return load_lam()
