"""`semcom bench ...`: benchmarks (never timed tests). Each area adds its command here."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks that print a figure beside its baseline (see BENCHMARKS.md).", no_args_is_help=True)
