"""`semcom channel ...`: inspect the sample-level channel simulator.

    semcom channel list
    semcom channel show --preset hardware
    semcom channel show --preset eva --set snr_db=5 --set doppler_hz=70
    semcom channel show --config my_channel.yaml
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
import yaml

app = typer.Typer(help="Channel simulator presets and impairment chains.", no_args_is_help=True)


def _parse_sets(sets: list[str]) -> dict:
    out: dict = {}
    for item in sets or []:
        if "=" not in item:
            raise typer.BadParameter(f"--set {item!r}: expected KEY=VALUE (e.g. snr_db=10)")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


@app.command("list")
def list_presets() -> None:
    """List the registered channel presets with their settings."""
    from semcom_ota.channel.sim import PRESETS

    for name in sorted(PRESETS):
        settings = ", ".join(f"{k}={v}" for k, v in PRESETS[name].items()) or "(no impairment)"
        typer.echo(f"{name:12s} {settings}")


@app.command("show")
def show(
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="Preset name (see `semcom channel list`)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="A ChannelConfig YAML file instead of a preset."),
    set_: List[str] = typer.Option([], "--set", help="Override a setting, KEY=VALUE (repeatable)."),
) -> None:
    """Print the impairment chain of a preset or config, in the order it is applied."""
    from semcom_ota.channel.sim import PRESETS, ChannelConfig, ChannelSimulator
    from semcom_ota.config import ConfigError, load_yaml, validate_config

    if (preset is None) == (config is None):
        raise typer.BadParameter("give exactly one of --preset NAME or --config FILE")
    overrides = _parse_sets(set_)
    try:
        if preset is not None:
            if preset not in PRESETS:
                raise typer.BadParameter(f"--preset {preset!r}: unknown; expected one of {sorted(PRESETS)}")
            cfg = validate_config(ChannelConfig, {**PRESETS[preset], **overrides}, f"preset {preset}")
        else:
            cfg = load_yaml(config, ChannelConfig)
            if overrides:
                cfg = validate_config(ChannelConfig, {**cfg.model_dump(exclude_defaults=True), **overrides}, str(config))
    except ConfigError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    sim = ChannelSimulator(cfg)
    title = f"preset {preset}" if preset else f"config {config}"
    typer.echo(f"channel ({title}), sample rate {cfg.sample_rate_hz / 1e6:g} Msps:")
    for i, stage in enumerate(sim.describe(), 1):
        typer.echo(f"  {i}. {stage}")
    settings = cfg.model_dump(exclude_defaults=True)
    typer.echo("settings: " + (", ".join(f"{k}={v}" for k, v in settings.items()) or "(all defaults)"))
