"""Frame transport over any :class:`~semcom_ota.link.base.Link` (used by every evaluation and the demo).

:func:`transmit_frames` modulates :class:`~semcom_ota.frames.SemanticFrame` objects with the OFDM PHY,
sends them with idle zero padding between bursts (so the channel adds noise between frames), feeds
whatever comes back to the streaming demodulator, matches the received frames to the sent ones by
header sequence number and codec id, and accounts for every frame: ``sent == decoded + sum(lost)``.

Example
-------
>>> from semcom_ota.link import open_link, transmit_frames
>>> with open_link("sim", snr_db=20, seed=1) as link:          # doctest: +SKIP
...     res = transmit_frames(frames, link)
>>> res.sent == res.decoded + sum(res.lost.values())          # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from semcom_ota.frames import MAX_SEQ, FrameMeta, FrameStatus, RxSemanticFrame, SemanticFrame
from semcom_ota.link.base import Link

log = logging.getLogger(__name__)

#: Statuses whose header fields cannot be trusted: such outputs are attributed to a gap, not by seq.
_UNATTRIBUTABLE = (FrameStatus.CRC_FAIL, FrameStatus.SYNC_FAIL)


@dataclass
class TransportResult:
    """What :func:`transmit_frames` returns.

    Attributes
    ----------
    rx: one :class:`RxSemanticFrame` per sent frame, in the order of the sent frames; a frame that
        was not decoded is ``RxSemanticFrame.lost(meta, n, reason)``.
    sent, decoded: frame counts; ``decoded`` counts statuses that are decodable (ok, truncated).
    lost: ``Counter`` of reasons (``FrameStatus`` values) for the frames that were not decoded.
    samples: complex samples sent (bursts plus idle padding).
    samples_received: complex samples that came back from the link.
    wall_s: wall-clock seconds from the first send to the last receive.
    throughput_msps: ``samples / wall_s / 1e6``.
    latency_ms: per sent frame, ms from handing its burst to the link to the demodulator returning
        it (``nan`` for lost frames).
    snr_est_db: mean of the PHY's SNR estimates (dB) over decoded frames (``nan`` if none).
    unmatched: receiver outputs that matched no sent frame (duplicates, false detections), by status.
    link_problems: the link's problem counters after the run (under/overflows, bad messages, ...).
    """

    rx: list[RxSemanticFrame]
    sent: int
    decoded: int
    lost: Counter
    samples: int
    samples_received: int
    wall_s: float
    throughput_msps: float
    latency_ms: list[float]
    snr_est_db: float
    unmatched: Counter = field(default_factory=Counter)
    link_problems: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.sent != self.decoded + sum(self.lost.values()):
            raise AssertionError(
                f"frame accounting broken: sent={self.sent} != decoded={self.decoded} + lost={dict(self.lost)}"
            )

    @property
    def mean_latency_ms(self) -> float:
        vals = [v for v in self.latency_ms if math.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def summary(self) -> dict[str, Any]:
        """JSON-friendly dict: counts, lost by reason, throughput, mean latency, SNR estimate."""
        return {
            "sent": self.sent,
            "decoded": self.decoded,
            "lost": {str(k): int(v) for k, v in sorted(self.lost.items())},
            "samples": self.samples,
            "samples_received": self.samples_received,
            "wall_s": round(self.wall_s, 4),
            "throughput_msps": _finite_or_none(self.throughput_msps),
            "latency_ms": _finite_or_none(self.mean_latency_ms),
            "snr_est_db": _finite_or_none(self.snr_est_db),
            "unmatched": {str(k): int(v) for k, v in sorted(self.unmatched.items())},
            "link_problems": {str(k): int(v) for k, v in sorted(self.link_problems.items())},
        }


def _finite_or_none(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def nmse_db(frames: Sequence[SemanticFrame], rx: Sequence[RxSemanticFrame]) -> float:
    """NMSE (dB) of the received symbols against the sent ones, over received (masked-in) symbols
    of decodable frames: ``10 log10(sum |r - s|² / sum |s|²)``; ``nan`` when nothing was received."""
    if len(frames) != len(rx):
        raise ValueError(f"nmse_db: {len(frames)} sent frames but {len(rx)} received entries (expected equal)")
    err = 0.0
    ref = 0.0
    for f, r in zip(frames, rx):
        if not r.status.decodable:
            continue
        n = min(f.n, r.n)
        m = r.mask[:n]
        if not m.any():
            continue
        s = f.symbols[:n][m]
        err += float(np.sum(np.abs(r.symbols[:n][m] - s) ** 2))
        ref += float(np.sum(np.abs(s) ** 2))
    return 10.0 * math.log10(err / ref) if ref > 0 and err > 0 else (float("-inf") if ref > 0 else float("nan"))


def random_frames(n_frames: int, n_symbols: int, rng: np.random.Generator, codec_id: int = 0, n_tiers: int = 1,
                  snr_db: float = 10.0, first_seq: int = 0) -> list[SemanticFrame]:
    """``n_frames`` frames of random unit-power complex Gaussian symbols (``codec_id`` 0: raw symbols,
    the payload of link tests), sequence numbers ``first_seq, first_seq+1, ...`` (mod 256)."""
    if n_frames < 0 or n_symbols < 1:
        raise ValueError(f"random_frames(n_frames={n_frames}, n_symbols={n_symbols}): expected n_frames >= 0, n_symbols >= 1")
    if not 1 <= n_tiers <= n_symbols:
        raise ValueError(f"random_frames: n_tiers={n_tiers}, expected 1..n_symbols={n_symbols}")
    tiers = [int(round(n_symbols * (k + 1) / n_tiers)) for k in range(n_tiers)]
    out = []
    for i in range(n_frames):
        s = (rng.standard_normal(n_symbols) + 1j * rng.standard_normal(n_symbols)) / np.sqrt(2.0)
        out.append(SemanticFrame(s.astype(np.complex64), tiers, FrameMeta(codec_id=codec_id, seq=first_seq + i, snr_db=snr_db)))
    return out


def active_rms(samples: np.ndarray) -> float:
    """RMS of the non-zero samples (the SNR convention's ``sqrt(P_s)``); 0.0 for an all-zero buffer."""
    a = samples[samples != 0]
    return float(np.sqrt(np.mean(np.abs(a) ** 2))) if a.size else 0.0


class _Matcher:
    """Assigns receiver outputs (in arrival order) to sent frames by (seq, codec_id), in order.

    A header-carrying output matches the earliest not-yet-passed sent frame with its seq and codec id
    within the next 256 frames (sequence numbers wrap at 256). Sent frames skipped over are lost:
    as many as there were unattributable outputs (CRC or sync failures) since the previous match get
    that reason, the rest ``TIMEOUT`` (never detected).
    """

    def __init__(self, frames: Sequence[SemanticFrame]) -> None:
        self.frames = frames
        self.rx: list[RxSemanticFrame | None] = [None] * len(frames)
        self.arrival: list[float] = [math.nan] * len(frames)
        self.next = 0
        self.pending_fail: list[FrameStatus] = []
        self.unmatched: Counter = Counter()

    @property
    def done(self) -> bool:
        return self.next >= len(self.frames)

    def _fill_gap(self, upto: int) -> None:
        for j in range(self.next, upto):
            reason = self.pending_fail.pop(0) if self.pending_fail else FrameStatus.TIMEOUT
            f = self.frames[j]
            self.rx[j] = RxSemanticFrame.lost(f.meta, f.n, reason)
        self.pending_fail.clear()

    def add(self, r: RxSemanticFrame, t: float) -> int | None:
        """Take one receiver output; returns the index of the sent frame it matched (or None)."""
        if r.status in _UNATTRIBUTABLE or (not r.status.decodable and r.n == 0):
            # no trustworthy header (a lost frame of length 0 was given a default meta): attribute by gap
            self.pending_fail.append(r.status)
            return None
        hi = min(len(self.frames), self.next + MAX_SEQ + 1)
        for j in range(self.next, hi):
            m = self.frames[j].meta
            if m.seq == r.meta.seq and m.codec_id == r.meta.codec_id:
                self._fill_gap(j)
                self.rx[j] = _with_tx_bookkeeping(r, m)
                self.arrival[j] = t
                self.next = j + 1
                return j
        self.unmatched[r.status.value] += 1
        return None

    def finish(self) -> list[RxSemanticFrame]:
        self._fill_gap(len(self.frames))
        return [r for r in self.rx if r is not None]


def _with_tx_bookkeeping(r: RxSemanticFrame, tx: FrameMeta) -> RxSemanticFrame:
    """Header fields as received; ``content_shape``/``extra`` (never sent over the air) from the TX meta
    so that a codec on the same host can decode without its model card."""
    if not r.meta.content_shape and tx.content_shape:
        r.meta = FrameMeta(codec_id=r.meta.codec_id, seq=r.meta.seq, snr_db=r.meta.snr_db, n_tiers=r.meta.n_tiers,
                           flags=r.meta.flags, content_shape=tuple(tx.content_shape), extra=dict(tx.extra))
    return r


def transmit_frames(
    frames: Sequence[SemanticFrame],
    link: Link,
    phy: Any | None = None,
    timeout_s: float = 10.0,
    gap_samples: int = 400,
    tail_samples: int = 4096,
    flush_chunk: int = 2048,
    poll_s: float = 0.0,
    send: bool = True,
    idle_stop_s: float | None = None,
) -> TransportResult:
    """Send ``frames`` over ``link`` and receive them back through the PHY.

    Parameters
    ----------
    frames: the :class:`SemanticFrame` objects to send (seq numbers are the caller's; they identify
        frames at the receiver together with ``codec_id``).
    link: an open link (``sim``, ``gnuradio``, ``soapy``, ``replay``...). For ``replay`` the TX side
        is ignored and the recording is demodulated.
    phy: :class:`semcom_ota.phy.PhyConfig` (TX and RX use the same); default ``PhyConfig()``.
    timeout_s: after the last burst is handed to the link, how long to wait for the rest (seconds).
    gap_samples: idle zeros sent before each burst (the PHY's own guards come on top).
    tail_samples: idle zeros sent after the last burst; more idle zeros (``flush_chunk`` each) keep
        going out while waiting so that samples held inside a flowgraph or driver come out.
    poll_s: receive timeout used between bursts (0 = take whatever is there).
    send: False = receive only (another process or host transmits ``frames``; ``semcom rx``):
        the frames are the reference the received ones are matched and compared to.
    idle_stop_s: receive-only: stop once samples have arrived and then none for this long.

    Returns
    -------
    :class:`TransportResult` with ``rx`` aligned to ``frames`` and the accounting identity checked.
    """
    from semcom_ota.phy import Demodulator, Modulator, PhyConfig

    if not isinstance(link, Link):
        raise TypeError(f"link: expected a semcom_ota.link.base.Link, got {type(link).__name__}")
    if timeout_s <= 0 or gap_samples < 0 or tail_samples < 0 or flush_chunk < 1:
        raise ValueError(
            f"transmit_frames: timeout_s={timeout_s}, gap_samples={gap_samples}, tail_samples={tail_samples}, "
            f"flush_chunk={flush_chunk}: expected timeout_s > 0, gaps >= 0, flush_chunk >= 1"
        )
    for i, f in enumerate(frames):
        if not isinstance(f, SemanticFrame):
            raise TypeError(f"frames[{i}]: expected a SemanticFrame, got {type(f).__name__}")
    phy = phy if phy is not None else PhyConfig()
    mod = Modulator(phy)
    demod = Demodulator(phy)
    matcher = _Matcher(frames)
    gap = np.zeros(gap_samples, np.complex64)
    sent_at = [math.nan] * len(frames)
    n_sent = 0
    n_recv = 0
    replay = getattr(link, "is_replay", False) or not send
    burst_len = [0] * len(frames)
    note_tx = getattr(link, "note_tx_frame", None)  # a recording link annotates frames
    note_rx = getattr(link, "note_rx_frame", None)

    def handle(outputs: list[RxSemanticFrame], now: float) -> None:
        for r in outputs:
            j = matcher.add(r, now)
            if note_rx is not None:
                n = burst_len[j] if j is not None and burst_len[j] else max(burst_len, default=1)
                note_rx(n, r.meta, r.status.value, r.snr_db)

    def take(timeout: float) -> int:
        y = link.recv(timeout)
        if y.size:
            handle(demod.feed(y), time.perf_counter())
        return int(y.size)

    t0 = time.perf_counter()
    for i, f in enumerate(frames):
        burst = mod.modulate(f)
        burst_len[i] = burst.size
        if not replay:
            link.send(np.concatenate([gap, burst]) if gap_samples else burst)
            if note_tx is not None:
                note_tx(0, burst.size, f.meta)
        if not replay:
            sent_at[i] = time.perf_counter()
            n_sent += gap_samples + burst.size
            n_recv += take(poll_s)
    if not replay and tail_samples:
        link.send(np.zeros(tail_samples, np.complex64))
        n_sent += tail_samples
    deadline = time.perf_counter() + timeout_s
    idle_zeros = np.zeros(flush_chunk, np.complex64)
    empty_polls = 0
    last_data = time.perf_counter()
    is_recording = getattr(link, "is_replay", False)
    while not matcher.done and time.perf_counter() < deadline:
        got = take(0.02)
        n_recv += got
        if got:
            last_data = time.perf_counter()
        if is_recording:
            empty_polls = 0 if got else empty_polls + 1
            if empty_polls >= 3:  # a recording has nothing more to give
                break
        elif replay:
            if idle_stop_s is not None and n_recv and time.perf_counter() - last_data > idle_stop_s:
                break
        elif not got:
            link.send(idle_zeros)  # keep the channel fed so that held-back samples come out
            n_sent += flush_chunk
    handle(demod.flush(), time.perf_counter())
    wall = time.perf_counter() - t0
    rx = matcher.finish()
    latency = [
        (a - s) * 1e3 if rx[j].status.decodable and math.isfinite(a) else math.nan
        for j, (a, s) in enumerate(zip(matcher.arrival, sent_at))
    ]
    decoded = sum(1 for r in rx if r.status.decodable)
    lost = Counter(r.status.value for r in rx if not r.status.decodable)
    snrs = [r.snr_db for r in rx if r.status.decodable and math.isfinite(r.snr_db)]
    if matcher.unmatched:
        log.info("transmit_frames: %d receiver outputs matched no sent frame: %s", sum(matcher.unmatched.values()),
                 dict(matcher.unmatched))
    return TransportResult(
        rx=rx,
        sent=len(frames),
        decoded=decoded,
        lost=lost,
        samples=n_recv if replay else n_sent,
        samples_received=n_recv,
        wall_s=wall,
        throughput_msps=(n_recv if replay else n_sent) / wall / 1e6 if wall > 0 else math.nan,
        latency_ms=latency,
        snr_est_db=float(np.mean(snrs)) if snrs else math.nan,
        unmatched=matcher.unmatched,
        link_problems=Counter(link.stats.problems),
    )


def send_frames(frames: Sequence[SemanticFrame], link: Link, phy: Any | None = None, gap_samples: int = 400,
                tail_samples: int = 4096) -> dict[str, Any]:
    """Transmit only (``semcom tx``): modulate and send ``frames`` with idle zeros between them.

    Returns ``{"sent": frames, "samples": complex samples sent, "wall_s", "throughput_msps"}``.
    """
    from semcom_ota.phy import Modulator, PhyConfig

    mod = Modulator(phy if phy is not None else PhyConfig())
    gap = np.zeros(gap_samples, np.complex64)
    n = 0
    t0 = time.perf_counter()
    for f in frames:
        burst = mod.modulate(f)
        link.send(np.concatenate([gap, burst]))
        n += gap.size + burst.size
    if tail_samples:
        link.send(np.zeros(tail_samples, np.complex64))
        n += tail_samples
    wall = time.perf_counter() - t0
    return {"sent": len(frames), "samples": n, "wall_s": wall, "throughput_msps": n / wall / 1e6 if wall > 0 else None}
