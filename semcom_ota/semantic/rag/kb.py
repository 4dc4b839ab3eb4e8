"""Knowledge bases for retrieval-augmented decoding: vector indexes over MiniLM sentence embeddings.

A :class:`KnowledgeBase` is a usearch HNSW index (cosine, 384-d) plus the texts it indexes, keyed by
uint64 ids; it can be added to, updated and pruned while a receiver runs, and persisted to a
directory (``index.usearch`` + ``texts.json``). Two roles (DESIGN §5):

- the *global* base: large and shared (e.g. all WEB + KJV train sentences);
- a *local* base per receiver: recent content, updated as messages arrive (:meth:`add`).

    kb = KnowledgeBase.create(embedder)            # embedder: texts -> float32 [B, 384] unit norm
    keys = kb.add(["In the beginning God created the heavens and the earth."])
    hits = kb.query_texts(["in the begining god creat the heaven"], k=3)  # [[Hit(key, text, sim)...]]
    kb.save("kb/global"); kb2 = KnowledgeBase.load("kb/global", embedder)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from semcom_ota.progress import progress

log = logging.getLogger(__name__)

Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Hit:
    """One retrieved entry: its key, its text and the cosine similarity to the query."""

    key: int
    text: str
    sim: float


def default_embedder() -> Embedder:
    """MiniLM-L6 sentence embeddings (the bundled LAM)."""
    from semcom_ota.semantic.lam import load_lam

    lam = load_lam()
    return lam.sentence_embeddings


class KnowledgeBase:
    """A mutable, persistent vector index of sentences.

    Parameters
    ----------
    embedder: ``texts -> float32 [B, ndim]`` unit-norm embeddings (MiniLM by default).
    ndim: embedding width (384 for MiniLM-L6).
    """

    INDEX_FILE = "index.usearch"
    TEXTS_FILE = "texts.json"

    def __init__(self, embedder: Embedder | None = None, ndim: int = 384) -> None:
        from usearch.index import Index

        self.embedder = embedder or default_embedder()
        self.ndim = int(ndim)
        self.index = Index(ndim=self.ndim, metric="cos", dtype="f32")
        self.texts: dict[int, str] = {}
        self._next = 0

    @classmethod
    def create(cls, embedder: Embedder | None = None, ndim: int = 384) -> "KnowledgeBase":
        return cls(embedder, ndim)

    def __len__(self) -> int:
        return len(self.texts)

    def __contains__(self, key: int) -> bool:
        return int(key) in self.texts

    def _embed(self, texts: Sequence[str], batch: int = 256) -> np.ndarray:
        out = []
        for s in progress(range(0, len(texts), batch), desc="embed", total=(len(texts) + batch - 1) // batch,
                          unit="batch", leave=False):
            out.append(np.asarray(self.embedder(texts[s:s + batch]), np.float32))
        e = np.concatenate(out) if out else np.zeros((0, self.ndim), np.float32)
        if e.shape != (len(texts), self.ndim):
            raise ValueError(f"embedder returned shape {e.shape}, expected ({len(texts)}, {self.ndim})")
        return e

    def add(self, texts: Sequence[str], keys: Sequence[int] | None = None,
            embeddings: np.ndarray | None = None) -> list[int]:
        """Add sentences (new keys are allocated unless given); returns their keys."""
        texts = [str(t) for t in texts]
        if not texts:
            return []
        if keys is None:
            keys = list(range(self._next, self._next + len(texts)))
        keys = [int(k) for k in keys]
        if len(keys) != len(texts):
            raise ValueError(f"KnowledgeBase.add: {len(keys)} keys for {len(texts)} texts (expected equal)")
        dup = [k for k in keys if k in self.texts]
        if dup:
            raise KeyError(f"KnowledgeBase.add: keys {dup[:5]} already present (use update)")
        emb = self._embed(texts) if embeddings is None else np.asarray(embeddings, np.float32)
        self.index.add(np.array(keys, np.uint64), emb)
        self.texts.update(zip(keys, texts))
        self._next = max(self._next, max(keys) + 1)
        return keys

    def update(self, key: int, text: str) -> None:
        """Replace the text (and vector) stored under ``key``."""
        key = int(key)
        if key not in self.texts:
            raise KeyError(f"KnowledgeBase.update(key={key}): no such key")
        self.index.remove(key)
        self.index.add(np.array([key], np.uint64), self._embed([text]))
        self.texts[key] = str(text)

    def remove(self, keys: Sequence[int]) -> int:
        """Remove entries by key; returns how many were removed (unknown keys raise KeyError)."""
        keys = [int(k) for k in keys]
        missing = [k for k in keys if k not in self.texts]
        if missing:
            raise KeyError(f"KnowledgeBase.remove: unknown keys {missing[:5]}")
        for k in keys:
            self.index.remove(k)
            del self.texts[k]
        return len(keys)

    def keys_of(self, text: str) -> list[int]:
        return [k for k, t in self.texts.items() if t == text]

    def query(self, embeddings: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """Nearest entries for each query embedding ``[Q, ndim]`` -> ``Q`` lists of up to ``k`` hits."""
        q = np.atleast_2d(np.asarray(embeddings, np.float32))
        if q.shape[1] != self.ndim:
            raise ValueError(f"KnowledgeBase.query: embeddings of width {q.shape[1]}, expected {self.ndim}")
        if len(self) == 0:
            return [[] for _ in range(q.shape[0])]
        res = self.index.search(q, min(int(k), len(self)))
        keys, dist = np.atleast_2d(res.keys), np.atleast_2d(res.distances)
        # one query -> usearch Matches (no .counts); several -> BatchMatches
        counts = np.atleast_1d(getattr(res, "counts", len(np.atleast_1d(res.keys))))
        out = []
        for i in range(q.shape[0]):
            out.append([Hit(int(keys[i, j]), self.texts[int(keys[i, j])], float(1.0 - dist[i, j]))
                        for j in range(int(counts[i])) if int(keys[i, j]) in self.texts])
        return out

    def query_texts(self, texts: Sequence[str], k: int = 5) -> list[list[Hit]]:
        return self.query(self._embed(list(texts)), k)

    def save(self, directory: str | Path) -> Path:
        """Persist to ``directory`` (created): the index and the texts (atomic replace)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.index.save(str(d / (self.INDEX_FILE + ".tmp")))
        (d / (self.INDEX_FILE + ".tmp")).replace(d / self.INDEX_FILE)
        tmp = d / (self.TEXTS_FILE + ".tmp")
        tmp.write_text(json.dumps({"ndim": self.ndim, "next": self._next,
                                   "texts": {str(k): t for k, t in self.texts.items()}}))
        tmp.replace(d / self.TEXTS_FILE)
        return d

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder | None = None) -> "KnowledgeBase":
        d = Path(directory)
        if not (d / cls.INDEX_FILE).is_file() or not (d / cls.TEXTS_FILE).is_file():
            raise FileNotFoundError(f"knowledge base {d}: expected {cls.INDEX_FILE} and {cls.TEXTS_FILE} "
                                    "(build one with `semcom kb build`)")
        meta = json.loads((d / cls.TEXTS_FILE).read_text())
        kb = cls(embedder, int(meta["ndim"]))
        kb.index.load(str(d / cls.INDEX_FILE))
        kb.texts = {int(k): t for k, t in meta["texts"].items()}
        kb._next = int(meta["next"])
        if len(kb.index) != len(kb.texts):
            raise ValueError(f"knowledge base {d}: index has {len(kb.index)} vectors but {len(kb.texts)} texts")
        return kb
