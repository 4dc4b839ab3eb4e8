"""Self-contained HTML report drawn from result rows (DESIGN §2) plus the demo's examples.

Input: a results JSON ``{"rows": [...], "demo": {...}}`` as written by :mod:`semcom_ota.eval.demo`
(or any eval: rows only is fine, the report then holds the tables and curves).
Output: ``DIR/report.html`` — one file, every image embedded as a data URI.
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from semcom_ota.results import ResultRow, read_rows

QUALITY_METRICS = ("psnr_db", "ms_ssim", "accuracy", "similarity", "bleu")
LINK_METRICS = ("frames_sent", "frames_decoded", "frames_lost", "snr_est_db", "latency_ms_per_item", "items_not_sent")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#1c1c1c;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px} h2{border-bottom:2px solid #dde;padding-bottom:4px;margin-top:36px}
.sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:8px 0 16px;font-size:.92em}
th,td{border:1px solid #ccd;padding:4px 8px;text-align:right} th{background:#eef1f8} td.l,th.l{text-align:left}
.ok{color:#167d2b;font-weight:600} .bad{color:#b3261e;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:14px} figure{margin:0;text-align:center;font-size:.85em}
figure img{image-rendering:pixelated;border:1px solid #ccd;max-width:260px}
del{background:#fdd;text-decoration:line-through} ins{background:#dfd;text-decoration:none}
.sent td{text-align:left;max-width:520px} .plots img{max-width:560px}
"""


def png_data_uri(image: np.ndarray, scale: int = 1) -> str:
    """uint8 image [H,W] or [H,W,3] -> ``data:image/png;base64,...`` (nearest upscaling by ``scale``)."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"png_data_uri: expected uint8 image, got {arr.dtype}")
    if scale > 1:
        arr = arr.repeat(scale, axis=0).repeat(scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fig_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def word_diff_html(reference: str, hypothesis: str) -> str:
    """Words of ``hypothesis`` with deletions/insertions against ``reference`` marked (<del>/<ins>)."""
    a, b = reference.split(), hypothesis.split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(html.escape(" ".join(a[i1:i2])))
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(' '.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(' '.join(b[j1:j2]))}</ins>")
    return " ".join(x for x in out if x)


def quality_curves(rows: list[ResultRow]) -> list[tuple[str, str]]:
    """One plot per (task, metric): quality vs set SNR, one line per scheme. Returns (title, data URI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.metric in QUALITY_METRICS and math.isfinite(r.value):
            groups[(r.task, r.metric)][f"{r.scheme} ({r.channel_uses} sym)"].append((r.snr_db, r.value))
    plots = []
    for (task, metric), lines in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(5.6, 3.4))
        for label, pts in sorted(lines.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.set_xlabel("set SNR (dB)")
        ax.set_ylabel(metric)
        ax.set_title(f"{task}: {metric} vs SNR")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        plots.append((f"{task} {metric}", _fig_uri(fig)))
    return plots


def constellation_points(title: str, symbols: np.ndarray, limit: int = 1200) -> dict[str, Any]:
    """JSON-friendly constellation sample: ``{"title", "points": [[re, im], ...]}`` (rounded)."""
    z = np.asarray(symbols, np.complex64)[:limit]
    return {"title": title, "points": np.round(np.stack([z.real, z.imag], 1), 3).tolist()}


def constellation_plot(points: list[list[float]], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = np.asarray(points, dtype=float).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(2.8, 2.8))
    ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.4)
    lim = max(2.0, float(np.percentile(np.abs(p), 99)) if p.size else 2.0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    return _fig_uri(fig)


def _rows_table(rows: list[ResultRow], metrics: tuple[str, ...]) -> str:
    sel = [r for r in rows if r.metric in metrics]
    if not sel:
        return "<p>(no rows)</p>"
    head = "<tr><th class=l>task</th><th class=l>scheme</th><th class=l>channel</th><th>set SNR dB</th><th>channel uses</th><th class=l>metric</th><th>value</th><th>items</th></tr>"
    body = "".join(
        f"<tr><td class=l>{html.escape(r.task)}</td><td class=l>{html.escape(r.scheme)}</td><td class=l>{html.escape(r.channel)}</td>"
        f"<td>{r.snr_db:g}</td><td>{r.channel_uses}</td><td class=l>{r.metric}</td><td>{_fmt(r.value)}</td><td>{r.n_items}</td></tr>"
        for r in sel
    )
    return f"<table>{head}{body}</table>"


def _pivot_tables(rows: list[ResultRow]) -> str:
    """Per (task, metric): one row per set SNR, one column per scheme — the side-by-side view."""
    groups: dict[tuple[str, str], dict[tuple[float, str], ResultRow]] = defaultdict(dict)
    for r in rows:
        if r.metric in QUALITY_METRICS:
            groups[(r.task, r.metric)][(r.snr_db, r.scheme)] = r
    parts = []
    for (task, metric), cells in sorted(groups.items()):
        schemes = list(dict.fromkeys(k[1] for k in cells))
        snrs = sorted({k[0] for k in cells})
        uses = {s: next(c.channel_uses for k, c in cells.items() if k[1] == s) for s in schemes}
        head = "<tr><th>set SNR dB</th>" + "".join(f"<th>{html.escape(s)}<br><small>{uses[s]} ch. uses</small></th>" for s in schemes) + "</tr>"
        body = ""
        for snr in snrs:
            vals = [cells.get((snr, s)) for s in schemes]
            finite = [v.value for v in vals if v is not None and math.isfinite(v.value)]
            best = max(finite) if finite else None
            tds = "".join(
                "<td>—</td>" if v is None else (f"<td><b>{_fmt(v.value)}</b></td>" if best is not None and v.value == best and len(finite) > 1 else f"<td>{_fmt(v.value)}</td>")
                for v in vals
            )
            body += f"<tr><td>{snr:g}</td>{tds}</tr>"
        channel = next(iter(cells.values())).channel
        parts.append(f"<h3>{html.escape(task)} · {html.escape(metric)} <small>({html.escape(channel)}, best in bold)</small></h3><table>{head}{body}</table>")
    return "".join(parts) or "<p>(no quality rows)</p>"


def _fmt(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.4g}"


def _stages_html(stages: list[dict[str, Any]]) -> str:
    if not stages:
        return ""
    rows = "".join(
        f"<tr><td class=l>{html.escape(s['name'])}</td><td class=l><span class={'ok' if s['status'] == 'ok' else 'bad'}>{html.escape(s['status'])}</span></td>"
        f"<td>{s.get('seconds', float('nan')):.1f}</td><td class=l>{html.escape(s.get('error') or '')}</td></tr>"
        for s in stages
    )
    return f"<h2>Stages</h2><table><tr><th class=l>stage</th><th class=l>status</th><th>seconds</th><th class=l>error</th></tr>{rows}</table>"


def _examples_html(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return ""
    parts = ["<h2>Reconstructions</h2>"]
    images = [e for e in examples if e.get("kind") == "image"]
    texts = [e for e in examples if e.get("kind") == "text"]
    for e in images:
        figs = "".join(
            f"<figure><img src='{p['src']}' alt='{html.escape(p['label'])}'><figcaption>{html.escape(p['label'])}</figcaption></figure>"
            for p in e.get("panels", []) if p.get("src")
        )
        parts.append(f"<h3>{html.escape(e.get('title', ''))}</h3><div class=grid>{figs}</div>")
    if texts:
        schemes = list(dict.fromkeys(k for e in texts for k in e.get("outputs", {})))
        rows = "".join(
            f"<tr><td>{e.get('snr_db', '')}</td><td>{html.escape(e['original'])}</td>"
            + "".join(f"<td>{word_diff_html(e['original'], e['outputs'][s]) if e['outputs'].get(s) is not None else '<i>lost</i>'}</td>" for s in schemes)
            + "</tr>"
            for e in texts
        )
        heads = "".join(f"<th class=l>{html.escape(s)}</th>" for s in schemes)
        parts.append(
            "<h3>Sentences (differences from the original marked: <del>missing</del> <ins>inserted</ins>)</h3>"
            f"<table class=sent><tr><th>SNR dB</th><th class=l>original</th>{heads}</tr>{rows}</table>"
        )
    return "".join(parts)


def render_report(results: dict[str, Any]) -> str:
    """Results JSON (dict) -> one self-contained HTML page."""
    rows = [r for r in read_rows_from_obj(results)]
    demo = results.get("demo", {})
    title = demo.get("title", "semcom-ota report")
    sub = html.escape(demo.get("subtitle", f"{len(rows)} result rows"))
    plots = "".join(f"<figure><img src='{uri}' alt='{html.escape(t)}'></figure>" for t, uri in quality_curves(rows))
    consts = "".join(
        f"<figure><img src='{constellation_plot(c['points'], c['title'])}' alt='constellation'></figure>"
        for c in demo.get("constellations", [])
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class=sub>{sub}</p>",
        _stages_html(demo.get("stages", [])),
        "<h2>Quality</h2>", _pivot_tables(rows),
        f"<h2>Quality vs SNR</h2><div class='grid plots'>{plots or '<p>(no curves)</p>'}</div>",
        _examples_html(demo.get("examples", [])),
        f"<h2>Received constellations</h2><div class=grid>{consts}</div>" if consts else "",
        "<h2>Link statistics</h2>", _rows_table(rows, LINK_METRICS),
        "<h2>All quality rows</h2>", _rows_table(rows, QUALITY_METRICS),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def read_rows_from_obj(results: dict[str, Any]) -> list[ResultRow]:
    from semcom_ota.results import row_from_dict

    return [row_from_dict({**d, "value": float("nan") if d.get("value") is None else d["value"]}) for d in results.get("rows", [])]


def write_report(results_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Read a results JSON and write ``report.html`` beside it (or into ``out_dir``)."""
    results_path = Path(results_path)
    if not results_path.is_file():
        raise FileNotFoundError(f"results file {results_path}: not found (expected the JSON an eval or the demo wrote)")
    data = json.loads(results_path.read_text())
    if isinstance(data, list):
        data = {"rows": data}
    read_rows(results_path)  # validates every row, naming the first bad one
    out = Path(out_dir) if out_dir else results_path.parent
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(render_report(data))
    return path
