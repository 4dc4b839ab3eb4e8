"""`semcom bench phy`: OFDM PHY TX/RX throughput beside GNU Radio's stock OFDM chain (one core)."""

from __future__ import annotations

import typer


def bench_phy(
    json_path: str = typer.Option(None, "--json", help="also write the rows as JSON to this file"),
    packet_bytes: str = typer.Option("96,500,2000,4000", help="comma-separated GNU Radio packet sizes (bytes); ours sends 4(B+4) symbols"),
    total_samples: int = typer.Option(1_000_000, help="samples per measurement (per size and direction)"),
    snr_db: float = typer.Option(20.0, help="AWGN SNR (dB) of the receiver input"),
    repeats: int = typer.Option(3, help="timed repeats; the best is reported"),
    core: int = typer.Option(0, help="CPU core each measurement process is pinned to"),
    no_gnuradio: bool = typer.Option(False, "--no-gnuradio", help="skip the GNU Radio baseline"),
) -> None:
    """Print TX/RX Msps (per CPU second and per wall second) for ours and GNU Radio side by side."""
    from semcom_ota.phy.bench import cli

    try:
        cli(json_path, packet_bytes, total_samples, snr_db, repeats, core, no_gnuradio)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
