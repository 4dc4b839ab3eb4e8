"""The main job: content → semantic codec and digital baseline → PHY → a real link → PHY → decode.

For each modality (photos, Fashion-MNIST, sentences) and each SNR, the demo encodes the bundled
sample content (test-split items no codec was trained on) with the semantic codec(s) and with the
separation baseline at the same channel uses, sends every frame through the chosen link (the GNU
Radio loopback flowgraph by default), decodes, scores, and writes ``DIR/results.json`` (DESIGN §2
rows plus examples) and ``DIR/report.html``.

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

from semcom_ota.frames import SemanticFrame
from semcom_ota.results import ResultRow, write_rows

log = logging.getLogger(__name__)

def models_dir() -> Path:
    """The repository's ``models/`` (model cards and weights); ``SEMCOM_MODELS`` overrides it."""
    import os

    return Path(os.environ.get("SEMCOM_MODELS", Path(__file__).resolve().parents[2] / "models"))


LINK_METRICS = ("frames_sent", "frames_decoded", "frames_lost", "snr_est_db", "latency_ms_per_item", "items_not_sent")


@dataclass
class SchemeOutcome:
    """What one scheme produced for one stage at one SNR."""

    scheme: str
    channel_uses: int
    decoded: list[Any]  # Decoded per item (None where the frame was lost)
    scores: dict[str, list[float]]  # metric -> per item
    sent: int
    lost: dict[str, int]
    snr_est_db: float
    latency_ms_per_item: float
    rx_points: np.ndarray  # a sample of received (equalised) symbols for the constellation plot
    not_sent: int = 0  # items the scheme could not carry in the budget at all (nothing was sent)


@dataclass
class DemoStage:
    """One modality: content items, its schemes (first = semantic) and how to score them.

    score(item_index, decoded_or_None) -> {metric: value}; a lost frame is scored with ``None``
    (the stage decides what a lost item is worth: the mean image, an empty sentence, a wrong class).
    """

    name: str
    task: str
    items: list[Any]
    schemes: dict[str, Callable[[], Any]]  # scheme -> codec factory
    budget: Callable[[Any], int]
    score: Callable[[int, Any], dict[str, float]]
    example: Callable[[int, dict[str, Any], float], dict[str, Any] | None] | None = None
    fallback: Callable[[int], Any] | None = None  # what the receiver outputs for a lost item (scored instead of None)
    codecs: dict[str, Any] = field(default_factory=dict)

    def codec(self, scheme: str) -> Any:
        if scheme not in self.codecs:
            self.codecs[scheme] = self.schemes[scheme]()
        return self.codecs[scheme]


def _is_small(value: Any, limit: int = 64) -> bool:
    """True for strings, scalars and short sequences; False for big arrays/tensors (torch or NumPy)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return True
    numel = getattr(value, "numel", None)
    if callable(numel):  # torch tensor
        return int(numel()) <= limit
    try:
        return int(np.size(value)) <= limit
    except Exception:  # ragged or opaque objects: keep them, they are the codec's business
        return True


def run_scheme(stage: DemoStage, scheme: str, snr_db: float, send: Callable[[list[SemanticFrame]], Any]) -> SchemeOutcome:
    """Encode every item with ``scheme``, push the frames through ``send`` (PHY + link), decode, score."""
    codec = stage.codec(scheme)
    frames, sent_index, not_sent = [], [], 0
    for i, item in enumerate(stage.items):
        try:
            f = codec.encode(item, stage.budget(item), snr_db=snr_db)
        except ValueError as err:
            if "too small" not in str(err):
                raise
            # the scheme cannot carry this item in the budget at all (e.g. no MCS fits one LDPC
            # codeword): nothing is sent, and the receiver falls back to its prior
            log.info("%s / %s: item %d not sent: %s", stage.name, scheme, i, err)
            not_sent += 1
            continue
        f.meta.seq = len(frames) % 256
        frames.append(f)
        sent_index.append(i)
    t0 = time.perf_counter()
    result = send(frames) if frames else None
    rx_of = dict(zip(sent_index, result.rx)) if result else {}
    decoded, scores = [], {}
    for i in range(len(stage.items)):
        rx = rx_of.get(i)
        out = codec.decode(rx) if rx is not None and rx.status.decodable else None
        if out is not None:  # keep what the report shows; drop bulky per-token outputs (e.g. text logprobs)
            out.tasks = {k: v for k, v in out.tasks.items() if _is_small(v)}
        decoded.append(out)
        scored = out if out is not None or stage.fallback is None else stage.fallback(i)
        for k, v in stage.score(i, scored).items():
            scores.setdefault(k, []).append(float(v))
    elapsed = time.perf_counter() - t0
    pts = [rx.symbols[rx.mask] for rx in rx_of.values() if rx.mask.any()]
    pts = np.concatenate(pts) if pts else np.zeros(0, np.complex64)
    lost = {str(k): int(v) for k, v in (result.lost.items() if result else [])}
    return SchemeOutcome(
        scheme=scheme, channel_uses=int(stage.budget(stage.items[0])) if not frames else int(round(np.mean([f.n for f in frames]))),
        decoded=decoded, scores=scores, sent=int(result.sent) if result else 0, lost=lost, not_sent=not_sent,
        snr_est_db=float(result.snr_est_db) if result else float("nan"),
        latency_ms_per_item=1000.0 * elapsed / max(1, len(frames)), rx_points=pts[:: max(1, pts.size // 1200)][:1200],
    )


def outcome_rows(stage: DemoStage, channel: str, snr_db: float, o: SchemeOutcome) -> list[ResultRow]:
    n = len(stage.items)
    row = lambda metric, value: ResultRow(stage.task, o.scheme, channel, snr_db, o.channel_uses, metric, float(value), n)  # noqa: E731
    rows = [row(m, np.mean(v)) for m, v in o.scores.items()]
    lost = sum(o.lost.values())
    rows += [row("frames_sent", o.sent), row("frames_decoded", o.sent - lost), row("frames_lost", lost),
             row("snr_est_db", o.snr_est_db), row("latency_ms_per_item", o.latency_ms_per_item),
             row("items_not_sent", o.not_sent)]
    return rows


def format_demo_table(rows: list[ResultRow]) -> str:
    """Per task, scheme and SNR: quality, estimated vs set SNR, frames sent/decoded/lost, latency per item."""
    by: dict[tuple[str, float, str], dict[str, float]] = {}
    quality: dict[str, str] = {}
    for r in rows:
        by.setdefault((r.task, r.snr_db, r.scheme), {})[r.metric] = r.value
        if r.metric not in LINK_METRICS:
            quality.setdefault(r.task, r.metric)
    head = (f"{'task':<9} {'scheme':<12} {'SNR set':>7} {'SNR est':>7} {'quality':>20} "
            f"{'sent':>5} {'dec':>5} {'lost':>5} {'ms/item':>8}")
    lines = [head, "-" * len(head)]
    for (task, snr, scheme), m in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        metric = quality.get(task, "")
        q = f"{metric} {m.get(metric, float('nan')):.3f}"
        lines.append(f"{task:<9} {scheme:<12} {snr:>7.1f} {m.get('snr_est_db', float('nan')):>7.1f} {q:>20} "
                     f"{m.get('frames_sent', 0):>5.0f} {m.get('frames_decoded', 0):>5.0f} {m.get('frames_lost', 0):>5.0f} "
                     f"{m.get('latency_ms_per_item', float('nan')):>8.1f}")
    return "\n".join(lines)


def run_stage_safely(name: str, fn: Callable[[], Any], stages_log: list[dict[str, Any]]) -> Any:
    """Run one stage; on failure record which stage and why, and let the demo go on."""
    t0 = time.perf_counter()
    try:
        out = fn()
        stages_log.append({"name": name, "status": "ok", "seconds": time.perf_counter() - t0, "error": ""})
        return out
    except Exception as err:  # any failure of one stage must not stop the others
        log.error("demo stage %s failed: %s: %s", name, type(err).__name__, err)
        log.debug("%s", traceback.format_exc())
        stages_log.append({"name": name, "status": "failed", "seconds": time.perf_counter() - t0,
                           "error": f"{type(err).__name__}: {err}"})
        return None


@dataclass
class DemoConfig:
    link: str = "gnuradio"  # gnuradio | sim | soapy
    snr_db: tuple[float, ...] = (0.0, 10.0, 20.0)
    out: Path = Path("out/demo")
    stages: tuple[str, ...] = ("photos", "fashion-mnist", "sentences")
    seed: int = 0
    max_items: int | None = None  # per stage (CI uses a few)

    def __post_init__(self) -> None:
        if self.link not in ("gnuradio", "sim", "soapy"):
            raise ValueError(f"link={self.link!r}: expected gnuradio, sim or soapy")
        unknown = set(self.stages) - {"photos", "fashion-mnist", "sentences"}
        if unknown:
            raise ValueError(f"stages {sorted(unknown)}: expected photos, fashion-mnist, sentences")
        if not self.snr_db:
            raise ValueError("snr_db: expected at least one SNR")


def open_demo_link(cfg: DemoConfig, snr_db: float):
    """The link of one SNR point: the GNU Radio loopback flowgraph (channel_model with that SNR),
    the in-process simulator, or the SoapySDR loopback driver with the simulator's noise added."""
    from semcom_ota.link import open_link

    if cfg.link == "gnuradio":
        return open_link("gnuradio", flowgraph="loopback_channel", snr_db=float(snr_db), seed=cfg.seed + 1)
    if cfg.link == "sim":
        return open_link("sim", snr_db=float(snr_db), seed=cfg.seed + 1)
    return open_link("soapy", profile="loopback", snr_db=float(snr_db))


def run_demo(cfg: DemoConfig, echo: Callable[[str], None] = print) -> tuple[Path, Path, list[ResultRow]]:
    """Run every stage at every SNR over the configured link; write results.json and report.html."""
    from semcom_ota.eval.demo_stages import build_stages
    from semcom_ota.eval.report import constellation_points, write_report
    from semcom_ota.link import transmit_frames
    from semcom_ota.progress import progress
    from semcom_ota.seeding import seed_everything

    seed_everything(cfg.seed)
    cfg.out.mkdir(parents=True, exist_ok=True)
    stages_log: list[dict[str, Any]] = []
    stages = build_stages(cfg.stages, cfg.max_items)
    stages_log.extend(getattr(build_stages, "last_log", []))
    rows: list[ResultRow] = []
    examples: list[dict[str, Any]] = []
    constellations: list[dict[str, Any]] = []
    channel = f"{cfg.link}:awgn"
    total = len(cfg.snr_db) * sum(len(s.schemes) for s in stages)
    bar = progress(total=total, desc=f"demo over {cfg.link}", unit="scheme")
    t_start = time.perf_counter()
    for snr in cfg.snr_db:
        link = None  # one link per SNR point, shared by every stage; reopened after a failure
        for stage in stages:
            for scheme in stage.schemes:
                def one(stage=stage, scheme=scheme, snr=snr):
                    nonlocal link
                    if link is None:
                        link = open_demo_link(cfg, snr)
                    o = run_scheme(stage, scheme, snr, lambda frames: transmit_frames(frames, link))
                    rows.extend(outcome_rows(stage, channel, snr, o))
                    if o.rx_points.size and (scheme == next(iter(stage.schemes)) or scheme.endswith("ldpc")):
                        constellations.append(constellation_points(f"{stage.name} · {scheme} · {snr:g} dB", o.rx_points))
                    return o

                outcome = run_stage_safely(f"{stage.name} / {scheme} @ {snr:g} dB", one, stages_log)
                if outcome is None and link is not None:
                    link.close()
                    link = None
                if outcome is not None:
                    stage.codecs.setdefault("_outcomes", {})[(scheme, snr)] = outcome
                bar.update(1)
            if stage.example is not None:
                outs = {s: stage.codecs.get("_outcomes", {}).get((s, snr)) for s in stage.schemes}
                for i in range(len(stage.items)):
                    ex = run_stage_safely(f"{stage.name} example {i} @ {snr:g} dB", lambda i=i: stage.example(i, outs, snr), [])
                    if ex:
                        examples.append(ex)
        if link is not None:
            link.close()
    bar.close()
    wall = time.perf_counter() - t_start
    failed = [s for s in stages_log if s["status"] != "ok"]
    demo = {
        "title": f"semcom-ota demo over the {cfg.link} link",
        "subtitle": f"SNR {', '.join(f'{s:g}' for s in cfg.snr_db)} dB · {wall:.0f} s · "
                    f"{len(stages_log) - len(failed)} of {len(stages_log)} stages ok · bundled test-split content",
        "stages": stages_log, "examples": examples, "constellations": constellations,
        "config": {"link": cfg.link, "snr_db": list(cfg.snr_db), "stages": list(cfg.stages), "seed": cfg.seed},
    }
    results = write_rows(cfg.out / "results.json", rows, extra={"demo": demo})
    report = write_report(results, cfg.out)
    echo(format_demo_table(rows))
    for s in failed:
        echo(f"stage failed: {s['name']}: {s['error']}")
    return results, report, rows
