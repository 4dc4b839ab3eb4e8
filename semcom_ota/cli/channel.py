"""`semcom channel ...`: inspect the sample-level channel simulator.

    semcom channel list
    semcom channel show --preset hardware
    semcom channel show --preset eva --set snr_db=5 --set doppler_hz=70
    semcom channel show --config my_channel.yaml
    semcom channel apply --preset eva --set snr_db=10 --seed 1 in.cf32 out.cf32
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


def _build_config(preset: Optional[str], config: Optional[Path], set_: list[str]):
    from semcom_ota.channel.sim import PRESETS, ChannelConfig
    from semcom_ota.config import ConfigError, load_yaml, validate_config

    if (preset is None) == (config is None):
        raise typer.BadParameter("give exactly one of --preset NAME or --config FILE")
    overrides = _parse_sets(set_)
    try:
        if preset is not None:
            if preset not in PRESETS:
                raise typer.BadParameter(f"--preset {preset!r}: unknown; expected one of {sorted(PRESETS)}")
            return validate_config(ChannelConfig, {**PRESETS[preset], **overrides}, f"preset {preset}")
        cfg = load_yaml(config, ChannelConfig)
        if overrides:
            cfg = validate_config(ChannelConfig, {**cfg.model_dump(exclude_defaults=True), **overrides}, str(config))
        return cfg
    except ConfigError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None


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
    from semcom_ota.channel.sim import ChannelSimulator

    cfg = _build_config(preset, config, set_)
    sim = ChannelSimulator(cfg)
    title = f"preset {preset}" if preset else f"config {config}"
    typer.echo(f"channel ({title}), sample rate {cfg.sample_rate_hz / 1e6:g} Msps:")
    for i, stage in enumerate(sim.describe(), 1):
        typer.echo(f"  {i}. {stage}")
    settings = cfg.model_dump(exclude_defaults=True)
    typer.echo("settings: " + (", ".join(f"{k}={v}" for k, v in settings.items()) or "(all defaults)"))


def _read_iq(path: Path):
    import numpy as np

    if not path.is_file():
        raise typer.BadParameter(f"{path}: not found (expected .npy of complex64, or raw cf32_le .cf32/.sigmf-data)")
    if path.suffix == ".npy":
        x = np.load(path, allow_pickle=False)
        if not np.iscomplexobj(x) or x.ndim != 1:
            raise typer.BadParameter(f"{path}: expected a 1-D complex array, got dtype {x.dtype} shape {x.shape}")
        return x.astype(np.complex64)
    size = path.stat().st_size
    if size % 8:
        raise typer.BadParameter(f"{path}: {size} bytes is not a multiple of 8 (expected raw cf32_le samples)")
    return np.fromfile(path, dtype="<c8").astype(np.complex64)


@app.command("apply")
def apply(
    input: Path = typer.Argument(..., help="IQ in: raw cf32_le (.cf32, .sigmf-data) or .npy (complex)."),
    output: Path = typer.Argument(..., help="IQ out: .npy, else raw cf32_le."),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="Preset name."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="A ChannelConfig YAML file."),
    set_: List[str] = typer.Option([], "--set", help="Override a setting, KEY=VALUE (repeatable)."),
    seed: Optional[int] = typer.Option(None, help="Seed (overrides the config's)."),
    chunk: int = typer.Option(0, help="Process as a stream in chunks of this many samples (0 = one frame)."),
) -> None:
    """Pass a recording through the channel simulator and write the result."""
    import numpy as np

    from semcom_ota.channel.sim import ChannelSimulator

    cfg = _build_config(preset, config, set_)
    x = _read_iq(input)
    sim = ChannelSimulator(cfg, seed=seed)
    if chunk > 0:
        y = np.concatenate([sim.stream(x[i : i + chunk]) for i in range(0, x.size, chunk)] or [np.zeros(0, np.complex64)])
    else:
        y = sim.apply(x)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".npy":
        np.save(output, y)
    else:
        y.astype("<c8").tofile(output)
    typer.echo(f"{input} ({x.size} samples) -> {output} ({y.size} samples) through: " + "; ".join(sim.describe()))
