"""The full `semcom` typer app: every command group registered (see :mod:`semcom_ota.cli.main`)."""

from __future__ import annotations

import logging

import typer

from semcom_ota.cli import doctor

app = typer.Typer(
    name="semcom",
    help="semcom-ota: semantic communication over the air (LAM codecs, OFDM PHY, GNU Radio / SoapySDR links).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level.")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


from semcom_ota.cli import bench, compress, demo, report  # noqa: E402
from semcom_ota.cli import eval as eval_cmd  # noqa: E402
from semcom_ota.cli import kb as kb_cmd  # noqa: E402

app.add_typer(eval_cmd.app, name="eval")
app.add_typer(bench.app, name="bench")
app.add_typer(__import__("semcom_ota.cli.link", fromlist=["app"]).app, name="link")
app.command("tx", help="Transmit frames of random symbols (TX half of a two-process / two-radio link).")(__import__("semcom_ota.cli.link", fromlist=["tx"]).tx)
app.command("rx", help="Receive, demodulate and count the frames `semcom tx` sends.")(__import__("semcom_ota.cli.link", fromlist=["rx"]).rx)
app.add_typer(__import__("semcom_ota.cli.channel", fromlist=["app"]).app, name="channel")
app.add_typer(kb_cmd.app, name="kb")
app.add_typer(__import__("semcom_ota.cli.data", fromlist=["app"]).app, name="data")
app.command("demo", help="Run the end-to-end semantic link demo (default: GNU Radio loopback).")(demo.demo)
app.command("report", help="Draw the HTML report from a results JSON.")(report.report)
app.command("compress", help="Compress an encoder (LAM text, image, task student/teacher) to a latency/size budget (ONNX int8, pruning).")(compress.compress)
app.command("doctor", help="Check the installation: GNU Radio, SoapySDR, NumPy<2, torch, models, datasets.")(doctor.doctor)
