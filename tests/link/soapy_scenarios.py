"""Hardware-path scenarios, each run by tests/link/test_soapy.py inside ``unshare -n`` (only ``lo``).

Every function asserts and exits non-zero on failure; nothing here is collected by pytest directly.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from semcom_ota.link import open_link, random_frames, transmit_frames
from semcom_ota.link.transport import nmse_db
from semcom_ota.phy import PhyConfig

RMS = PhyConfig().backoff_rms
NOISE_20DB = RMS * 10 ** (-20 / 20)  # total complex noise std for SNR 20 dB at the PHY's RMS


def soapy_direct_matches_sim() -> None:
    frames = random_frames(40, 240, np.random.default_rng(11))
    with open_link("soapy", profile="loopback", snr_db=20, seed=4, device_args="delay_samples=37") as link:
        assert f"noise_std={NOISE_20DB:.8g}" in link.args
        f = link.tuned_frequencies("rx")
        p = link.profile
        assert f["RF"] == p.center_freq_hz + p.lo_offset_hz and f["total"] == p.center_freq_hz, f  # offset tuning
        assert link.tx_mtu == 8192
        res = transmit_frames(frames, link)
    assert res.decoded == 40, res.summary()
    with open_link("sim", snr_db=20, seed=4) as link:
        ref = transmit_frames(frames, link)
    a, b = nmse_db(frames, res.rx), nmse_db(frames, ref.rx)
    assert abs(a - b) < 1.0, (a, b)
    print("soapy", a, "sim", b)


def soapy_return_codes_counted_and_survived() -> None:
    frames = random_frames(20, 240, np.random.default_rng(12))
    args = "rx_overflow_every=7,tx_underflow_every=3,rx_timeout_every=5,mtu=512"
    with open_link("soapy", profile="loopback", device_args=args) as link:
        res = transmit_frames(frames, link)
        pr = link.stats.problems
    assert res.decoded == 20, res.summary()
    assert pr["rx_overflow"] > 0 and pr["tx_underflow"] > 0 and pr["rx_timeout"] > 0, dict(pr)
    assert link.stats.samples_sent == res.samples  # every underflowed chunk was retried, none lost


def soapy_rx_only_link_times_out_cleanly() -> None:
    with open_link("soapy", profile="loopback", tx=False) as link:
        assert link.recv(0.05).size == 0
        try:
            link.send(np.zeros(4, np.complex64))
        except Exception as err:  # LinkError
            assert "tx=false" in str(err)
        else:
            raise AssertionError("send on an RX-only link must fail")


def gr_soapy_flowgraph_pair() -> None:
    frames = random_frames(30, 240, np.random.default_rng(13))
    fifo = os.path.join(tempfile.mkdtemp(), "air.fifo")
    with open_link("gnuradio", flowgraph="tx_soapy", rx_flowgraph="rx_soapy", profile="loopback",
                   device_args=f"fifo={fifo},noise_std={NOISE_20DB}") as link:
        pids = [link.proc.pid, link.rx_proc.pid]
        res = transmit_frames(frames, link)
    assert res.decoded == 30, res.summary()
    assert abs(res.snr_est_db - 20) < 1.5, res.snr_est_db
    for pid in pids:
        try:
            os.kill(pid, 0)
            raise AssertionError(f"flowgraph {pid} left running")
        except ProcessLookupError:
            pass


def soapy_timed_bursts() -> None:
    import yaml

    from semcom_ota.link.profiles import load_profile

    data = load_profile("loopback").model_dump()
    data.update({"name": "loopback_timed", "timed_bursts": True})
    path = os.path.join(tempfile.mkdtemp(), "loopback_timed.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    frames = random_frames(10, 240, np.random.default_rng(14))
    with open_link("soapy", profile=path, snr_db=25) as link:
        res = transmit_frames(frames, link)
        timed = int(link.dev.readSetting("timed_writes"))
        late = int(link.dev.readSetting("late_writes"))
        sends = link.timed_bursts_sent
    assert res.decoded == 10, res.summary()
    assert sends >= 11 and timed == sends and late == 0, (sends, timed, late)  # 10 frames + tail (+ idle flushes)


def uhd_without_radio_fails_clearly() -> None:
    import time

    from semcom_ota.link import LinkError

    t0 = time.monotonic()
    try:
        open_link("gnuradio", flowgraph="tx_uhd", rx_flowgraph="rx_uhd", profile="usrp_b210", ready_timeout_s=30)
    except LinkError as err:
        msg = str(err)
        assert "exited with code" in msg and "No devices found" in msg, msg[-800:]
    else:
        raise AssertionError("a UHD flowgraph pair started without a USRP")
    assert time.monotonic() - t0 < 60
