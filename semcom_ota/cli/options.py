"""Parsing helpers shared by the CLI commands."""

from __future__ import annotations

import typer


def parse_floats(text: str, name: str) -> tuple[float, ...]:
    """``"0,5,10"`` -> ``(0.0, 5.0, 10.0)``; a bad or empty list is a ``BadParameter`` naming the option."""
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter(f"{name}={text!r}: expected comma-separated numbers, e.g. 0,5,10") from None
    if not vals:
        raise typer.BadParameter(f"{name}={text!r}: expected at least one number")
    return vals
