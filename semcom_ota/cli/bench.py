"""`semcom bench ...`: benchmarks (never timed tests). Each area adds its command here."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks that print a figure beside its baseline (see BENCHMARKS.md).", no_args_is_help=True)

from semcom_ota.baselines.bench import cli as _baselines_bench  # noqa: E402

app.command("baselines", help="Digital baselines: BLER per MCS vs Shannon, LDPC throughput vs uncoded.")(_baselines_bench)

from semcom_ota.channel.bench import cli as _channel_bench  # noqa: E402

app.command("channel", help="Channel simulator presets and torch twin: Msps beside plain NumPy/torch AWGN.")(_channel_bench)

from semcom_ota.link.bench import cli as _link_bench  # noqa: E402

app.command("link", help="Links: sustained Msps through GNU Radio (with/without channel model) beside raw pyzmq; frame latency.")(_link_bench)

from semcom_ota.cli.bench_phy import bench_phy as _phy_bench  # noqa: E402

app.command("phy", help="OFDM PHY: TX/RX Msps on one core beside GNU Radio's ofdm_tx/ofdm_rx.")(_phy_bench)
