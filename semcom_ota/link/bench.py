"""Link benchmarks: sustained sample throughput and per-frame latency, each beside its baseline.

- **Sustained Msps** (samples only, no PHY): N complex64 samples pushed through a link and received
  back, for the raw pyzmq PUSH->PULL loopback (the ceiling of every ZMQ link), the GNU Radio
  flowgraph without a channel model (``loopback_passthrough``), with ``channels.channel_model``
  (``loopback_channel``), and the in-process ``sim`` link.
- **Frame latency**: one frame at a time (modulate, send with idle padding, receive, demodulate), ms
  from handing the burst to the link until the demodulator returns it; the PHY alone (modulate +
  demodulate, no link) is the baseline.
- **Frames end to end**: :func:`~semcom_ota.link.transport.transmit_frames` over each link.

Run ``python scripts/bench/link.py`` or ``semcom bench link``.
"""

from __future__ import annotations

import math
import platform
import os
import time
from typing import Any

import numpy as np

from semcom_ota.frames import SemanticFrame


def sustained_msps(link_name: str, n_samples: int, block: int = 65536, timeout_s: float = 120.0, **cfg: Any) -> float:
    """Push ``n_samples`` through ``open_link(link_name, **cfg)`` and back; return Msps (sent / wall)."""
    from semcom_ota.link import open_link

    rng = np.random.default_rng(0)
    x = ((rng.standard_normal(block) + 1j * rng.standard_normal(block)) * 0.25).astype(np.complex64)
    with open_link(link_name, **cfg) as link:
        link.recv(0.05)  # drain warm-up leftovers
        got = 0
        sent = 0
        t0 = time.perf_counter()
        while sent < n_samples:
            link.send(x)
            sent += x.size
            got += link.recv(0.0).size
        deadline = time.perf_counter() + timeout_s
        while got < sent - 1000 and time.perf_counter() < deadline:  # the channel model drops a few samples
            got += link.recv(0.05).size
        wall = time.perf_counter() - t0
    if got < sent - 1000:
        raise RuntimeError(f"{link_name}: only {got} of {sent} samples came back within {timeout_s} s")
    return sent / wall / 1e6


def _frame(rng: np.random.Generator, n_symbols: int, seq: int) -> SemanticFrame:
    from semcom_ota.link import random_frames

    return random_frames(1, n_symbols, rng, first_seq=seq)[0]


def frame_latency_ms(link_name: str | None, n_frames: int, n_symbols: int, **cfg: Any) -> list[float]:
    """Per-frame latency (ms), one frame in flight at a time; ``link_name=None``: PHY only (no link)."""
    from semcom_ota.link import open_link
    from semcom_ota.phy import Demodulator, Modulator, PhyConfig

    phy = PhyConfig()
    mod, demod = Modulator(phy), Demodulator(phy)
    rng = np.random.default_rng(1)
    gap = np.zeros(400, np.complex64)
    tail = np.zeros(2048, np.complex64)
    out: list[float] = []
    link = open_link(link_name, **cfg) if link_name else None
    try:
        if link is not None:
            link.recv(0.05)
        for i in range(n_frames):
            f = _frame(rng, n_symbols, i)
            t0 = time.perf_counter()
            x = np.concatenate([gap, mod.modulate(f), tail])
            found = False

            def feed(y: np.ndarray) -> bool:
                # in pieces of at most 1024 samples, stopping at the frame: every link is measured the
                # same way, whatever chunks it delivers (the tail after the frame is not counted)
                for k in range(0, y.size, 1024):
                    if any(r.meta.seq == f.meta.seq and r.status.decodable for r in demod.feed(y[k:k + 1024])):
                        return True
                return False

            if link is None:
                found = feed(x)
                for _ in range(20):  # the streaming demodulator may want a little more after the frame
                    if found:
                        break
                    found = feed(np.zeros(512, np.complex64))
            else:
                link.send(x)
                deadline = t0 + 5.0
                while not found and time.perf_counter() < deadline:
                    y = link.recv(0.01)
                    if y.size:
                        found = feed(y)
                    else:
                        link.send(np.zeros(512, np.complex64))  # idle: keep the channel fed
            out.append((time.perf_counter() - t0) * 1e3 if found else math.nan)
    finally:
        if link is not None:
            link.close()
    return out


def frames_end_to_end(link_name: str, n_frames: int, n_symbols: int, **cfg: Any) -> dict[str, Any]:
    from semcom_ota.link import open_link, random_frames, transmit_frames

    frames = random_frames(n_frames, n_symbols, np.random.default_rng(2))
    with open_link(link_name, **cfg) as link:
        t0 = time.perf_counter()
        res = transmit_frames(frames, link, timeout_s=30)
        wall = time.perf_counter() - t0
    return {"decoded": res.decoded, "sent": res.sent, "frames_per_s": res.sent / wall, "msps": res.samples / wall / 1e6}


def run(n_samples: int = 5_000_000, n_frames: int = 30, n_symbols: int = 480, snr_db: float = 20.0,
        repeats: int = 3) -> dict[str, Any]:
    """Print the three tables (best of ``repeats`` interleaved runs per row) and return the figures."""
    from semcom_ota.phy import PhyConfig

    rms = PhyConfig().backoff_rms
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at start; "
          f"n_samples={n_samples}, frames={n_frames} x {n_symbols} symbols, SNR {snr_db:g} dB, best of {repeats}")
    links = [
        ("raw pyzmq PUSH->PULL (ceiling)", "zmq", {}),
        ("GNU Radio, no channel model", "gnuradio", {"flowgraph": "loopback_passthrough"}),
        ("GNU Radio, channels.channel_model", "gnuradio", {"flowgraph": "loopback_channel", "snr_db": snr_db, "tx_rms": rms}),
        ("sim (in-process AWGN)", "sim", {"snr_db": snr_db, "seed": 0}),
    ]
    figures: dict[str, Any] = {"sustained_msps": {}, "latency_ms": {}, "frames": {}}

    best: dict[str, float] = {}
    for _ in range(repeats):  # interleaved, so that load changes hit every row alike
        for label, name, cfg in links:
            best[label] = max(best.get(label, 0.0), sustained_msps(name, n_samples, **cfg))
    print("\n| link | sustained Msps | vs raw pyzmq |\n|---|---:|---:|")
    base = best[links[0][0]]
    for label, _, _ in links:
        figures["sustained_msps"][label] = best[label]
        print(f"| {label} | {best[label]:.2f} | {best[label] / base:.2f} |", flush=True)

    lat_links = [("PHY only (modulate + demodulate, no link)", None, {})] + list(links)
    lat: dict[str, tuple[float, float, int, int]] = {}
    for _ in range(repeats):
        for label, name, cfg in lat_links:
            v = np.array(frame_latency_ms(name, n_frames, n_symbols, **cfg))
            ok = v[np.isfinite(v)]
            med = float(np.median(ok)) if ok.size else math.nan
            if label not in lat or med < lat[label][0]:
                lat[label] = (med, float(np.percentile(ok, 90)) if ok.size else math.nan, int(ok.size), int(v.size))
    print("\n| link | frame latency median ms | p90 ms | decoded | vs PHY only |\n|---|---:|---:|---:|---:|")
    phy_med = lat[lat_links[0][0]][0]
    for label, _, _ in lat_links:
        med, p90, n_ok, n = lat[label]
        figures["latency_ms"][label] = {"median": med, "p90": p90, "decoded": n_ok, "n": n}
        print(f"| {label} | {med:.1f} | {p90:.1f} | {n_ok}/{n} | {med / phy_med:.2f} |", flush=True)

    fr: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for label, name, cfg in links:
            r = frames_end_to_end(name, max(n_frames, 100), n_symbols, **cfg)
            if label not in fr or r["frames_per_s"] > fr[label]["frames_per_s"]:
                fr[label] = r
    print("\n| link | frames decoded | frames/s | Msps (with idle padding) |\n|---|---:|---:|---:|")
    for label, _, _ in links:
        r = fr[label]
        figures["frames"][label] = r
        print(f"| {label} | {r['decoded']}/{r['sent']} | {r['frames_per_s']:.1f} | {r['msps']:.3f} |", flush=True)
    return figures


def cli(n_samples: int = 5_000_000, n_frames: int = 30, n_symbols: int = 480, snr_db: float = 20.0, repeats: int = 3) -> None:
    """Links: sustained Msps (GNU Radio with/without channel model, sim) beside raw pyzmq; frame latency beside the PHY alone."""
    run(n_samples=n_samples, n_frames=n_frames, n_symbols=n_symbols, snr_db=snr_db, repeats=repeats)
