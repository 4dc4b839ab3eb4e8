"""A byte-level interpolated Kneser-Ney n-gram model: the CI-sized :class:`NextTokenModel` for
arithmetic coding (no LLM needed).

    model = ByteNgramModel.train(load_sentences("web", "train"), order=6)
    ctx = model.context(); p = ctx.next_probs(); ctx.append(ord("I"))     # float32 [257]

Tokens are the 256 byte values of the UTF-8 text plus the end token 256 (which also pads the start
context), so any text is codable losslessly. Probabilities (interpolated Kneser-Ney, absolute discount
``D`` per order; the highest order uses counts, lower orders continuation counts; the base is uniform):

    p_k(s | h) = max(c_k(h s) - D, 0) / c_k(h) + D * N1+(h .) / c_k(h) * p_{k-1}(s | h')

where ``h'`` drops the oldest symbol of ``h`` and an unseen ``h`` defers to ``p_{k-1}`` entirely.
Counts are stored per order as sorted int64 keys (the n-gram in base 257) with their counts; one
query is ``order`` vectorised ``searchsorted`` calls over the 257 continuations. Deterministic
(integer counts, float64 arithmetic, float32 output).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

BASE = 257  # 256 bytes + the end/pad symbol
EOS = 256


class ByteNgramModel:
    """Byte n-gram model (``order`` = n-gram length, 1..7). Build with :meth:`train` or :meth:`load`."""

    vocab_size = BASE
    eos_id = EOS
    total = 1 << 16
    max_symbols = 4096

    def __init__(self, order: int, keys: list[np.ndarray], counts: list[np.ndarray], discount: float = 0.75,
                 name: str = "byte-ngram") -> None:
        if not 1 <= order <= 7:
            raise ValueError(f"ByteNgramModel order={order}: expected 1..7 (keys are int64 in base {BASE})")
        self.order, self.keys, self.counts, self.discount = int(order), keys, counts, float(discount)
        self.name = f"{name}{order}"
        # per order k (context length k-1): context keys, their totals and distinct continuations
        self._ctx, self._ctx_tot, self._ctx_n1 = [], [], []
        for k in range(self.order):
            ctx_keys, inv = np.unique(keys[k] // BASE, return_inverse=True)
            self._ctx.append(ctx_keys)
            self._ctx_tot.append(np.bincount(inv, weights=counts[k]).astype(np.float64))
            self._ctx_n1.append(np.bincount(inv).astype(np.float64))
        self._cont = np.arange(BASE, dtype=np.int64)

    # ------------------------------------------------------------------ training / storage
    @classmethod
    def train(cls, texts: Iterable[str], order: int = 6, discount: float = 0.75) -> "ByteNgramModel":
        """Count the n-grams of ``texts`` (each padded with ``order - 1`` start symbols and ended by EOS)."""
        seqs = []
        for t in texts:
            b = np.frombuffer(t.encode("utf-8"), np.uint8).astype(np.int64)
            seqs.append(np.concatenate([np.full(order - 1, EOS, np.int64), b, [EOS]]))
        if not seqs:
            raise ValueError("ByteNgramModel.train: no texts")
        keys, counts = [None] * order, [None] * order
        # highest order: raw counts of every n-gram ending at a real position
        win = [np.lib.stride_tricks.sliding_window_view(s, order) for s in seqs]
        grams = np.concatenate(win) @ (BASE ** np.arange(order - 1, -1, -1, dtype=np.int64))
        keys[order - 1], counts[order - 1] = np.unique(grams, return_counts=True)
        # lower orders: continuation counts = number of distinct one-symbol-longer left extensions
        for k in range(order - 1, 0, -1):
            suffix = keys[k] % (BASE ** k)
            keys[k - 1], counts[k - 1] = np.unique(suffix, return_counts=True)
        return cls(order, keys, [c.astype(np.int64) for c in counts], discount)

    def save(self, path: str | Path) -> None:
        arrays = {f"keys{k}": self.keys[k] for k in range(self.order)}
        arrays.update({f"counts{k}": self.counts[k] for k in range(self.order)})
        np.savez(Path(path), order=self.order, discount=self.discount, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "ByteNgramModel":
        with np.load(Path(path)) as z:
            order = int(z["order"])
            return cls(order, [z[f"keys{k}"] for k in range(order)], [z[f"counts{k}"] for k in range(order)],
                       float(z["discount"]))

    # ------------------------------------------------------------------ NextTokenModel
    def tokenize(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def detokenize(self, ids: Sequence[int]) -> str:
        if any(not 0 <= int(i) < 256 for i in ids):
            raise ValueError("ByteNgramModel.detokenize: ids outside 0..255")
        try:
            return bytes(int(i) for i in ids).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"ByteNgramModel.detokenize: not UTF-8 ({err})") from None

    def probs(self, history: Sequence[int]) -> np.ndarray:
        """Next-symbol probabilities float32 ``[257]`` after ``history`` (start padding implied)."""
        h = [EOS] * (self.order - 1) + [int(x) for x in history]
        p = np.full(BASE, 1.0 / BASE)
        for k in range(self.order):  # k = context length
            ctx = 0
            for x in h[len(h) - k:] if k else []:
                ctx = ctx * BASE + x
            i = int(np.searchsorted(self._ctx[k], ctx))
            if i == len(self._ctx[k]) or self._ctx[k][i] != ctx:
                continue  # unseen context: keep the lower-order distribution
            tot, n1 = self._ctx_tot[k][i], self._ctx_n1[k][i]
            q = ctx * BASE + self._cont
            j = np.searchsorted(self.keys[k], q)
            jc = np.minimum(j, len(self.keys[k]) - 1)
            c = np.where(self.keys[k][jc] == q, self.counts[k][jc], 0).astype(np.float64)
            d = min(self.discount, 1.0)
            p = np.maximum(c - d, 0.0) / tot + (d * n1 / tot) * p
        return p.astype(np.float32)

    def context(self) -> "_NgramContext":
        return _NgramContext(self)

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Log-probability (nats) of each whole text including its end symbol: float64 ``[B]``."""
        out = np.zeros(len(texts), np.float64)
        for i, t in enumerate(texts):
            seq = self.tokenize(t) + [EOS]
            for j, x in enumerate(seq):
                h = seq[max(0, j - self.order + 1):j] if self.order > 1 else []
                out[i] += float(np.log(max(float(self.probs(h)[x]), 1e-30)))
        return out

    def fingerprint(self) -> str:
        h = hashlib.sha1(f"{self.order}:{self.discount}".encode())
        for k in range(self.order):
            h.update(self.keys[k].tobytes())
            h.update(self.counts[k].tobytes())
        return h.hexdigest()[:16]


class _NgramContext:
    def __init__(self, model: ByteNgramModel) -> None:
        self.model, self.history = model, []

    def next_probs(self) -> np.ndarray:
        return self.model.probs(self.history[-(self.model.order - 1):] if self.model.order > 1 else [])

    def append(self, token: int) -> None:
        self.history.append(int(token))
