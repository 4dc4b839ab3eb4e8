"""The ZMQ sample sockets every ZMQ-based link uses, and the raw ``zmq`` link."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq
import zmq.auth

from semcom_ota.link import LinkError, open_link, random_frames, transmit_frames


def _recv_all(link, n, timeout_s=5.0):
    got, t0 = [], time.monotonic()
    while sum(g.size for g in got) < n and time.monotonic() - t0 < timeout_s:
        got.append(link.recv(0.05))
    return np.concatenate(got)


def test_raw_zmq_loopback_is_lossless_and_ordered():
    x = (np.arange(300_000) * (1 + 1j)).astype(np.complex64)
    with open_link("zmq", chunk_samples=4096, hwm=2) as link:
        assert link.tx_endpoint.startswith("tcp://127.0.0.1:")
        link.send(x)  # more than hwm x chunk: send drains RX while TX is blocked
        y = _recv_all(link, x.size)
    np.testing.assert_array_equal(y, x)


def test_message_not_multiple_of_8_bytes_is_rejected_and_counted():
    ctx = zmq.Context.instance()
    peer = ctx.socket(zmq.PUSH)
    peer.setsockopt(zmq.LINGER, 0)
    port = peer.bind_to_random_port("tcp://127.0.0.1")
    try:
        with open_link("zmq", tx_bind=None, rx_connect=f"tcp://127.0.0.1:{port}") as link:
            peer.send(b"\x00" * 13)
            peer.send(np.array([1 + 2j, 3 - 4j], np.complex64).tobytes())
            y = _recv_all(link, 2)
            assert y.tolist() == [1 + 2j, 3 - 4j]
            assert link.stats.problems["bad_message_length"] == 1
            assert link.sockets.messages_received == 2
    finally:
        peer.close(0)


def test_remote_endpoints_need_explicit_permission():
    with pytest.raises(LinkError, match="allow_remote"):
        open_link("zmq", tx_bind="tcp://0.0.0.0:*")
    with pytest.raises(ValueError, match="tx_bind='udp://x'"):
        open_link("zmq", tx_bind="udp://x")


def test_curve_encrypted_loopback(tmp_path, rng):
    pub, sec = zmq.auth.create_certificates(str(tmp_path), "server")
    with open_link("zmq", curve_server_secret=sec, curve_server_public=pub) as link:
        res = transmit_frames(random_frames(5, 120, rng), link, timeout_s=5)
    assert res.decoded == 5


def test_send_without_consumer_times_out():
    with open_link("zmq", rx_connect=None, send_timeout_s=0.3, hwm=1, chunk_samples=16) as link:
        t0 = time.monotonic()
        with pytest.raises(LinkError, match="made no progress"):
            link.send(np.zeros(64, np.complex64))  # no peer connected: nothing can leave
        assert time.monotonic() - t0 < 2.0
