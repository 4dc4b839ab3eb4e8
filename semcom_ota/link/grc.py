"""Find and compile the project's GNU Radio flowgraphs (``grc/*.grc``, GRC 3.10 YAML) with ``grcc``.

Generated Python is never committed: it is compiled on demand into a build directory (default
``grc/build/``, git-ignored; ``$SEMCOM_GRC_BUILD`` overrides), one sub-directory per content hash of
the ``.grc`` file, so an unchanged flowgraph compiles once. Compilation writes into a temporary
directory and renames it into place, so concurrent compilations cannot see half-written output.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

GRCC = "grcc"


def grc_dir() -> Path:
    """The directory holding the project's ``.grc`` files (``$SEMCOM_GRC_DIR`` overrides)."""
    env = os.environ.get("SEMCOM_GRC_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "grc"


def build_dir() -> Path:
    env = os.environ.get("SEMCOM_GRC_BUILD")
    return Path(env) if env else grc_dir() / "build"


def find_flowgraph(name: str) -> Path:
    """``name`` is a path to a ``.grc`` file or the stem of one in :func:`grc_dir`."""
    p = Path(name)
    if p.suffix == ".grc" and p.is_file():
        return p
    cand = grc_dir() / f"{name}.grc"
    if cand.is_file():
        return cand
    known = sorted(q.stem for q in grc_dir().glob("*.grc"))
    raise FileNotFoundError(f"flowgraph {name!r}: not a .grc file and not one of {known} in {grc_dir()}")


@dataclass(frozen=True)
class FlowgraphInfo:
    """What a ``.grc`` file declares: its id (the generated script's name) and its parameters."""

    path: Path
    id: str
    parameters: dict[str, dict[str, Any]]  # name -> {"type": ..., "value": ...}


def inspect_flowgraph(path: Path) -> FlowgraphInfo:
    """Parse a GRC 3.10 YAML flowgraph: its options id and its ``parameter`` blocks."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or "options" not in data or "blocks" not in data:
        raise ValueError(f"{path}: not a GRC 3.10 YAML flowgraph (expected 'options' and 'blocks' keys)")
    fid = str(data["options"]["parameters"]["id"])
    params = {
        str(b["name"]): {"type": b["parameters"].get("type", ""), "value": b["parameters"].get("value")}
        for b in data["blocks"]
        if b.get("id") == "parameter" and b.get("states", {}).get("state", "enabled") == "enabled"
    }
    return FlowgraphInfo(Path(path), fid, params)


def compile_flowgraph(name: str | Path, out_dir: Path | None = None, timeout_s: float = 120.0) -> Path:
    """Compile a flowgraph with ``grcc`` (once per content hash) and return the generated script.

    Raises ``FileNotFoundError`` if ``grcc`` is missing (install Debian's ``gnuradio``) and
    ``RuntimeError`` with grcc's output if compilation fails.
    """
    path = find_flowgraph(str(name))
    info = inspect_flowgraph(path)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    root = Path(out_dir) if out_dir is not None else build_dir()
    target = root / f"{info.id}-{digest}"
    script = target / f"{info.id}.py"
    if script.is_file():
        return script
    if shutil.which(GRCC) is None:
        raise FileNotFoundError(f"{GRCC}: not found on PATH (install GNU Radio 3.10: apt-get install gnuradio)")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{info.id}-", dir=root))
    try:
        proc = subprocess.run([GRCC, "-o", str(tmp), str(path)], capture_output=True, text=True, timeout=timeout_s)
        produced = tmp / f"{info.id}.py"
        if proc.returncode != 0 or not produced.is_file():
            raise RuntimeError(f"grcc failed on {path} (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race: its output is identical
            if not script.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("compiled %s -> %s", path.name, script)
    return script
