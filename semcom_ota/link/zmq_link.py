"""Complex64 samples over ZMQ PUSH/PULL, and the ``zmq`` link (two processes or two hosts).

GNU Radio 3.10.5's ZMQ sources only connect and its sinks only bind (DESIGN §4), so the Python side
*binds* its PUSH (TX) socket and *connects* its PULL (RX) socket. Messages are raw complex64: a
message whose length is not a multiple of 8 bytes would silently kill a GNU Radio source, so such
messages are rejected here and counted (``bad_message_length``).

Memory is bounded everywhere: the sockets' high-water marks count messages (``hwm`` x
``chunk_samples``), and the receive buffer keeps at most ``rx_buffer_max_samples`` (the oldest are
dropped and counted as ``rx_overflow`` when the consumer does not read). A send that cannot make
progress for ``send_timeout_s`` raises :class:`~semcom_ota.link.errors.LinkError`; nothing blocks forever.

Endpoints bind to 127.0.0.1 unless configured; binding any other address needs ``allow_remote: true``
and may be encrypted with ZMQ CURVE (``curve_server_secret`` on the binding side, a certificate file
written by ``zmq.auth.create_certificates``; ``curve_server_public`` on the connecting side).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import Callable
from urllib.parse import urlparse

import numpy as np
import zmq
import zmq.auth
from pydantic import Field, field_validator, model_validator

from semcom_ota.config import StrictModel, validate_config
from semcom_ota.link.base import Link, LinkStats, check_samples, links
from semcom_ota.link.errors import LinkError

log = logging.getLogger(__name__)

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def endpoint_is_local(endpoint: str) -> bool:
    """True for ``ipc://``/``inproc://`` endpoints and TCP endpoints on the loopback interface."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0]
    return host in _LOCAL_HOSTS


def check_endpoint(endpoint: str, what: str) -> str:
    """Validate a ZMQ endpoint string (``tcp://host:port``, ``ipc://path``, ``inproc://name``)."""
    if not isinstance(endpoint, str) or not endpoint.startswith(("tcp://", "ipc://", "inproc://")):
        raise ValueError(f"{what}={endpoint!r}: expected a ZMQ endpoint such as 'tcp://127.0.0.1:5555'")
    if endpoint.startswith("tcp://"):
        u = urlparse(endpoint)
        port = endpoint.rsplit(":", 1)[-1]
        if not u.hostname or not (port == "*" or port.isdigit()):
            raise ValueError(f"{what}={endpoint!r}: expected 'tcp://HOST:PORT' (PORT a number, or '*' when binding)")
    return endpoint


class SampleSocketConfig(StrictModel):
    """Socket settings shared by every ZMQ-based link.

    hwm: high-water mark of each socket, in messages (not samples).
    chunk_samples: complex samples per outgoing message.
    send_timeout_s: a send that makes no progress for this long raises ``LinkError``.
    rx_buffer_max_samples: received samples kept until ``recv``; older ones are dropped and counted.
    allow_remote: permit binding/connecting to addresses other than the loopback interface.
    curve_server_secret: path of a ZMQ CURVE secret certificate (binding side encrypts).
    curve_server_public: path of the binding side's public certificate (connecting side).
    """

    hwm: int = Field(4, ge=1, le=100_000)
    chunk_samples: int = Field(4096, ge=16, le=1 << 22)
    send_timeout_s: float = Field(5.0, gt=0.0, le=3600.0)
    rx_buffer_max_samples: int = Field(8_000_000, ge=1024)
    allow_remote: bool = False
    curve_server_secret: str | None = None
    curve_server_public: str | None = None


class SampleSockets:
    """A PUSH socket that binds (TX) and a PULL socket that connects (RX), carrying complex64.

    Parameters
    ----------
    cfg: :class:`SampleSocketConfig`.
    stats: the owning link's :class:`LinkStats` (problems are counted there).
    tx_bind: endpoint to bind the PUSH socket to (``tcp://127.0.0.1:*`` picks a free port), or None.
    """

    def __init__(self, cfg: SampleSocketConfig, stats: LinkStats, tx_bind: str | None) -> None:
        self.cfg = cfg
        self.stats = stats
        self.ctx = zmq.Context()
        self.push: zmq.Socket | None = None
        self.pull: zmq.Socket | None = None
        self.tx_endpoint: str | None = None
        self.rx_endpoint: str | None = None
        self._buf: deque[np.ndarray] = deque()
        self._buffered = 0
        self.messages_received = 0
        if tx_bind is not None:
            self._check_remote(tx_bind, "tx_bind")
            self.push = self.ctx.socket(zmq.PUSH)
            self.push.setsockopt(zmq.SNDHWM, cfg.hwm)
            self.push.setsockopt(zmq.LINGER, 0)
            if cfg.curve_server_secret:
                public, secret = zmq.auth.load_certificate(cfg.curve_server_secret)
                if secret is None:
                    raise LinkError(f"curve_server_secret={cfg.curve_server_secret!r}: the file holds no secret key")
                self.push.curve_secretkey = secret
                self.push.curve_publickey = public
                self.push.curve_server = True
            try:
                self.push.bind(tx_bind)
            except zmq.ZMQError as err:
                self.close()
                raise LinkError(f"cannot bind the TX PUSH socket to {tx_bind!r}: {err}") from None
            self.tx_endpoint = self.push.getsockopt(zmq.LAST_ENDPOINT).decode()

    def _check_remote(self, endpoint: str, what: str) -> None:
        check_endpoint(endpoint, what)
        if not endpoint_is_local(endpoint) and not self.cfg.allow_remote:
            raise LinkError(
                f"{what}={endpoint!r} is not on the loopback interface: set allow_remote: true to use a remote "
                "endpoint (and preferably curve_server_secret/curve_server_public to encrypt it)"
            )

    def connect_rx(self, endpoint: str) -> None:
        """(Re)connect the PULL socket to ``endpoint`` (a previous connection is dropped)."""
        self._check_remote(endpoint, "rx endpoint")
        if self.pull is not None:
            self.pull.close(0)
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.RCVHWM, self.cfg.hwm)
        self.pull.setsockopt(zmq.LINGER, 0)
        if self.cfg.curve_server_public:
            server_public, _ = zmq.auth.load_certificate(self.cfg.curve_server_public)
            public, secret = zmq.curve_keypair()
            self.pull.curve_serverkey = server_public
            self.pull.curve_publickey = public
            self.pull.curve_secretkey = secret
        self.pull.connect(endpoint)
        self.rx_endpoint = endpoint

    # ------------------------------------------------------------------------------------------ rx
    def _accept(self, msg: bytes | memoryview) -> None:
        n = len(msg)
        self.messages_received += 1
        if n % 8:
            self.stats.problems["bad_message_length"] += 1
            log.warning("dropped a ZMQ message of %d bytes (expected a multiple of 8: complex64 samples)", n)
            return
        if n == 0:
            return
        x = np.frombuffer(msg, dtype=np.complex64).copy()
        self._buf.append(x)
        self._buffered += x.size
        while self._buffered > self.cfg.rx_buffer_max_samples:
            old = self._buf.popleft()
            self._buffered -= old.size
            self.stats.problems["rx_overflow"] += old.size

    def drain(self, timeout_s: float = 0.0) -> int:
        """Move every waiting message into the receive buffer (waiting up to ``timeout_s`` for the first)."""
        if self.pull is None:
            return 0
        got = 0
        if timeout_s > 0 and not self.pull.poll(int(math.ceil(timeout_s * 1000))):
            return 0
        while True:
            try:
                msg = self.pull.recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return got
            self._accept(msg.buffer)
            got += 1

    def take(self) -> np.ndarray:
        """Every buffered sample (complex64 ``[m]``), emptying the buffer."""
        if not self._buf:
            return np.zeros(0, np.complex64)
        out = np.concatenate(list(self._buf)) if len(self._buf) > 1 else self._buf[0]
        self._buf.clear()
        self._buffered = 0
        return out

    @property
    def buffered(self) -> int:
        return self._buffered

    def receive(self, timeout_s: float) -> np.ndarray:
        """What a link's ``recv`` returns: every buffered sample, waiting up to ``timeout_s`` for new
        messages only when nothing is buffered yet."""
        self.drain(timeout_s if not self._buffered else 0.0)
        return self.take()

    # ------------------------------------------------------------------------------------------ tx
    def send(self, samples: np.ndarray, alive: Callable[[], None] | None = None) -> None:
        """Send complex64 ``[n]`` in ``chunk_samples`` messages, draining RX while TX is blocked.

        ``alive`` is called while waiting; it raises if the peer process died.
        """
        if self.push is None:
            raise LinkError("this link has no TX socket (tx_bind is None)")
        x = check_samples(samples)
        step = self.cfg.chunk_samples
        for i in range(0, x.size, step):
            msg = x[i:i + step]
            deadline = time.monotonic() + self.cfg.send_timeout_s
            while True:
                try:
                    self.push.send(msg, zmq.NOBLOCK, copy=False)
                    break
                except zmq.Again:
                    pass
                if alive is not None:
                    alive()
                if time.monotonic() > deadline:
                    raise LinkError(
                        f"send to {self.tx_endpoint} made no progress for {self.cfg.send_timeout_s:g} s: "
                        "the peer is not consuming samples (stopped, hung, or not connected)"
                    )
                # wait for room on TX or data on RX (whichever first), up to 5 ms
                poller = zmq.Poller()
                poller.register(self.push, zmq.POLLOUT)
                if self.pull is not None:
                    poller.register(self.pull, zmq.POLLIN)
                events = dict(poller.poll(5))
                if self.pull is not None and self.pull in events:
                    self.drain()
            self.stats.samples_sent += msg.size
        self.drain()

    def close(self) -> None:
        for s in (self.push, self.pull):
            if s is not None:
                s.close(0)
        self.push = self.pull = None
        self.ctx.term()
        self._buf.clear()
        self._buffered = 0


class ZmqLinkConfig(SampleSocketConfig):
    """The ``zmq`` link: raw ZMQ endpoints, no flowgraph.

    tx_bind: PUSH endpoint to bind (``tcp://127.0.0.1:*`` = a free port), or None for an RX-only link.
    rx_connect: PULL endpoint to connect; ``"self"`` = this link's own TX endpoint (a raw pyzmq
        loopback, the throughput ceiling of every ZMQ link), or None for a TX-only link.
    """

    tx_bind: str | None = "tcp://127.0.0.1:*"
    rx_connect: str | None = "self"

    @field_validator("tx_bind")
    @classmethod
    def _tx(cls, v: str | None) -> str | None:
        return None if v is None else check_endpoint(v, "tx_bind")

    @field_validator("rx_connect")
    @classmethod
    def _rx(cls, v: str | None) -> str | None:
        return v if v in (None, "self") else check_endpoint(v, "rx_connect")

    @model_validator(mode="after")
    def _some(self) -> "ZmqLinkConfig":
        if self.tx_bind is None and self.rx_connect in (None, "self"):
            raise ValueError("tx_bind=None needs rx_connect set to an endpoint (got no TX and no RX)")
        return self


@links.register("zmq")
class ZmqLink(Link):
    """Samples over raw ZMQ: ``semcom tx`` binds a PUSH socket, ``semcom rx`` connects a PULL socket.

    Parameters
    ----------
    config: :class:`ZmqLinkConfig` (or its keys as keyword arguments).
    """

    name = "zmq"
    Config = ZmqLinkConfig

    def __init__(self, config: ZmqLinkConfig | None = None, **kw) -> None:
        super().__init__()
        self.config = config if config is not None else validate_config(ZmqLinkConfig, kw, "zmq link config")
        self.sockets = SampleSockets(self.config, self.stats, self.config.tx_bind)
        rx = self.config.rx_connect
        if rx == "self":
            rx = self.sockets.tx_endpoint
        if rx is not None:
            self.sockets.connect_rx(rx)

    @property
    def tx_endpoint(self) -> str | None:
        return self.sockets.tx_endpoint

    def send(self, samples: np.ndarray) -> None:
        self.sockets.send(samples)

    def recv(self, timeout_s: float = 0.1) -> np.ndarray:
        out = self.sockets.receive(timeout_s)
        self.stats.samples_received += out.size
        return out

    def close(self) -> None:
        self.sockets.close()
