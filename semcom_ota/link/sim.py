"""``sim``: the in-process link: samples go through :class:`semcom_ota.channel.sim.ChannelSimulator`.

Each ``send`` call passes its buffer through the channel (CFO phase and phase noise continue across
calls; see the simulator's doc for fading) and queues the result for ``recv``. Nothing leaves the
process; it is the reference every other link is compared against.
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
from pydantic import Field

from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator
from semcom_ota.config import validate_config
from semcom_ota.link.base import Link, check_samples, links

log = logging.getLogger(__name__)


class SimLinkConfig(ChannelConfig):
    """Every :class:`~semcom_ota.channel.sim.ChannelConfig` key (snr_db, fading, cfo_hz, ...) plus:

    max_buffer_samples: received samples kept for ``recv`` at most; beyond that the oldest are
        dropped and counted as ``rx_overflow`` (memory stays bounded when nobody reads).
    """

    max_buffer_samples: int = Field(20_000_000, ge=1)

    def channel(self) -> ChannelConfig:
        return ChannelConfig(**self.model_dump(exclude={"max_buffer_samples"}))


@links.register("sim")
class SimLink(Link):
    """In-process channel simulator link.

    Parameters
    ----------
    config: :class:`SimLinkConfig` (or its keys as keyword arguments).

    ``send(x)``: complex64 ``[n]`` -> channel -> queued. ``recv(timeout_s)``: everything queued
    (complex64 ``[m]``), never waits (the channel has no latency).
    """

    name = "sim"
    Config = SimLinkConfig

    def __init__(self, config: SimLinkConfig | None = None, **kw) -> None:
        super().__init__()
        if config is None:
            config = validate_config(SimLinkConfig, kw, "sim link config")
        elif kw:
            raise TypeError(f"SimLink: pass either a config or keyword arguments, not both (got {sorted(kw)})")
        self.config = config
        self.channel = ChannelSimulator(config.channel())
        self._queue: deque[np.ndarray] = deque()
        self._queued = 0
        self._closed = False
        self._seen_signal = False

    def send(self, samples: np.ndarray) -> None:
        if self._closed:
            raise RuntimeError("sim link: send() after close()")
        x = check_samples(samples)
        if x.size == 0:
            return
        if not np.all(np.isfinite(x.view(np.float32))):
            self.stats.problems["nonfinite_tx_samples"] += 1
            x = np.nan_to_num(x)
        active = bool(np.any(x))
        self._seen_signal |= active
        if self.config.snr_db is not None and self.config.signal_power is None and not self._seen_signal:
            # an idle (all-zero) buffer before any signal: P_s undefined; pass zeros through the channel
            # without noise (the PHY's guard) rather than fail
            y = x.copy()
        else:
            y = self.channel.apply(x)
        self.stats.samples_sent += x.size
        self._queue.append(y)
        self._queued += y.size
        while self._queued > self.config.max_buffer_samples and self._queue:
            old = self._queue.popleft()
            self._queued -= old.size
            self.stats.problems["rx_overflow"] += old.size

    def recv(self, timeout_s: float = 0.1) -> np.ndarray:
        if not self._queue:
            return np.zeros(0, np.complex64)
        out = np.concatenate(list(self._queue)) if len(self._queue) > 1 else self._queue[0]
        self._queue.clear()
        self._queued = 0
        self.stats.samples_received += out.size
        return out

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._queued = 0
