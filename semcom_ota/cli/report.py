"""`semcom report RESULTS.json [--out DIR]`: draw the HTML report from any eval's result rows."""

from __future__ import annotations

from pathlib import Path

import typer

from semcom_ota.eval.report import write_report


def report(
    results: Path = typer.Argument(..., help="Results JSON written by `semcom eval ...` or `semcom demo`."),
    out: Path = typer.Option(None, "--out", help="Directory for report.html (default: beside RESULTS)."),
) -> None:
    """Write report.html (self-contained: tables, quality-vs-SNR curves, examples, link statistics)."""
    try:
        path = write_report(results, out)
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"semcom report: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {path}")
