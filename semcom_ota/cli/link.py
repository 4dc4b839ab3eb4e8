"""`semcom link test`, `semcom tx`, `semcom rx`: carry frames of random symbols over a link.

``link test`` sends N frames of random unit-power symbols (codec_id 0) through one link and back,
and writes ``{sent, decoded, lost: {reason: count}, nmse_db, snr_est_db, throughput_msps, latency_ms}``.
``tx`` and ``rx`` are the two halves for two processes (``zmq``) or two hosts with radios
(``soapy`` with a profile, e.g. two HackRFs: half duplex). Both sides derive the same frames from
``--seed``, so the receiver can count and compare what arrived.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
import yaml

log = logging.getLogger(__name__)

app = typer.Typer(help="Link tests: frames of random symbols through sim, GNU Radio, SoapySDR or a SigMF replay.",
                  no_args_is_help=True)

LINKS = ("sim", "gnuradio", "soapy", "replay", "zmq")


def _parse_sets(sets: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in sets:
        if "=" not in kv:
            raise typer.BadParameter(f"--set {kv!r}: expected KEY=VALUE (VALUE parsed as YAML)")
        k, v = kv.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def link_config(link: str, snr_db: Optional[float], seed: int, tx_rms: float, extra: dict[str, Any],
                profile: Optional[str] = None, device_args: str = "", path: Optional[str] = None) -> dict[str, Any]:
    """Keyword configuration of ``open_link(link, ...)`` for a link test at ``snr_db``.

    sim: the channel simulator at ``snr_db``; gnuradio: the loopback channel flowgraph at ``snr_db``
    for transmit RMS ``tx_rms``; soapy with the loopback driver: driver noise for ``snr_db``
    (a radio's SNR is whatever the air gives); replay: the recording at ``path``.
    """
    if link not in LINKS:
        raise typer.BadParameter(f"--link {link!r}: expected one of {list(LINKS)}")
    cfg: dict[str, Any] = {}
    if link == "sim":
        cfg = {"snr_db": snr_db, "seed": seed}
    elif link == "gnuradio":
        cfg = {"snr_db": snr_db, "tx_rms": tx_rms, "seed": seed}
    elif link == "soapy":
        from semcom_ota.link.profiles import load_profile

        prof = load_profile(profile or "loopback")
        cfg = {"profile": profile or "loopback", "device_args": device_args, "seed": seed}
        if prof.driver == "loopback" and "noise_std" not in device_args:
            cfg["snr_db"] = snr_db
        elif snr_db is not None and prof.driver != "loopback":
            log.info("--snr-db is not applied to a radio (driver %s): the air sets the SNR", prof.driver)
    elif link == "replay":
        if not path:
            raise typer.BadParameter("--link replay needs --path RECORDING (a .sigmf-meta written with --record)")
        cfg = {"path": path}
    cfg.update(extra)
    return cfg


def _frames(n_frames: int, n_symbols: int, seed: int, snr_db: Optional[float]):
    from semcom_ota.link import random_frames

    return random_frames(n_frames, n_symbols, np.random.default_rng(seed), codec_id=0,
                         snr_db=10.0 if snr_db is None else float(snr_db))


def summarise(res, frames, link: str, snr_db: Optional[float]) -> dict[str, Any]:
    from semcom_ota.link import nmse_db

    s = res.summary()
    nm = nmse_db(frames, res.rx)
    return {
        "link": link,
        "snr_db": snr_db,
        "sent": s["sent"],
        "decoded": s["decoded"],
        "lost": s["lost"],
        "nmse_db": nm if math.isfinite(nm) else None,
        "snr_est_db": s["snr_est_db"],
        "throughput_msps": s["throughput_msps"],
        "latency_ms": s["latency_ms"],
        "samples": s["samples"],
        "wall_s": s["wall_s"],
        "link_problems": s["link_problems"],
        "unmatched": s["unmatched"],
    }


def _write(out: dict[str, Any], json_path: Optional[Path]) -> None:
    line = (f"{out.get('link')}: sent {out['sent']}, decoded {out['decoded']}, lost {out['lost']}, "
            f"NMSE {out['nmse_db'] if out['nmse_db'] is None else round(out['nmse_db'], 2)} dB, "
            f"SNR est {out['snr_est_db'] if out['snr_est_db'] is None else round(out['snr_est_db'], 2)} dB, "
            f"{out['throughput_msps'] if out['throughput_msps'] is None else round(out['throughput_msps'], 3)} Msps")
    typer.echo(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(out, indent=1))
        typer.echo(f"wrote {json_path}")


@app.command("test")
def test(
    link: str = typer.Option("sim", "--link", help=f"one of {', '.join(LINKS)}"),
    frames: int = typer.Option(200, "--frames", min=1, help="frames to send"),
    symbols: int = typer.Option(480, "--symbols", min=1, help="complex symbols per frame"),
    snr_db: Optional[float] = typer.Option(20.0, "--snr-db", help="channel SNR (dB, P_s/N0) where the link sets it"),
    seed: int = typer.Option(0, "--seed", help="seed of the frames and of the channel noise"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the summary here"),
    record: Optional[str] = typer.Option(None, "--record", help="also record the IQ as SigMF at this base path"),
    path: Optional[str] = typer.Option(None, "--path", help="replay: the SigMF recording"),
    profile: Optional[str] = typer.Option(None, "--profile", help="soapy: device profile (sdr/*.yaml)"),
    device_args: str = typer.Option("", "--device-args", help="soapy: extra device args k=v,..."),
    timeout_s: float = typer.Option(15.0, "--timeout", help="seconds to wait for the last frames"),
    sets: list[str] = typer.Option([], "--set", help="further link config KEY=VALUE (repeatable; YAML values)"),
) -> None:
    """Send FRAMES frames of random unit-power symbols (codec_id 0) through a link; report what came back."""
    from semcom_ota.link import open_link, transmit_frames
    from semcom_ota.phy import PhyConfig

    phy = PhyConfig()
    if link == "replay" and path:
        _, n_frames, n_symbols, seed = _recorded_test(path, frames, symbols, seed)
        frames, symbols = n_frames, n_symbols
    fr = _frames(frames, symbols, seed, snr_db)
    cfg = link_config(link, snr_db, seed, phy.backoff_rms, _parse_sets(sets), profile, device_args, path)
    meta = {"semcom:link_test": {"frames": frames, "symbols": symbols, "seed": seed, "snr_db": snr_db, "link": link}}
    with open_link(link, record=record, record_meta=meta, **cfg) as lk:
        res = transmit_frames(fr, lk, phy, timeout_s=timeout_s)
    _write(summarise(res, fr, link, snr_db if link != "replay" else None), json_path)


def _recorded_test(path: str, frames: int, symbols: int, seed: int) -> tuple[dict, int, int, int]:
    """The frame parameters stored by ``link test --record`` (else the command line's)."""
    from semcom_ota.link.sigmf_io import sigmf_base

    base = sigmf_base(path)
    meta_path = base.with_name(base.name + ".sigmf-meta")
    if meta_path.is_file():
        info = json.loads(meta_path.read_text()).get("global", {}).get("semcom:link_test")
        if info:
            return info, int(info["frames"]), int(info["symbols"]), int(info["seed"])
    return {}, frames, symbols, seed


def tx(
    link: str = typer.Option("zmq", "--link", help="zmq (PUSH binds --endpoint) or soapy (a radio profile)"),
    endpoint: str = typer.Option("tcp://127.0.0.1:5555", "--endpoint", help="zmq: where to bind the PUSH socket"),
    frames: int = typer.Option(50, "--frames", min=1),
    symbols: int = typer.Option(480, "--symbols", min=1),
    seed: int = typer.Option(0, "--seed", help="the receiver must use the same seed"),
    profile: Optional[str] = typer.Option(None, "--profile", help="soapy: device profile"),
    device_args: str = typer.Option("", "--device-args", help="soapy: extra device args"),
    wait_s: float = typer.Option(30.0, "--wait", help="zmq: how long to wait for a receiver"),
    sets: list[str] = typer.Option([], "--set", help="further link config KEY=VALUE"),
) -> None:
    """Transmit FRAMES frames of random symbols (the TX half of a two-process or two-radio link)."""
    from semcom_ota.link import open_link
    from semcom_ota.link.transport import send_frames
    from semcom_ota.phy import PhyConfig

    fr = _frames(frames, symbols, seed, None)
    extra = _parse_sets(sets)
    if link == "zmq":
        cfg = {"tx_bind": endpoint, "rx_connect": None, "send_timeout_s": wait_s, **extra}
    elif link == "soapy":
        cfg = {"profile": profile or "loopback", "device_args": device_args, "tx": True, "rx": False, **extra}
    else:
        raise typer.BadParameter(f"--link {link!r}: tx supports zmq and soapy")
    with open_link(link, **cfg) as lk:
        out = send_frames(fr, lk, PhyConfig())
    typer.echo(json.dumps(out))


def rx(
    link: str = typer.Option("zmq", "--link", help="zmq (PULL connects to --endpoint) or soapy"),
    endpoint: str = typer.Option("tcp://127.0.0.1:5555", "--endpoint", help="zmq: the transmitter's endpoint"),
    frames: int = typer.Option(50, "--frames", min=1, help="frames the transmitter sends"),
    symbols: int = typer.Option(480, "--symbols", min=1),
    seed: int = typer.Option(0, "--seed", help="the transmitter's seed"),
    profile: Optional[str] = typer.Option(None, "--profile", help="soapy: device profile"),
    device_args: str = typer.Option("", "--device-args", help="soapy: extra device args"),
    timeout_s: float = typer.Option(60.0, "--timeout", help="give up after this many seconds"),
    idle_s: float = typer.Option(2.0, "--idle", help="stop once samples stopped arriving for this long"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the summary here"),
    record: Optional[str] = typer.Option(None, "--record", help="record the received IQ as SigMF"),
    sets: list[str] = typer.Option([], "--set", help="further link config KEY=VALUE"),
) -> None:
    """Receive and demodulate the frames ``semcom tx`` sends; count and compare them."""
    from semcom_ota.link import open_link, transmit_frames
    from semcom_ota.phy import PhyConfig

    fr = _frames(frames, symbols, seed, None)
    extra = _parse_sets(sets)
    if link == "zmq":
        cfg = {"tx_bind": None, "rx_connect": endpoint, **extra}
    elif link == "soapy":
        cfg = {"profile": profile or "loopback", "device_args": device_args, "tx": False, "rx": True, **extra}
    else:
        raise typer.BadParameter(f"--link {link!r}: rx supports zmq and soapy")
    with open_link(link, record=record, **cfg) as lk:
        res = transmit_frames(fr, lk, PhyConfig(), timeout_s=timeout_s, send=False, idle_stop_s=idle_s)
    _write(summarise(res, fr, link, None), json_path)
