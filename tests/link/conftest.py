"""Shared fixtures of the link tests: skips with a reason when GNU Radio / SoapySDR are missing."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _system_python_has(module: str) -> bool:
    try:
        return subprocess.run(["/usr/bin/python3", "-c", f"import {module}"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def gnuradio_available() -> None:
    if shutil.which("grcc") is None:
        pytest.skip("grcc not on PATH: install Debian's gnuradio (apt-get install gnuradio)")
    if not _system_python_has("gnuradio.zeromq"):
        pytest.skip("/usr/bin/python3 cannot import gnuradio.zeromq: install Debian's gnuradio")
