"""Frame transport over the in-process ``sim`` link: accounting, matching, NMSE against the SNR."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from semcom_ota.frames import FrameMeta, FrameStatus, RxSemanticFrame
from semcom_ota.link import LinkError, open_link, random_frames, transmit_frames
from semcom_ota.link.base import Link
from semcom_ota.link.transport import _Matcher, active_rms, nmse_db


def test_sim_20db_all_decoded_nmse_matches_snr(rng):
    frames = random_frames(40, 480, rng)
    with open_link("sim", snr_db=20, seed=3) as link:
        res = transmit_frames(frames, link)
    assert res.sent == 40 and res.decoded == 40 and not res.lost
    assert [r.meta.seq for r in res.rx] == [f.meta.seq for f in frames]
    nmse = nmse_db(frames, res.rx)
    # unbiased MMSE-equalised symbols at SNR 20 dB over a flat channel: NMSE close to -SNR
    assert -22.5 < nmse < -18.0, nmse
    assert abs(res.snr_est_db - 20.0) < 1.5
    assert all(math.isfinite(v) and v >= 0 for v in res.latency_ms)
    assert res.samples >= sum(f.n for f in frames)


def test_low_snr_accounting_identity_holds(rng):
    frames = random_frames(30, 240, rng)
    with open_link("sim", snr_db=-6, seed=5) as link:
        res = transmit_frames(frames, link, timeout_s=2.0)
    assert res.sent == res.decoded + sum(res.lost.values()) == 30
    assert sum(res.lost.values()) > 0, "at -6 dB some headers must fail"
    assert set(res.lost) <= {s.value for s in FrameStatus}
    assert len(res.rx) == 30
    for f, r in zip(frames, res.rx):
        assert r.meta.seq == f.meta.seq
        if not r.status.decodable:
            assert not r.mask.any() and r.n == f.n


def _rx(seq: int, status=FrameStatus.OK, codec_id: int = 0) -> RxSemanticFrame:
    return RxSemanticFrame(np.zeros(4, np.complex64), np.ones(4, bool), np.zeros(4, np.float32), 10.0,
                           FrameMeta(codec_id=codec_id, seq=seq), status)


def test_matcher_wraps_seq_and_attributes_failures(rng):
    frames = random_frames(300, 4, rng)  # seq wraps at 256
    m = _Matcher(frames)
    for i in range(300):
        if i in (10, 11, 12):
            continue  # never detected ...
        m.add(_rx(i % 256), float(i))
        if i == 9:
            m.add(_rx(0, FrameStatus.CRC_FAIL), 9.5)  # ... but one of the gap had its header fail
    m.add(_rx(5, codec_id=3), 400.0)  # another codec's frame: no match
    rx = m.finish()
    assert len(rx) == 300
    st = Counter(r.status for r in rx)
    assert st[FrameStatus.OK] == 297 and st[FrameStatus.CRC_FAIL] == 1 and st[FrameStatus.TIMEOUT] == 2
    assert rx[10].status == FrameStatus.CRC_FAIL and rx[12].status == FrameStatus.TIMEOUT
    assert rx[299].status == FrameStatus.OK and m.arrival[299] == 299.0  # seq 43 after the wrap
    assert m.unmatched == Counter({"ok": 1})


def test_headerless_loss_is_attributed_to_the_gap_not_to_seq_0(rng):
    frames = random_frames(4, 4, rng)
    m = _Matcher(frames)
    m.add(_rx(0), 0.0)
    m.add(RxSemanticFrame.lost(FrameMeta(), 0, FrameStatus.BAD_SAMPLES), 1.0)  # default meta: seq 0
    m.add(_rx(2), 2.0)
    m.add(_rx(3), 3.0)
    rx = m.finish()
    assert [r.status for r in rx] == [FrameStatus.OK, FrameStatus.BAD_SAMPLES, FrameStatus.OK, FrameStatus.OK]
    assert not m.unmatched


def test_duplicate_output_does_not_double_count(rng):
    frames = random_frames(5, 4, rng)
    m = _Matcher(frames)
    for i in range(5):
        m.add(_rx(i), float(i))
    m.add(_rx(4), 9.0)
    rx = m.finish()
    assert all(r.status == FrameStatus.OK for r in rx) and m.unmatched["ok"] == 1


def test_sim_link_memory_bounded_when_nobody_reads():
    with open_link("sim", max_buffer_samples=10_000) as link:
        for _ in range(20):
            link.send(np.ones(1000, np.complex64))
        assert link.stats.problems["rx_overflow"] == 10_000
        assert link.recv().size == 10_000


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="snr"):
        open_link("sim", snr=3)
    with pytest.raises(KeyError, match="unknown link 'nope'"):
        open_link("nope")
    with open_link("sim") as link:
        with pytest.raises(TypeError, match="complex64"):
            link.send(np.ones(4))
        with pytest.raises(TypeError, match="frames\\[0\\]"):
            transmit_frames([object()], link)


def test_active_rms_ignores_idle_zeros():
    x = np.concatenate([np.zeros(100), 0.25 * np.ones(50)]).astype(np.complex64)
    assert active_rms(x) == pytest.approx(0.25)
    assert active_rms(np.zeros(3, np.complex64)) == 0.0


def test_link_error_is_runtime_error():
    assert issubclass(LinkError, RuntimeError) and issubclass(type(open_link("sim")), Link)
