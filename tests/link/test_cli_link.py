"""`semcom link test`, `semcom tx` / `semcom rx` (two processes over ZMQ)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from semcom_ota.cli.main import app
from semcom_ota.link.gnuradio import free_tcp_port

runner = CliRunner()
KEYS = {"sent", "decoded", "lost", "nmse_db", "snr_est_db", "throughput_msps", "latency_ms"}


def test_link_test_sim_record_and_replay(tmp_path):
    out = tmp_path / "sim.json"
    rec = tmp_path / "rec" / "sim"
    r = runner.invoke(app, ["link", "test", "--link", "sim", "--frames", "12", "--symbols", "240", "--snr-db", "15",
                            "--seed", "3", "--json", str(out), "--record", str(rec)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert KEYS <= set(d) and d["sent"] == 12 and d["decoded"] == 12 and d["lost"] == {}
    assert -17.5 < d["nmse_db"] < -13.0 and abs(d["snr_est_db"] - 15) < 1.5
    # the replay finds the frame parameters in the recording and decodes the same frames
    out2 = tmp_path / "replay.json"
    r = runner.invoke(app, ["link", "test", "--link", "replay", "--path", str(rec) + ".sigmf-meta", "--json", str(out2)])
    assert r.exit_code == 0, r.output
    d2 = json.loads(out2.read_text())
    assert d2["sent"] == 12 and d2["decoded"] == 12 and d2["nmse_db"] == pytest.approx(d["nmse_db"], abs=0.01)


def test_link_test_rejects_unknown_link_and_bad_set():
    r = runner.invoke(app, ["link", "test", "--link", "carrier-pigeon"])
    assert r.exit_code != 0 and "carrier-pigeon" in r.output
    r = runner.invoke(app, ["link", "test", "--link", "sim", "--set", "nokeyvalue"])
    assert r.exit_code != 0 and "KEY=VALUE" in r.output


def test_tx_and_rx_in_two_processes(tmp_path):
    ep = f"tcp://127.0.0.1:{free_tcp_port()}"
    out = tmp_path / "rx.json"
    cmd = [sys.executable, "-m", "semcom_ota.cli.main"]
    rx = subprocess.Popen(cmd + ["rx", "--endpoint", ep, "--frames", "15", "--symbols", "240", "--seed", "5",
                                 "--json", str(out), "--timeout", "60", "--idle", "2"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        tx = subprocess.run(cmd + ["tx", "--endpoint", ep, "--frames", "15", "--symbols", "240", "--seed", "5"],
                            capture_output=True, text=True, timeout=90)
        assert tx.returncode == 0, tx.stderr
        assert json.loads(tx.stdout.strip().splitlines()[-1])["sent"] == 15
        rx_out, _ = rx.communicate(timeout=90)
    finally:
        if rx.poll() is None:
            rx.kill()
    assert rx.returncode == 0, rx_out
    d = json.loads(out.read_text())
    assert d["sent"] == 15 and d["decoded"] == 15 and d["nmse_db"] < -40  # no channel: only the PHY's own error


@pytest.mark.gnuradio
@pytest.mark.usefixtures("gnuradio_available")
def test_link_test_gnuradio(tmp_path):
    out = tmp_path / "gr.json"
    r = runner.invoke(app, ["link", "test", "--link", "gnuradio", "--frames", "20", "--symbols", "240", "--snr-db", "20",
                            "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["decoded"] == 20 and abs(d["nmse_db"] + 20) < 2.0
