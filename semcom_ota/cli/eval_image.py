"""`semcom eval image`: PSNR / MS-SSIM of the semantic, hybrid and separation schemes on held-out photos."""

from __future__ import annotations

from pathlib import Path

import typer

from semcom_ota.cli.options import parse_floats as _floats
from semcom_ota.results import format_table, write_rows


def eval_image(
    data: str = typer.Option("photos", "--data", help="'photos' (held-out test split of load_photos) or a directory of images"),
    snr_db: str = typer.Option("0,5,10,15,20", "--snr-db", help="comma-separated SNRs (dB)"),
    channel: str = typer.Option("awgn", "--channel", help="awgn or rayleigh (block fading, one fade per frame)"),
    link: str = typer.Option("twin", "--link", help="twin (symbol-level channel twin), sim or gnuradio (OFDM PHY + link)"),
    cbr: str = typer.Option("1/12", "--cbr", help="channel uses per real pixel value, k/n (1/48 .. 1/6 for the semantic codec)"),
    schemes: str = typer.Option(",".join(("semantic", "hybrid", "jpeg+ldpc", "webp+ldpc", "avif+ldpc", "ideal-separation")),
                                "--schemes", help="comma-separated schemes"),
    size: int = typer.Option(128, "--size", help="test images: downscale to this short side, centre-crop size x size"),
    limit: int = typer.Option(0, "--limit", help="use at most this many test images (0: all)"),
    card: Path = typer.Option(None, "--card", help="model card of the analog network (default models/image_semantic.yaml)"),
    seed: int = typer.Option(0, "--seed"),
    tx_snr_offset_db: float = typer.Option(0.0, "--tx-snr-offset-db",
                                           help="the transmitters plan for SNR minus this (dB): > 0 = the channel is better than assumed"),
    draws: int = typer.Option(1, "--draws", help="channel realisations per image (Rayleigh: fades); each frame is sent this many times"),
    json_out: Path = typer.Option(None, "--json", help="write DESIGN §2 result rows here"),
) -> None:
    """Quality vs SNR of every image scheme at the same channel uses (k = cbr·H·W·3 complex symbols)."""
    from semcom_ota.eval.image import ImageEvalConfig, evaluate_image, load_eval_images, parse_cbr

    try:
        cfg = ImageEvalConfig(snr_db=_floats(snr_db, "--snr-db"), channel=channel, link=link, cbr=parse_cbr(cbr),
                              schemes=tuple(s.strip() for s in schemes.split(",") if s.strip()), seed=seed,
                              card=str(card) if card else None, tx_snr_offset_db=tx_snr_offset_db, draws=draws)
        images = load_eval_images(data, size=size, limit=limit or None)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    rows = evaluate_image(cfg, images)
    typer.echo(format_table(rows))
    if json_out:
        write_rows(json_out, rows, extra={"command": "semcom eval image", "data": data, "link": link, "cbr": cbr,
                                          "size": size, "n_images": len(images),
                                          "tx_snr_offset_db": tx_snr_offset_db, "draws": draws})
        typer.echo(f"wrote {json_out}")
