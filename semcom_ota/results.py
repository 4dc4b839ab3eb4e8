"""Evaluation result rows (DESIGN §2): every evaluation writes these; reports are drawn from them only.

A row: ``{task, scheme, channel, snr_db, channel_uses, metric, value, n_items}``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable


@dataclass(frozen=True)
class ResultRow:
    task: str  # e.g. "image", "text", "classify", "link"
    scheme: str  # e.g. "semantic", "hybrid", "jpeg+ldpc"
    channel: str  # e.g. "awgn", "rayleigh", "gnuradio:awgn"
    snr_db: float  # the SNR that was set (dB)
    channel_uses: int  # complex symbols per item
    metric: str  # e.g. "psnr_db", "accuracy", "similarity"
    value: float
    n_items: int

    def __post_init__(self) -> None:
        for f in ("task", "scheme", "channel", "metric"):
            if not isinstance(getattr(self, f), str) or not getattr(self, f):
                raise ValueError(f"ResultRow.{f}={getattr(self, f)!r}: expected a non-empty string")
        if int(self.n_items) < 0 or int(self.channel_uses) < 0:
            raise ValueError(f"ResultRow: n_items={self.n_items}, channel_uses={self.channel_uses}: expected >= 0")


ROW_KEYS = tuple(f.name for f in fields(ResultRow))


def row_from_dict(d: dict[str, Any]) -> ResultRow:
    missing = [k for k in ROW_KEYS if k not in d]
    if missing:
        raise ValueError(f"result row {d!r}: missing keys {missing} (expected {list(ROW_KEYS)})")
    return ResultRow(
        task=str(d["task"]), scheme=str(d["scheme"]), channel=str(d["channel"]), snr_db=float(d["snr_db"]),
        channel_uses=int(d["channel_uses"]), metric=str(d["metric"]), value=float(d["value"]), n_items=int(d["n_items"]),
    )


def write_rows(path: str | Path, rows: Iterable[ResultRow], extra: dict[str, Any] | None = None) -> Path:
    """Write ``{"rows": [...], **extra}`` as JSON; NaN values are written as null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    payload = {"rows": [{k: clean(v) for k, v in asdict(r).items()} for r in rows]}
    if extra:
        payload.update(extra)
    path.write_text(json.dumps(payload, indent=1))
    return path


def read_rows(path: str | Path) -> list[ResultRow]:
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict):
        data = data.get("rows")
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of rows or an object with 'rows'")
    return [row_from_dict({**d, "value": float("nan") if d.get("value") is None else d["value"]}) for d in data]


def format_table(rows: Iterable[ResultRow]) -> str:
    """A human table, one line per row, columns aligned."""
    rows = list(rows)
    header = ["task", "scheme", "channel", "snr_db", "ch_uses", "metric", "value", "n"]
    body = [[r.task, r.scheme, r.channel, f"{r.snr_db:g}", str(r.channel_uses), r.metric, f"{r.value:.4g}", str(r.n_items)] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(b) for b in body])
