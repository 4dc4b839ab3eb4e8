"""The main job: content → semantic codec and digital baseline → PHY → a real link → PHY → decode.

For each modality (photos, Fashion-MNIST, sentences) and each SNR, the demo encodes the bundled
sample content with the semantic codec and with the separation baseline at the same channel uses,
sends every frame through the chosen link (GNU Radio loopback by default), decodes, scores, and
writes ``DIR/results.json`` (DESIGN §2 rows + examples) and ``DIR/report.html``.

A stage that fails is recorded with its reason; the rest of the report is still written.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from semcom_ota.frames import FrameMeta, RxSemanticFrame, SemanticFrame
from semcom_ota.progress import progress
from semcom_ota.results import ResultRow

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass
class SchemeOutcome:
    """What one scheme produced for one stage at one SNR."""

    scheme: str
    channel_uses: int
    decoded: list[Any]  # content per item (fallback content where the frame was lost)
    scores: dict[str, list[float]]  # metric -> per item
    sent: int
    lost: dict[str, int]
    snr_est_db: float
    latency_ms_per_item: float
    rx_points: np.ndarray  # a sample of received (equalised) symbols for the constellation plot


@dataclass
class DemoStage:
    """One modality: content items, two schemes (semantic and baseline) and how to score them."""

    name: str  # shown in tables, e.g. "photos"
    task: str  # result-row task, e.g. "image"
    items: list[Any]
    labels: list[Any]  # per item reference (the item itself for reconstruction tasks; a class for classify)
    schemes: dict[str, Callable[[], Any]]  # scheme name -> codec factory
    budget: Callable[[Any], int]  # item -> channel uses
    score: Callable[[Any, Any, Any], dict[str, float]]  # (item, label, decoded content/tasks) -> metrics
    fallback: Callable[[Any], Any]  # item -> content used when its frame is lost
    render_example: Callable[[Any, dict[str, Any], float], dict[str, Any]] | None = None
    codecs: dict[str, Any] = field(default_factory=dict)


def _decoded_payload(decoded: Any) -> Any:
    return decoded


def run_scheme(stage: DemoStage, scheme: str, snr_db: float, send: Callable[[list[SemanticFrame]], Any]) -> SchemeOutcome:
    """Encode every item with ``scheme``, push the frames through ``send`` (the link), decode and score."""
    codec = stage.codecs.get(scheme)
    if codec is None:
        codec = stage.codecs[scheme] = stage.schemes[scheme]()
    frames = []
    for i, item in enumerate(stage.items):
        f = codec.encode(item, stage.budget(item), snr_db=snr_db)
        f.meta.seq = i
        frames.append(f)
    t0 = time.perf_counter()
    result = send(frames)
    elapsed = time.perf_counter() - t0
    decoded, scores = [], {}
    for item, label, frame, rx in zip(stage.items, stage.labels, frames, result.rx):
        if rx.status.decodable:
            out = codec.decode(rx)
        else:
            out = stage.fallback(item)
        decoded.append(out)
        for k, v in stage.score(item, label, out).items():
            scores.setdefault(k, []).append(v)
    pts = np.concatenate([rx.symbols[rx.mask] for rx in result.rx if rx.mask.any()] or [np.zeros(0, np.complex64)])
    return SchemeOutcome(
        scheme=scheme,
        channel_uses=int(np.mean([f.n for f in frames])),
        decoded=decoded,
        scores=scores,
        sent=len(frames),
        lost=dict(result.lost),
        snr_est_db=float(result.snr_est_db),
        latency_ms_per_item=1000.0 * elapsed / max(1, len(frames)),
        rx_points=pts[:: max(1, pts.size // 1500)][:1500],
    )


def outcome_rows(stage: DemoStage, channel: str, snr_db: float, o: SchemeOutcome) -> list[ResultRow]:
    n = len(stage.items)
    rows = [ResultRow(stage.task, o.scheme, channel, snr_db, o.channel_uses, m, float(np.mean(v)), n) for m, v in o.scores.items()]
    lost = int(sum(o.lost.values()))
    rows += [
        ResultRow(stage.task, o.scheme, channel, snr_db, o.channel_uses, "frames_sent", float(o.sent), n),
        ResultRow(stage.task, o.scheme, channel, snr_db, o.channel_uses, "frames_decoded", float(o.sent - lost), n),
        ResultRow(stage.task, o.scheme, channel, snr_db, o.channel_uses, "frames_lost", float(lost), n),
        ResultRow(stage.task, o.scheme, channel, snr_db, o.channel_uses, "snr_est_db", o.snr_est_db, n),
        ResultRow(stage.task, o.scheme, channel, snr_db, o.channel_uses, "latency_ms_per_item", o.latency_ms_per_item, n),
    ]
    return rows


def format_demo_table(rows: list[ResultRow]) -> str:
    """Per stage and SNR: semantic vs baseline quality, frames sent/decoded/lost, est vs set SNR, latency."""
    by: dict[tuple[str, float, str], dict[str, float]] = {}
    metrics_of_task: dict[str, str] = {}
    for r in rows:
        by.setdefault((r.task, r.snr_db, r.scheme), {})[r.metric] = r.value
        if r.metric not in ("frames_sent", "frames_decoded", "frames_lost", "snr_est_db", "latency_ms_per_item"):
            metrics_of_task.setdefault(r.task, r.metric)
    head = f"{'task':<9} {'scheme':<14} {'SNR set':>7} {'SNR est':>7} {'quality':>18} {'sent':>5} {'dec':>5} {'lost':>5} {'ms/item':>8}"
    lines = [head, "-" * len(head)]
    for (task, snr, scheme), m in sorted(by.items()):
        metric = metrics_of_task.get(task, "")
        q = m.get(metric, float("nan"))
        lines.append(
            f"{task:<9} {scheme:<14} {snr:>7.1f} {m.get('snr_est_db', float('nan')):>7.1f} {metric + ' ' + format(q, '.3f'):>18} "
            f"{m.get('frames_sent', 0):>5.0f} {m.get('frames_decoded', 0):>5.0f} {m.get('frames_lost', 0):>5.0f} {m.get('latency_ms_per_item', float('nan')):>8.1f}"
        )
    return "\n".join(lines)


def run_stage_safely(name: str, fn: Callable[[], Any], stages_log: list[dict[str, Any]]) -> Any:
    """Run one stage; on failure record which stage and why, and let the demo go on."""
    t0 = time.perf_counter()
    try:
        out = fn()
        stages_log.append({"name": name, "status": "ok", "seconds": time.perf_counter() - t0, "error": ""})
        return out
    except Exception as err:  # a stage may fail for any reason; the report must still be written
        log.error("demo stage %s failed: %s", name, err)
        log.debug("%s", traceback.format_exc())
        stages_log.append({"name": name, "status": "failed", "seconds": time.perf_counter() - t0, "error": f"{type(err).__name__}: {err}"})
        return None


__all__ = [
    "DemoStage", "SchemeOutcome", "run_scheme", "outcome_rows", "format_demo_table", "run_stage_safely",
    "FrameMeta", "RxSemanticFrame", "progress",
]
