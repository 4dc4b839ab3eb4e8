"""``gnuradio``: samples through a compiled GNU Radio flowgraph running as a subprocess, over ZMQ.

The flowgraph (``grc/loopback_channel.grc`` by default; any ``.grc`` with ``in_addr``/``out_addr``
parameters works) is compiled with ``grcc`` and started with the system Python (``/usr/bin/python3``,
where Debian's GNU Radio lives) in its own process group. This process binds a PUSH socket the
flowgraph's ZMQ PULL source connects to, and connects a PULL socket to the flowgraph's ZMQ PUSH sink.

Lifetime and faults: the link waits (bounded) until samples come back through the flowgraph; every
send/recv checks the process, so a dead flowgraph raises :class:`LinkError` with its exit code and
the tail of its output, or (``restart: true``) is restarted, counted as ``flowgraph_restart``. The
process group is terminated (SIGTERM -> the flowgraph's ``tb.stop(); tb.wait()``, then SIGKILL) on
``close()``, at interpreter exit, and by the kernel if this process dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from semcom_ota.config import validate_config
from semcom_ota.link.base import Link, check_samples, links
from semcom_ota.link.errors import LinkError
from semcom_ota.link.grc import compile_flowgraph, find_flowgraph, inspect_flowgraph
from semcom_ota.link.profiles import load_profile
from semcom_ota.link.zmq_link import SampleSocketConfig, SampleSockets

log = logging.getLogger(__name__)

_OPEN: "weakref.WeakSet[GnuRadioLink]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for link in list(_OPEN):
        try:
            link.close()
        except Exception:  # at exit: best effort, never raise
            pass


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: terminate the flowgraph if we die
    except OSError:
        pass


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def soapy_flowgraph_params(profile: str, side: str, device_args: str = "") -> dict[str, Any]:
    """Parameters of ``tx_soapy``/``rx_soapy`` from a device profile for one side (``tx`` or ``rx``)."""
    p = load_profile(profile)
    d = p.tx if side == "tx" else p.rx
    extra = p.device_args(device_args).split(",", 1)
    return {
        "driver": p.driver,
        "dev_args": extra[1] if len(extra) > 1 else "",
        "samp_rate": p.sample_rate_hz,
        "freq": p.center_freq_hz,
        "lo_offset": p.lo_offset_hz,
        "gain": sum(g.value_db for g in d.gains.values()),
        "bandwidth": p.bandwidth_hz or 0.0,
        "antenna": d.antenna or "",
    }


def _kill_group(p: subprocess.Popen, grace_s: float) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            os.killpg(p.pid, signal.SIGCONT)  # a stopped flowgraph must run to handle SIGTERM
        except ProcessLookupError:
            pass
        try:
            p.wait(grace_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(grace_s)
    else:
        try:  # the leader is gone; make sure nothing of its group is left
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class GnuRadioLinkConfig(SampleSocketConfig):
    """Configuration of the ``gnuradio`` link.

    flowgraph: stem of a ``grc/*.grc`` file (``loopback_channel``, ``loopback_fading``,
        ``loopback_passthrough``, ``tx_soapy``...) or a path to one.
    rx_flowgraph: a second flowgraph for the receive side (e.g. ``rx_soapy`` with ``flowgraph:
        tx_soapy``): then ``flowgraph`` takes the samples (``in_addr``) and ``rx_flowgraph`` gives
        them back (``out_addr``), each in its own process.
    profile: a device profile (``sdr/*.yaml``) for the gr-soapy (and UHD) flowgraphs: driver, device args,
        rate, centre frequency, LO offset, overall gain (sum of the elements), bandwidth and antenna
        of the TX side go to the flowgraph that takes samples, the RX side's to the one that gives them.
    device_args: extra device arguments (``k=v,...``) for the profile's device.
    snr_db: channel SNR (dB) with the project's definition ``P_s / N0``, ``P_s = tx_rms**2``;
        None = no noise. Passed to flowgraphs that declare ``snr_db``.
    tx_rms: RMS of the active transmitted samples (the PHY's ``backoff_rms``, 0.25 by default).
    cfo: carrier frequency offset in cycles per sample (|cfo| < 0.5).
    epsilon: sampling clock ratio of the channel model (1.0 = none).
    taps: complex channel taps.
    seed: noise seed (and fading seed) of the flowgraph.
    fd_ts: normalised maximum Doppler of the fading flowgraph (``loopback_fading``).
    params: further flowgraph parameters by name (e.g. ``device_args`` of ``tx_soapy``).
    host: address both ZMQ endpoints use (127.0.0.1 unless ``allow_remote``).
    zmq_timeout_ms: the flowgraph's ZMQ socket timeout (ms). 100 ms, not ~1 ms: a ZMQ source that
        times out returns no items and GNU Radio's thread-per-block scheduler then sleeps up to
        ~250 ms before calling it again, which measured as ~255 ms per-frame latency at 1 or 10 ms
        against < 1 ms at 100 ms (scripts/bench/link.py). Stopping still takes at most this long.
    ready_timeout_s: how long to wait for the first samples to come back after starting it.
    restart: restart a flowgraph that died (up to ``max_restarts``) instead of raising.
    python: interpreter that runs the generated script (must import ``gnuradio``).
    env: extra environment for the flowgraph (e.g. ``SOAPY_SDR_PLUGIN_PATH``).
    """

    flowgraph: str = "loopback_channel"
    rx_flowgraph: str | None = None
    profile: str | None = None
    device_args: str = ""
    snr_db: float | None = Field(None, ge=-50.0, le=200.0)
    tx_rms: float = Field(0.25, gt=0.0, le=10.0)
    cfo: float = Field(0.0, gt=-0.5, lt=0.5)
    epsilon: float = Field(1.0, gt=0.5, lt=2.0)
    taps: list[complex] = Field(default_factory=lambda: [1 + 0j], min_length=1, max_length=1024)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    fd_ts: float = Field(1e-4, ge=0.0, lt=0.5)
    params: dict[str, str | int | float] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    zmq_timeout_ms: int = Field(100, ge=1, le=10_000)
    ready_timeout_s: float = Field(30.0, gt=0.0, le=600.0)
    restart: bool = False
    max_restarts: int = Field(3, ge=0, le=100)
    python: str = "/usr/bin/python3"
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("taps", mode="before")
    @classmethod
    def _taps(cls, v: Any) -> Any:
        if isinstance(v, (int, float, complex, str)):
            v = [v]
        return [complex(t) if isinstance(t, str) else t for t in v]


@links.register("gnuradio")
class GnuRadioLink(Link):
    """A compiled GNU Radio flowgraph as a link (see the module doc).

    Parameters
    ----------
    config: :class:`GnuRadioLinkConfig` (or its keys as keyword arguments).

    ``send(x)``: complex64 ``[n]`` into the flowgraph (bounded wait, see ``send_timeout_s``).
    ``recv(timeout_s)``: complex64 ``[m]`` that came out of it so far (waits up to ``timeout_s`` if none).
    """

    name = "gnuradio"
    Config = GnuRadioLinkConfig

    def __init__(self, config: GnuRadioLinkConfig | None = None, **kw) -> None:
        super().__init__()
        self.config = config if config is not None else validate_config(GnuRadioLinkConfig, kw, "gnuradio link config")
        c = self.config
        self.grc_path = find_flowgraph(c.flowgraph)
        self.info = inspect_flowgraph(self.grc_path)
        self.rx_grc_path = find_flowgraph(c.rx_flowgraph) if c.rx_flowgraph else None
        self.rx_info = inspect_flowgraph(self.rx_grc_path) if self.rx_grc_path else None
        needs = [(self.grc_path, self.info, "in_addr")]
        needs.append((self.rx_grc_path, self.rx_info, "out_addr") if self.rx_info else (self.grc_path, self.info, "out_addr"))
        for path, info, need in needs:
            if need not in info.parameters:
                raise LinkError(f"flowgraph {path}: has no '{need}' parameter (expected ZMQ in/out endpoints)")
        self.script = compile_flowgraph(self.grc_path)
        self.rx_script = compile_flowgraph(self.rx_grc_path) if self.rx_grc_path else None
        self.proc: subprocess.Popen | None = None
        self.rx_proc: subprocess.Popen | None = None
        self._log_file = None
        self._rx_log_file = None
        self.restarts = 0
        self._closed = False
        self.sockets = SampleSockets(c, self.stats, f"tcp://{c.host}:*")
        _OPEN.add(self)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------------------ process
    def flowgraph_args(self, rx_side: bool = False) -> list[str]:
        """Command-line options for a generated script (only parameters the flowgraph declares).

        With two flowgraphs, a channel or ``params`` key goes to each one that declares it and must
        be declared by at least one.
        """
        c = self.config
        infos = [self.info] + ([self.rx_info] if self.rx_info else [])
        declared = (self.rx_info if rx_side else self.info).parameters
        known = set().union(*(i.parameters for i in infos))
        names = " and ".join(p.name for p in [self.grc_path, self.rx_grc_path] if p is not None)
        values: dict[str, Any] = {}
        channel = {
            "snr_db": 300.0 if c.snr_db is None else c.snr_db,
            "tx_rms": c.tx_rms,
            "cfo": c.cfo,
            "epsilon": c.epsilon,
            "taps": ",".join(repr(complex(t)).strip("()") for t in c.taps),
            "seed": c.seed,
            "fd_ts": c.fd_ts,
            "hwm": c.hwm,
            "timeout_ms": c.zmq_timeout_ms,
        }
        defaults = GnuRadioLinkConfig.model_fields
        for k, v in channel.items():
            if k in declared:
                values[k] = v
            elif (k not in known and k in c.model_fields_set and k in defaults
                  and getattr(c, k) != defaults[k].get_default(call_default_factory=True)):
                raise LinkError(f"{k}={getattr(c, k)!r}: flowgraph {names} has no '{k}' parameter "
                                f"(it declares {sorted(known)})")
        for k, v in c.params.items():
            if k not in known:
                raise LinkError(f"params.{k}={v!r}: flowgraph {names} has no such parameter "
                                f"(it declares {sorted(known)})")
            if k in declared:
                values[k] = v
        if c.profile and ("driver" in declared or "dev_args" in declared):  # gr-soapy or UHD flowgraphs
            takes = "in_addr" in declared and not (rx_side or "out_addr" in declared and "in_addr" not in declared)
            values.update({k: v for k, v in soapy_flowgraph_params(c.profile, "tx" if takes else "rx", c.device_args).items()
                           if k in declared and k not in c.params})
        args = []
        for k, v in values.items():
            args += [f"--{k.replace('_', '-')}", str(v)]
        return args

    def _spawn(self, script: Path, args: list[str]) -> tuple[subprocess.Popen, Any]:
        c = self.config
        log_file = tempfile.TemporaryFile(prefix="semcom-gr-")
        cmd = [c.python, "-u", str(script)] + args
        log.debug("starting flowgraph: %s", " ".join(cmd))
        env = {**os.environ, **c.env}
        if c.profile and load_profile(c.profile).driver == "loopback":
            from semcom_ota.link.soapy import loopback_plugin_dir

            env["SOAPY_SDR_PLUGIN_PATH"] = ":".join(x for x in (loopback_plugin_dir(), env.get("SOAPY_SDR_PLUGIN_PATH")) if x)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_set_pdeathsig, env=env)
        except OSError as err:
            log_file.close()
            raise LinkError(f"cannot start the flowgraph with {c.python!r}: {err} (is GNU Radio installed?)") from None
        return proc, log_file

    def _start(self) -> None:
        c = self.config
        last_err = ""
        for attempt in range(3):  # a free port can be taken between picking it and binding it
            out_addr = f"tcp://{c.host}:{free_tcp_port(c.host if c.host != 'localhost' else '127.0.0.1')}"
            for f in (self._log_file, self._rx_log_file):
                if f is not None:
                    f.close()
            self._log_file = self._rx_log_file = None
            if self.rx_script is None:
                args = ["--in-addr", self.sockets.tx_endpoint, "--out-addr", out_addr] + self.flowgraph_args()
                self.proc, self._log_file = self._spawn(self.script, args)
            else:
                self.rx_proc, self._rx_log_file = self._spawn(self.rx_script, ["--out-addr", out_addr] + self.flowgraph_args(True))
                self.proc, self._log_file = self._spawn(self.script, ["--in-addr", self.sockets.tx_endpoint] + self.flowgraph_args())
            self.sockets.connect_rx(out_addr)
            try:
                self._wait_ready()
                return
            except LinkError as err:
                last_err = str(err)
                self._kill()
                if "Address already in use" not in last_err:
                    raise
        raise LinkError(last_err)

    def _procs(self) -> list[tuple[str, subprocess.Popen, Any]]:
        out = []
        if self.proc is not None:
            out.append((self.grc_path.name, self.proc, self._log_file))
        if self.rx_proc is not None:
            out.append((self.rx_grc_path.name, self.rx_proc, self._rx_log_file))
        return out

    def _dead(self) -> tuple[str, int, int, str] | None:
        """(flowgraph name, pid, exit code, output tail) of the first flowgraph that has exited."""
        for name, p, f in self._procs():
            rc = p.poll()
            if rc is not None:
                return name, p.pid, rc, self._output_tail(f)
        return None

    def _output_tail(self, log_file: Any = None, n: int = 1500) -> str:
        files = [log_file] if log_file is not None else [f for f in (self._log_file, self._rx_log_file) if f is not None]
        out = []
        for f in files:
            try:
                f.seek(0)
                out.append(f.read().decode(errors="replace")[-n:])
            except (OSError, ValueError):
                pass
        return "\n".join(out)

    def _wait_ready(self) -> None:
        """Push zeros until samples come back through the flowgraph (bounded by ready_timeout_s)."""
        c = self.config
        t0 = time.monotonic()
        zeros = np.zeros(min(c.chunk_samples, 1024), np.complex64)
        import zmq

        while True:
            dead = self._dead()
            if dead is not None:
                raise LinkError(f"flowgraph {dead[0]} exited with code {dead[2]} while starting:\n{dead[3]}")
            if time.monotonic() - t0 > c.ready_timeout_s:
                raise LinkError(f"flowgraph {self.grc_path.name} produced no samples within ready_timeout_s="
                                f"{c.ready_timeout_s:g} s:\n{self._output_tail()}")
            try:
                self.sockets.push.send(zeros, zmq.NOBLOCK)
            except zmq.Again:
                pass
            if self.sockets.drain(0.02):
                break
        # discard what came back during warm-up (noise); what is still in flight is idle noise too
        self.sockets.drain(0.02)
        self.sockets.take()
        log.info("flowgraph %s ready after %.2f s (pid %d)", self.grc_path.name, time.monotonic() - t0, self.proc.pid)

    def alive(self) -> None:
        """Raise :class:`LinkError` (or restart, if configured) when the flowgraph process has exited."""
        if self._closed:
            raise LinkError("gnuradio link: used after close()")
        dead = self._dead()
        if dead is None and self.proc is not None:
            return
        name, pid, rc, tail = dead if dead is not None else (self.grc_path.name, "?", "?", "")
        msg = f"flowgraph {name} (pid {pid}) died with exit code {rc}"
        if self.config.restart and self.restarts < self.config.max_restarts:
            self.restarts += 1
            self.stats.problems["flowgraph_restart"] += 1
            log.warning("%s; restarting it (%d/%d); samples in flight are lost", msg, self.restarts, self.config.max_restarts)
            self._kill()
            self._start()
            return
        raise LinkError(f"{msg}; samples in flight are lost. Output tail:\n{tail}")

    def _kill(self, grace_s: float = 3.0) -> None:
        """Terminate every flowgraph process group (SIGTERM, then SIGKILL after ``grace_s``)."""
        for _, p, _ in self._procs():
            _kill_group(p, grace_s)
        self.proc = self.rx_proc = None

    # ------------------------------------------------------------------------------ Link
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def send(self, samples: np.ndarray) -> None:
        x = check_samples(samples)
        self.alive()
        try:
            self.sockets.send(x, alive=self.alive)
        except LinkError:
            self.alive()  # a dead flowgraph is the better explanation
            raise

    def recv(self, timeout_s: float = 0.1) -> np.ndarray:
        self.alive()
        out = self.sockets.receive(timeout_s)
        self.stats.samples_received += out.size
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._kill()
        finally:
            self.sockets.close()
            for f in (self._log_file, self._rx_log_file):
                if f is not None:
                    f.close()
            self._log_file = self._rx_log_file = None
            _OPEN.discard(self)
