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


@pytest.fixture(scope="session")
def loopback_driver() -> str:
    """Build (idempotent) the loopback SoapySDR driver; skip if SoapySDR or g++ are missing."""
    from pathlib import Path

    if not _system_python_has("SoapySDR"):
        pytest.skip("python3-soapysdr not installed (apt-get install python3-soapysdr)")
    script = Path(__file__).resolve().parents[2] / "sdr" / "loopback_driver" / "build.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.skip(f"cannot build the loopback SoapySDR driver: {proc.stderr.strip()[-300:]}")
    return str(script.parent / "build")


@pytest.fixture(scope="session")
def netns() -> None:
    """Hardware-path tests run in a fresh network namespace (only ``lo``): skip if unshare is unavailable."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare not found (util-linux): hardware-path tests run only in an isolated network namespace")
    r = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"unshare -n not permitted here ({r.stderr.strip()[:200]}): needs root or user namespaces")

