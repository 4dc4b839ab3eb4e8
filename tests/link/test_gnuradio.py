"""The ``gnuradio`` link: a compiled grc/*.grc flowgraph in a subprocess, samples over ZMQ."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from semcom_ota.link import LinkError, open_link, random_frames, transmit_frames
from semcom_ota.link.grc import compile_flowgraph, inspect_flowgraph
from semcom_ota.link.transport import nmse_db
from semcom_ota.phy import PhyConfig

pytestmark = [pytest.mark.gnuradio, pytest.mark.usefixtures("gnuradio_available")]

TX_RMS = PhyConfig().backoff_rms


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0); it is gone once reaped
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_flowgraphs_compile_and_declare_their_parameters(tmp_path):
    for name, must in [("loopback_channel", {"snr_db", "tx_rms", "cfo", "epsilon", "taps", "seed"}),
                       ("loopback_fading", {"snr_db", "fd_ts"}), ("loopback_passthrough", {"hwm"})]:
        script = compile_flowgraph(name)  # cached per content hash in grc/build/
        assert script.is_file() and "zeromq.pull_source" in script.read_text()
        info = inspect_flowgraph(_grc(name))
        assert must <= set(info.parameters) and {"in_addr", "out_addr"} <= set(info.parameters)
        assert "run_options: run" in _grc(name).read_text()
    # a fresh build directory compiles from scratch (atomically) and reuses the result
    first = compile_flowgraph("loopback_passthrough", out_dir=tmp_path)
    stamp = first.stat().st_mtime_ns
    assert compile_flowgraph("loopback_passthrough", out_dir=tmp_path).stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.parent.name]


def _grc(name):
    from semcom_ota.link.grc import find_flowgraph

    return find_flowgraph(name)


def test_200_frames_at_20db_none_lost_and_nmse_matches_sim(rng):
    frames = random_frames(200, 240, rng)
    with open_link("gnuradio", snr_db=20, tx_rms=TX_RMS, seed=7) as link:
        pid = link.pid
        res = transmit_frames(frames, link, timeout_s=20)
    assert _gone(pid), "the flowgraph outlived close()"
    assert res.sent == 200 and res.decoded == 200, res.summary()
    with open_link("sim", snr_db=20, seed=7) as link:
        ref = transmit_frames(frames, link)
    assert ref.decoded == 200
    gr_nmse, sim_nmse = nmse_db(frames, res.rx), nmse_db(frames, ref.rx)
    assert abs(gr_nmse - sim_nmse) < 1.0, (gr_nmse, sim_nmse)
    assert abs(res.snr_est_db - 20.0) < 1.5


def test_cfo_and_multipath_through_channel_model(rng):
    frames = random_frames(20, 240, rng)
    with open_link("gnuradio", snr_db=25, tx_rms=TX_RMS, cfo=0.002, taps=[1, "0.3j", 0.1], seed=3) as link:
        res = transmit_frames(frames, link, timeout_s=10)
    assert res.decoded == 20, res.summary()
    assert nmse_db(frames, res.rx) < -15.0


def test_fading_flowgraph_carries_frames(rng):
    frames = random_frames(20, 240, rng)
    with open_link("gnuradio", flowgraph="loopback_fading", snr_db=30, tx_rms=TX_RMS, fd_ts=1e-5, seed=2) as link:
        res = transmit_frames(frames, link, timeout_s=10)
    assert res.sent == res.decoded + sum(res.lost.values())
    assert res.decoded >= 15, res.summary()


def test_killed_flowgraph_raises_clear_error_quickly(rng):
    link = open_link("gnuradio", snr_db=20, tx_rms=TX_RMS, send_timeout_s=2.0)
    try:
        link.send(np.zeros(1000, np.complex64))
        os.killpg(link.pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(LinkError, match="died with exit code"):
            for _ in range(1000):
                link.send(np.zeros(4096, np.complex64))
                link.recv(0.01)
        assert time.monotonic() - t0 < 5.0
    finally:
        link.close()


def test_killed_flowgraph_restarts_when_asked(rng):
    frames = random_frames(30, 240, rng)
    with open_link("gnuradio", snr_db=25, tx_rms=TX_RMS, restart=True) as link:
        first = transmit_frames(frames[:10], link, timeout_s=10)
        old = link.pid
        os.killpg(old, signal.SIGKILL)
        time.sleep(0.2)
        second = transmit_frames(frames[10:], link, timeout_s=10)
        assert link.pid != old and _gone(old)
        assert link.stats.problems["flowgraph_restart"] == 1
    assert first.decoded == 10 and second.decoded >= 18, second.summary()


def test_hung_flowgraph_send_times_out_and_close_still_cleans_up():
    link = open_link("gnuradio", tx_rms=TX_RMS, send_timeout_s=1.0, hwm=2, chunk_samples=1024)
    pid = link.pid
    try:
        os.killpg(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(LinkError, match="made no progress"):
            for _ in range(10_000):
                link.send(np.zeros(1024, np.complex64))
        assert time.monotonic() - t0 < 4.0
    finally:
        link.close()
    assert _gone(pid)


def test_memory_bounded_when_producer_outruns_consumer():
    with open_link("gnuradio", flowgraph="loopback_passthrough", rx_buffer_max_samples=50_000) as link:
        x = np.ones(20_000, np.complex64)
        for _ in range(50):  # 1 M samples, nobody reads
            link.send(x)
        assert link.sockets.buffered <= 50_000
        assert link.stats.problems["rx_overflow"] > 0
        assert link.recv(0.1).size <= 50_000 + 20_000


def test_undeclared_flowgraph_parameter_is_rejected():
    with pytest.raises(LinkError, match="cfo=0.1: flowgraph loopback_passthrough.grc has no 'cfo' parameter"):
        open_link("gnuradio", flowgraph="loopback_passthrough", cfo=0.1)
    with pytest.raises(LinkError, match="params.bogus"):
        open_link("gnuradio", params={"bogus": 1})
    with pytest.raises(FileNotFoundError, match="flowgraph 'nope'"):
        open_link("gnuradio", flowgraph="nope")
