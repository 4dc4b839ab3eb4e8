"""The Link contract (DESIGN §2, §4): ``send(samples)`` / ``recv(timeout_s) -> samples`` of complex64.

Backends register in :data:`links` by name (``sim``, ``gnuradio``, ``soapy``, ``replay``).
A link is a context manager; ``close()`` must leave no process, socket or stream behind.
"""

from __future__ import annotations

import abc
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from semcom_ota.frames import check_complex_1d
from semcom_ota.registry import Registry


@dataclass
class LinkStats:
    """Counters every backend keeps (samples, messages, and problems by reason)."""

    samples_sent: int = 0
    samples_received: int = 0
    problems: Counter = field(default_factory=Counter)  # e.g. {"underflow": 2, "bad_message_length": 1}


def check_samples(samples: np.ndarray, name: str = "samples") -> np.ndarray:
    """Validate a 1-D complex array and return it as contiguous complex64."""
    return check_complex_1d(samples, name)


class Link(abc.ABC):
    """One direction of a radio link carrying complex64 baseband samples."""

    name: str = ""

    def __init__(self) -> None:
        self.stats = LinkStats()

    @abc.abstractmethod
    def send(self, samples: np.ndarray) -> None:
        """Queue complex64 samples ``[n]`` for transmission."""

    @abc.abstractmethod
    def recv(self, timeout_s: float = 0.1) -> np.ndarray:
        """Return the complex64 samples received so far (possibly empty) within ``timeout_s``."""

    def close(self) -> None:
        """Release every resource (processes, sockets, streams)."""

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


links: Registry[Link] = Registry("link")
