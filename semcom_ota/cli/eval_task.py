"""`semcom eval task`: classification accuracy of the task-oriented schemes on held-out Fashion-MNIST."""

from __future__ import annotations

from pathlib import Path

import typer

from semcom_ota.cli.options import parse_floats as _floats
from semcom_ota.results import format_table, write_rows


def eval_task(
    data: str = typer.Option("fashion-mnist", "--data", help="data set (only fashion-mnist)"),
    snr_db: str = typer.Option("0,5,10", "--snr-db", help="comma-separated SNRs (dB)"),
    channel: str = typer.Option("awgn", "--channel", help="comma-separated: awgn, rayleigh"),
    link: str = typer.Option("twin", "--link", help="twin (symbol-level torch twin), sim or gnuradio (OFDM PHY + link)"),
    symbols: str = typer.Option("16,32,64", "--symbols", help="comma-separated channel uses (complex symbols) per image"),
    schemes: str = typer.Option("semantic,teacher-jscc,digital", "--schemes", help="comma-separated schemes"),
    n: int = typer.Option(1000, "--n", help="held-out test images"),
    n_digital: int = typer.Option(0, "--n-digital", help="test images for the digital rows (0: same as --n)"),
    seed: int = typer.Option(0, "--seed"),
    json_out: Path = typer.Option(None, "--json", help="write result rows here"),
) -> None:
    """Accuracy of semantic (student), teacher-jscc and digital at the same channel uses."""
    from semcom_ota.eval.task import TaskEvalConfig, evaluate_task

    if data != "fashion-mnist":
        raise typer.BadParameter(f"--data={data!r}: expected fashion-mnist")
    chans = tuple(c.strip() for c in channel.split(",") if c.strip())
    for c in chans:
        if c not in ("awgn", "rayleigh"):
            raise typer.BadParameter(f"--channel={c!r}: expected awgn or rayleigh")
    try:
        cfg = TaskEvalConfig(snr_db=_floats(snr_db, "--snr-db"), channels=chans,
                             symbols=tuple(int(v) for v in _floats(symbols, "--symbols")),
                             schemes=tuple(s.strip() for s in schemes.split(",") if s.strip()), link=link, n=n,
                             n_digital=n_digital or None, seed=seed)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    rows = evaluate_task(cfg)
    typer.echo(format_table(rows))
    if json_out:
        write_rows(json_out, rows, extra={"command": "semcom eval task", "data": data, "link": link})
        typer.echo(f"wrote {json_out}")
