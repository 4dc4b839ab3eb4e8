"""`semcom demo`: the end-to-end semantic link on the bundled content, with an HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from semcom_ota.cli.options import parse_floats as _floats


def demo(
    link: str = typer.Option("gnuradio", "--link", help="gnuradio (loopback flowgraph), sim (in-process) or soapy (loopback driver)."),
    snr_db: str = typer.Option("0,10,20", "--snr-db", help="Comma-separated SNRs in dB (P_s/N0 of the active samples)."),
    out: Path = typer.Option(Path("out/demo"), "--out", help="Directory for results.json and report.html."),
    stages: str = typer.Option("photos,fashion-mnist,sentences", "--stages", help="Which stages to run."),
    max_items: int = typer.Option(None, "--max-items", help="At most this many items per stage (default: all bundled)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Send sample photos, Fashion-MNIST images and sentences through the semantic codecs and the
    digital baseline over a real link; print a table and write report.html + results.json."""
    from semcom_ota.eval.demo import DemoConfig, run_demo

    try:
        cfg = DemoConfig(link=link, snr_db=_floats(snr_db, "--snr-db"), out=out, stages=tuple(s.strip() for s in stages.split(",") if s.strip()),
                         seed=seed, max_items=max_items)
    except ValueError as err:
        typer.echo(f"semcom demo: {err}", err=True)
        raise typer.Exit(2) from None
    results, report, _ = run_demo(cfg, echo=typer.echo)
    typer.echo(f"\nwrote {results}\nwrote {report}")
