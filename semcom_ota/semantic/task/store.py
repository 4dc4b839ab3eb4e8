"""Pre-stored, compressed teacher outputs for fast distillation.

The teacher runs ONCE over the training set; what the student needs from it is stored compressed
and read back every epoch instead of running the teacher again:

- ``topk_logits`` float16 ``[N, k]`` and ``topk_idx`` uint8 ``[N, k]``: the k largest logits;
- ``tail_lse`` float16 ``[N]``: log-sum-exp of the other ``C - k`` logits, so the probability mass
  of the tail is exact at temperature 1 (it is spread evenly over the tail classes on reconstruction);
- ``feat_q`` int8 ``[N, F]`` with ``feat_scale`` float16 ``[N]``: the teacher's semantic features,
  symmetric per-row int8 quantisation (``feat ≈ feat_q * feat_scale``).

With ``k = 4`` and ``F = 256`` a row takes 4·2 + 4 + 2 + 256 + 2 = 272 bytes (55 000 rows ≈ 15 MB)
against 4·(10 + 256) = 1064 bytes in float32. The file is safetensors (no pickle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

FORMAT_VERSION = "1"


def decode_logits(top: torch.Tensor, idx: torch.Tensor, tail: torch.Tensor, n_classes: int) -> torch.Tensor:
    """float16 top-k ``[B, k]``, uint8 indices ``[B, k]``, float16 tail LSE ``[B]`` -> float32 logits ``[B, C]``."""
    k = top.shape[1]
    fill = tail.float() - (math.log(n_classes - k) if k < n_classes else 0.0)
    out = fill[:, None].expand(top.shape[0], n_classes).clone()
    return out.scatter(1, idx.long(), top.float())


def decode_features(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """int8 ``[B, F]`` and float16 per-row scale ``[B]`` -> float32 features ``[B, F]``."""
    return q.float() * scale.float()[:, None]


@dataclass
class DeviceStore:
    """The compressed store's arrays as torch tensors on one device (see :meth:`TeacherStore.to`);
    rows (an int64 tensor on the same device) are decoded per batch there."""

    topk_logits: torch.Tensor
    topk_idx: torch.Tensor
    tail_lse: torch.Tensor
    feat_q: torch.Tensor
    feat_scale: torch.Tensor
    n_classes: int = 10

    @property
    def n(self) -> int:
        return int(self.topk_logits.shape[0])

    def logits(self, rows: torch.Tensor) -> torch.Tensor:
        return decode_logits(self.topk_logits[rows], self.topk_idx[rows], self.tail_lse[rows], self.n_classes)

    def features(self, rows: torch.Tensor) -> torch.Tensor:
        return decode_features(self.feat_q[rows], self.feat_scale[rows])


@dataclass
class TeacherStore:
    """Compressed teacher outputs for ``N`` training items (see the module docstring for fields)."""

    topk_logits: np.ndarray  # float16 [N, k]
    topk_idx: np.ndarray  # uint8 [N, k]
    tail_lse: np.ndarray  # float16 [N]
    feat_q: np.ndarray  # int8 [N, F]
    feat_scale: np.ndarray  # float16 [N]
    n_classes: int = 10

    def __post_init__(self) -> None:
        n = self.topk_logits.shape[0]
        expect = {"topk_logits": (np.float16, 2), "topk_idx": (np.uint8, 2), "tail_lse": (np.float16, 1),
                  "feat_q": (np.int8, 2), "feat_scale": (np.float16, 1)}
        for name, (dtype, ndim) in expect.items():
            a = getattr(self, name)
            if a.dtype != dtype or a.ndim != ndim or a.shape[0] != n:
                raise ValueError(f"TeacherStore.{name}: dtype {a.dtype} shape {a.shape}, expected {np.dtype(dtype)} "
                                 f"with {ndim} dims and {n} rows")
        if self.topk_idx.shape != self.topk_logits.shape:
            raise ValueError(f"TeacherStore.topk_idx shape {self.topk_idx.shape} != topk_logits {self.topk_logits.shape}")
        if not 1 <= self.k <= self.n_classes:
            raise ValueError(f"TeacherStore: k={self.k}, expected 1..{self.n_classes}")

    @property
    def n(self) -> int:
        return int(self.topk_logits.shape[0])

    @property
    def k(self) -> int:
        return int(self.topk_logits.shape[1])

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in (self.topk_logits, self.topk_idx, self.tail_lse, self.feat_q, self.feat_scale)))

    @classmethod
    def compress(cls, logits: torch.Tensor | np.ndarray, feats: torch.Tensor | np.ndarray, k: int = 4) -> "TeacherStore":
        """float32 logits ``[N, C]`` and features ``[N, F]`` -> compressed store."""
        lg = torch.as_tensor(np.asarray(logits, np.float32))
        ft = torch.as_tensor(np.asarray(feats, np.float32))
        if lg.dim() != 2 or ft.dim() != 2 or lg.shape[0] != ft.shape[0]:
            raise ValueError(f"compress: logits {tuple(lg.shape)} and feats {tuple(ft.shape)}: expected [N, C] and [N, F]")
        c = lg.shape[1]
        if not 1 <= k <= c:
            raise ValueError(f"compress: k={k}, expected 1..{c}")
        top, idx = lg.topk(k, dim=1)
        rest = lg.scatter(1, idx, float("-inf"))
        tail = torch.logsumexp(rest, dim=1) if k < c else torch.full((lg.shape[0],), -60000.0)
        scale = ft.abs().amax(dim=1).clamp_min(1e-8) / 127.0
        scale16 = scale.half()
        q = torch.round(ft / scale16.float()[:, None]).clamp(-127, 127).to(torch.int8)
        return cls(top.half().numpy(), idx.to(torch.uint8).numpy(), tail.clamp(-60000, 60000).half().numpy(),
                   q.numpy(), scale16.numpy(), n_classes=c)

    def logits(self, rows: np.ndarray | torch.Tensor | None = None) -> torch.Tensor:
        """Reconstructed float32 logits ``[len(rows), C]``: stored top-k exact (to float16), each tail
        class ``tail_lse - log(C - k)`` (same total tail probability at temperature 1)."""
        sl = slice(None) if rows is None else np.asarray(rows)
        return decode_logits(torch.from_numpy(self.topk_logits[sl]), torch.from_numpy(self.topk_idx[sl]),
                             torch.from_numpy(self.tail_lse[sl]), self.n_classes)

    def features(self, rows: np.ndarray | torch.Tensor | None = None) -> torch.Tensor:
        """Dequantised float32 features ``[len(rows), F]``."""
        sl = slice(None) if rows is None else np.asarray(rows)
        return decode_features(torch.from_numpy(self.feat_q[sl]), torch.from_numpy(self.feat_scale[sl]))

    def to(self, device: str | torch.device) -> "DeviceStore":
        """The compressed arrays as torch tensors on ``device`` (decoded per batch there)."""
        return DeviceStore(*(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in
                             (self.topk_logits, self.topk_idx, self.tail_lse, self.feat_q, self.feat_scale)),
                           n_classes=self.n_classes)

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": "teacher-store", "version": FORMAT_VERSION, "n_classes": str(self.n_classes), **(metadata or {})}
        save_file({"topk_logits": self.topk_logits, "topk_idx": self.topk_idx, "tail_lse": self.tail_lse,
                   "feat_q": self.feat_q, "feat_scale": self.feat_scale}, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TeacherStore":
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"teacher store {path}: not found (run scripts/train_task.py --stage store)")
        with safe_open(str(path), "np") as f:
            meta = f.metadata() or {}
        if meta.get("format") != "teacher-store" or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"teacher store {path}: metadata {meta}, expected format=teacher-store version={FORMAT_VERSION}")
        t = load_file(str(path))
        return cls(t["topk_logits"], t["topk_idx"], t["tail_lse"], t["feat_q"], t["feat_scale"], n_classes=int(meta["n_classes"]))
