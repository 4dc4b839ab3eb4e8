"""PHY throughput benchmark: our OFDM modulator/demodulator (NumPy, the receiver's hot paths in numba
kernels) beside GNU Radio 3.10's stock OFDM chain (``gnuradio.digital.ofdm_tx`` / ``ofdm_rx``) on
comparable frames, each pinned to one core.

Frames are comparable in air time: GNU Radio sends a packet of ``B`` bytes (+ CRC-32) as QPSK on its
48 data subcarriers, i.e. ``4(B+4)`` resource elements; we send ``n = 4(B+4)`` analog symbols on our
48 data subcarriers, so both payloads span the same number of 64-point OFDM symbols. Both receivers
get the same kind of input: bursts separated by zeros, AWGN at ``snr_db``.

Throughput is samples in (RX) or out (TX) per second of CPU time of the process (all of GNU Radio's
threads included) and per second of wall time, with the process pinned to one core. On a shared
machine the CPU-time figure is the meaningful one.

Run: ``.venv/bin/python scripts/bench/phy.py`` or ``semcom bench phy [--json FILE]``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

log = logging.getLogger(__name__)

#: packet sizes (bytes) of the default comparison. GNU Radio 3.10.5's ofdm_tx stalls (no output) above
#: about 2000 bytes (a whole packet must fit one work call), so the longest size is ours only.
DEFAULT_PACKET_BYTES = (96, 500, 2000, 4000)


@dataclass
class BenchRow:
    """One measurement: ``impl`` (ours / gnuradio), ``direction`` (tx / rx), payload size."""

    impl: str
    direction: str
    packet_bytes: int
    payload_re: int
    frames: int
    frames_ok: int
    samples: int
    cpu_s: float
    wall_s: float
    warmup_s: float = 0.0  # ours, RX: compiling / loading the numba kernels before timing (excluded)

    @property
    def msps_cpu(self) -> float:
        return self.samples / max(self.cpu_s, 1e-12) / 1e6

    @property
    def msps_wall(self) -> float:
        return self.samples / max(self.wall_s, 1e-12) / 1e6

    def as_dict(self) -> dict:
        d = asdict(self)
        d["msps_cpu"] = round(self.msps_cpu, 3)
        d["msps_wall"] = round(self.msps_wall, 3)
        return d


def _pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def _timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def _noise(rng: np.random.Generator, x: np.ndarray, snr_db: float, power: float) -> np.ndarray:
    n0 = power / 10 ** (snr_db / 10)
    w = (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) * np.sqrt(n0 / 2)
    return (x + w).astype(np.complex64)


def _frames(rng: np.random.Generator, n: int, count: int) -> list:
    """``count`` frames of ``n`` unit-power complex Gaussian symbols (sequence numbers 0, 1, ...)."""
    from semcom_ota.frames import FrameMeta, SemanticFrame

    return [
        SemanticFrame(((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64), [n], FrameMeta(seq=i % 256))
        for i in range(count)
    ]


def measure_ours(packet_bytes: int, total_samples: int, snr_db: float, repeats: int, seed: int = 0) -> list[BenchRow]:
    """TX and RX throughput of :class:`Modulator` / :class:`Demodulator` (best of ``repeats``).

    Before timing, the receiver's numba kernels are compiled or loaded from their cache
    (:func:`~semcom_ota.phy.demodulator.compile_kernels`, one short burst); that time is excluded
    from the throughput and reported as the RX row's ``warmup_s``."""
    from semcom_ota.phy import Demodulator, Modulator, PhyConfig
    from semcom_ota.phy.demodulator import compile_kernels

    cfg = PhyConfig()
    warmup_s = compile_kernels(cfg)
    rng = np.random.default_rng(seed)
    n = 4 * (packet_bytes + 4)
    mod = Modulator(cfg)
    frames = _frames(rng, n, max(4, total_samples // mod.layout.burst_len(n)))
    n_frames = len(frames)
    best_tx = None
    for _ in range(repeats):
        bursts, c, w = _timed(lambda: [mod.modulate(f) for f in frames])
        if best_tx is None or c < best_tx[0]:
            best_tx = (c, w)
    x = np.concatenate(bursts)
    tx = BenchRow("ours", "tx", packet_bytes, n, n_frames, n_frames, x.size, *best_tx)
    y = _noise(rng, x, snr_db, cfg.backoff_rms**2)
    chunk = 65536

    def run_rx():
        d = Demodulator(cfg)
        out = []
        for i in range(0, y.size, chunk):
            out += d.feed(y[i : i + chunk])
        return out + d.flush()

    best_rx = None
    for _ in range(repeats):
        out, c, w = _timed(run_rx)
        if best_rx is None or c < best_rx[1]:
            best_rx = (out, c, w)
    ok = sum(f.status.value == "ok" for f in best_rx[0])
    rx = BenchRow("ours", "rx", packet_bytes, n, n_frames, ok, y.size, best_rx[1], best_rx[2], warmup_s)
    return [tx, rx]


#: receiver stages timed by :func:`profile_rx`: (module, attribute path) of functions and methods
RX_STAGES = (
    ("semcom_ota.phy.demodulator", "Demodulator.feed"),
    ("semcom_ota.phy.demodulator", "Demodulator._process"),
    ("semcom_ota.phy.demodulator", "Demodulator._run_frames"),
    ("semcom_ota.phy.demodulator", "frames_kernel"),
    ("semcom_ota.phy.demodulator", "Demodulator._first_hit"),
    ("semcom_ota.phy.demodulator", "coarse_detect"),
    ("semcom_ota.phy.demodulator", "Demodulator._candidate"),
    ("semcom_ota.phy.demodulator", "frame_kernel"),
    ("semcom_ota.phy.demodulator", "Demodulator._finish"),
    ("semcom_ota.phy.demodulator", "finish_kernel"),
    ("semcom_ota.phy.demodulator", "RxSemanticFrame"),
    ("semcom_ota.phy.demodulator", "meta_from_word"),
)


def profile_rx(packet_bytes: int, total_samples: int = 1_000_000, snr_db: float = 20.0, repeats: int = 5, seed: int = 0) -> dict:
    """Where the receiver's time goes: the stream of :func:`measure_ours` is demodulated ``repeats``
    times with a CPU-time timer (``time.thread_time``: robust to other jobs on a shared machine)
    around each of :data:`RX_STAGES`; returns ``{"frames", "samples",
    "total_us", "stages": {name: us}}``, times per frame, exclusive of the timed stages called
    inside (so they add up to the total), the minimum over the repeats. The timers themselves
    add about 1 µs per call."""
    import importlib

    from semcom_ota.phy import Demodulator, Modulator, PhyConfig
    from semcom_ota.phy.demodulator import compile_kernels

    cfg = PhyConfig()
    compile_kernels(cfg)  # compile / load the numba kernels before timing
    rng = np.random.default_rng(seed)
    n = 4 * (packet_bytes + 4)
    mod = Modulator(cfg)
    n_frames = max(4, total_samples // mod.layout.burst_len(n))
    x = np.concatenate([mod.modulate(f) for f in _frames(rng, n, n_frames)])
    y = _noise(rng, x, snr_db, cfg.backoff_rms**2)
    acc: dict[str, float] = {}
    stack: list[float] = []

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.thread_time()
            stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                dt = time.thread_time() - t
                inner = stack.pop()
                acc[name] = acc.get(name, 0.0) + dt - inner
                if stack:
                    stack[-1] += dt

        return wrapper

    saved = []
    for module, path in RX_STAGES:
        owner = importlib.import_module(module)
        *parents, attr = path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, timed(path.split(".")[-1], getattr(owner, attr)))
    best: dict[str, float] = {}
    total = float("inf")
    try:
        for _ in range(repeats):
            acc.clear()
            d = Demodulator(cfg)
            t = time.thread_time()
            for i in range(0, y.size, 65536):
                d.feed(y[i : i + 65536])
            d.flush()
            total = min(total, time.thread_time() - t)
            for k, v in acc.items():
                best[k] = min(best.get(k, float("inf")), v)
    finally:
        for owner, attr, fn in saved:
            setattr(owner, attr, fn)
    per = 1e6 / n_frames
    return {
        "frames": n_frames,
        "samples": int(y.size),
        "total_us": total * per,
        "stages": {k: v * per for k, v in sorted(best.items(), key=lambda kv: -kv[1])},
    }


def format_profile(packet_bytes: int, prof: dict) -> str:
    """Table of :func:`profile_rx`: stage, µs per frame, share of the sum of the stages."""
    tot = sum(prof["stages"].values())
    lines = [
        f"## RX profile, {4 * (packet_bytes + 4)}-symbol frames: {prof['frames']} frames, {prof['samples']} samples, "
        f"{prof['total_us']:.0f} µs per frame (timed; sum of stage minima {tot:.0f} µs)",
        "| stage | µs per frame | share |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v:.1f} | {100 * v / tot:.1f} % |" for k, v in prof["stages"].items()]
    return "\n".join(lines)


def _least_cpu(run_graph, repeats: int) -> tuple[float, float, object]:
    """``repeats`` runs of ``run_graph() -> (sink, cpu_s, wall_s)``; the one with the least CPU time
    as ``(cpu_s, wall_s, sink)``."""
    best = None
    for _ in range(repeats):
        snk, c, w = run_graph()
        if best is None or c < best[0]:
            best = (c, w, snk)
    return best


def _run_flowgraph(tb, sink, expected: int | None, idle_s: float = 1.5, timeout_s: float = 900.0) -> tuple[float, float]:
    """Start ``tb`` and wait until ``sink`` has consumed ``expected`` items (or made no progress for
    ``idle_s``: ``ofdm_rx``'s message loop keeps the graph alive after its input ends). Returns CPU
    and wall seconds up to the last item."""
    c0, w0 = time.process_time(), time.perf_counter()
    tb.start()
    last = -1
    c_last, w_last = c0, w0
    while True:
        time.sleep(0.005)
        n = int(sink.nitems_read(0))
        now = time.perf_counter()
        if n != last:
            last, c_last, w_last = n, time.process_time(), now
            if expected is not None and n >= expected:
                break
        elif now - w_last > idle_s or now - w0 > timeout_s:
            break
    tb.stop()
    tb.wait()
    return c_last - c0, w_last - w0


def measure_gnuradio(packet_bytes: int, total_samples: int, snr_db: float, repeats: int, seed: int = 0) -> list[BenchRow]:
    """TX and RX throughput of GNU Radio's ``digital.ofdm_tx`` / ``digital.ofdm_rx`` (QPSK payload,
    BPSK header, their default 64-FFT numerology: 48 data + 4 pilot subcarriers, CP 16)."""
    import pmt
    from gnuradio import blocks, digital, gr

    rng = np.random.default_rng(seed)
    key = "packet_len"
    burst_est = (4 * (packet_bytes + 4) // 48 + 4) * 80
    n_pkts = max(4, total_samples // burst_est)
    buf_items = 1 << int(np.ceil(np.log2(4 * burst_est)))
    payload = rng.integers(0, 256, packet_bytes * n_pkts, dtype=np.uint8)

    def tx_graph():
        tb = gr.top_block()
        src = blocks.vector_source_b(payload.tolist(), False)
        s2t = blocks.stream_to_tagged_stream(gr.sizeof_char, 1, packet_bytes, key)
        tx = digital.ofdm_tx(packet_length_tag_key=key, bps_header=1, bps_payload=2, rolloff=0)
        tx.set_min_output_buffer(buf_items)  # tagged-stream blocks need a whole packet per call
        snk = blocks.vector_sink_c()
        tb.connect(src, s2t, tx, snk)
        c, w = _run_flowgraph(tb, snk, None)
        return snk, c, w

    best_tx = _least_cpu(tx_graph, repeats)
    x = np.asarray(best_tx[2].data(), np.complex64)
    bursts = [t for t in best_tx[2].tags() if pmt.symbol_to_string(t.key) == key]
    tx = BenchRow("gnuradio", "tx", packet_bytes, 4 * (packet_bytes + 4), n_pkts, len(bursts), x.size, best_tx[0], best_tx[1])
    # the receiver gets bursts separated by 160 zeros (like our guards), scaled to the same RMS, plus AWGN
    starts = sorted(int(t.offset) for t in bursts) + [x.size]
    parts = []
    for a, b in zip(starts[:-1], starts[1:]):
        parts += [np.zeros(160, np.complex64), x[a:b]]
    y = np.concatenate(parts + [np.zeros(160, np.complex64)])
    active = y[y != 0]
    y = y * np.float32(0.25 / np.sqrt(np.mean(np.abs(active) ** 2)))
    y = _noise(rng, y, snr_db, 0.25**2)

    def rx_graph():
        tb = gr.top_block()
        src = blocks.vector_source_c(y.tolist(), False)
        rx = digital.ofdm_rx(bps_header=1, bps_payload=2, packet_length_tag_key=key, frame_length_tag_key="frame_len")
        rx.set_min_output_buffer(buf_items)
        snk = blocks.vector_sink_b()
        tb.connect(src, rx, snk)
        c, w = _run_flowgraph(tb, snk, n_pkts * packet_bytes)
        return snk, c, w

    best_rx = _least_cpu(rx_graph, repeats)
    got = len(best_rx[2].data()) // packet_bytes
    rx = BenchRow("gnuradio", "rx", packet_bytes, 4 * (packet_bytes + 4), n_pkts, got, y.size, best_rx[0], best_rx[1])
    return [tx, rx]


def _worker(impl: str, packet_bytes: int, total_samples: int, snr_db: float, repeats: int, core: int | None) -> None:
    """Subprocess entry: pin to one core, measure, print JSON rows."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _pin(core)
    fn = measure_ours if impl == "ours" else measure_gnuradio
    rows = fn(packet_bytes, total_samples, snr_db, repeats)
    print(json.dumps([asdict(r) for r in rows]))


def run_isolated(impl: str, packet_bytes: int, total_samples: int, snr_db: float, repeats: int, core: int | None) -> list[BenchRow]:
    """Measure ``impl`` in a fresh process pinned to ``core`` (GNU Radio: system-wide, visible from the venv)."""
    exe = sys.executable  # the venv sees the system-wide GNU Radio (system site packages)
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); from semcom_ota.phy.bench import _worker; "
        "_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), "
        "None if sys.argv[7] == 'none' else int(sys.argv[7]))"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=root)
    args = [exe, "-c", code, root, impl, str(packet_bytes), str(total_samples), str(snr_db), str(repeats), "none" if core is None else str(core)]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} benchmark failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    return [BenchRow(**r) for r in rows]


def format_rows(rows: list[BenchRow]) -> str:
    """Side-by-side table: per packet size and direction, ours beside GNU Radio."""
    lines = [
        "| payload (bytes -> REs) | direction | ours Msps (CPU) | GNU Radio Msps (CPU) | ours Msps (wall) | GNU Radio Msps (wall) | frames ok ours / GR |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    key = {(r.impl, r.direction, r.packet_bytes): r for r in rows}
    for pb in sorted({r.packet_bytes for r in rows}):
        for d in ("tx", "rx"):
            o, g = key.get(("ours", d, pb)), key.get(("gnuradio", d, pb))
            if o is None:
                continue
            if g is not None and g.frames_ok == 0:
                g = None  # GNU Radio produced nothing at this size (see DEFAULT_PACKET_BYTES)
            gc = f"{g.msps_cpu:.2f}" if g else "n/a"
            gw = f"{g.msps_wall:.2f}" if g else "n/a"
            ok = f"{o.frames_ok}/{o.frames} / " + (f"{g.frames_ok}/{g.frames}" if g else "n/a")
            lines.append(f"| {pb} -> {o.payload_re} | {d.upper()} | {o.msps_cpu:.2f} | {gc} | {o.msps_wall:.2f} | {gw} | {ok} |")
    return "\n".join(lines)


def run(
    packet_bytes: tuple[int, ...] = DEFAULT_PACKET_BYTES,
    total_samples: int = 1_000_000,
    snr_db: float = 20.0,
    repeats: int = 3,
    core: int | None = 0,
    gnuradio: bool = True,
) -> list[BenchRow]:
    """Measure ours and (if installed) GNU Radio for each packet size; returns all rows."""
    rows: list[BenchRow] = []
    for pb in packet_bytes:
        rows += run_isolated("ours", pb, total_samples, snr_db, repeats, core)
        if gnuradio:
            try:
                rows += run_isolated("gnuradio", pb, total_samples, snr_db, repeats, core)
            except (RuntimeError, subprocess.TimeoutExpired) as err:
                log.warning("GNU Radio baseline unavailable: %s", err)
                gnuradio = False
    return rows


def cli(
    json_path: str | None = None,
    packet_bytes: str = ",".join(map(str, DEFAULT_PACKET_BYTES)),
    total_samples: int = 1_000_000,
    snr_db: float = 20.0,
    repeats: int = 3,
    core: int = 0,
    no_gnuradio: bool = False,
    profile: bool = False,
) -> None:
    """Print the table (and write JSON rows to ``json_path``); with ``profile``, print instead the
    receiver's time per stage (:func:`profile_rx`, in this process pinned to ``core``)."""
    sizes = tuple(int(s) for s in str(packet_bytes).split(",") if s.strip())
    if not sizes or any(s < 1 or s > 4000 for s in sizes):
        raise ValueError(f"packet_bytes={packet_bytes!r}: expected comma-separated sizes in 1..4000")
    if profile:
        _pin(core)
        profs = {pb: profile_rx(pb, total_samples, snr_db, max(repeats, 1)) for pb in sizes}
        for pb, prof in profs.items():
            print(format_profile(pb, prof))
        if json_path:
            with open(json_path, "w") as fh:
                json.dump({"profile": {str(pb): p for pb, p in profs.items()}, "snr_db": snr_db, "core": core}, fh, indent=1)
            print(f"# wrote {json_path}")
        return
    rows = run(sizes, total_samples, snr_db, repeats, core, not no_gnuradio)
    print(f"# PHY throughput, one core (pinned to CPU {core}), AWGN {snr_db:g} dB, best of {repeats}")
    print(format_rows(rows))
    warm = [r.warmup_s for r in rows if r.impl == "ours" and r.direction == "rx"]
    if warm:
        print(f"# RX kernels compiled/loaded before timing (excluded): {', '.join(f'{w:.2f}' for w in warm)} s per process")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump({"rows": [r.as_dict() for r in rows], "snr_db": snr_db, "core": core}, fh, indent=1)
        print(f"# wrote {json_path}")
