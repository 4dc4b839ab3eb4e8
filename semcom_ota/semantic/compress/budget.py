"""Adaptive model compression: build candidates in order of increasing compression, measure them on
*this* machine, and pick the least compression that meets a latency / size budget.

Candidates for the LAM encoder (MiniLM-L6):

=====================  =========================================================
``torch-fp32``         the frozen Hugging Face model, torch, float32 (reference)
``ort-fp32``           the same graph exported to ONNX, run by ONNX Runtime
``ort-int8``           int8, calibrated on real training sentences, with the ``int8_recipe`` of
                       :data:`~.quantize.LAM_RECIPES` (default ``fused``: the graph fused by ONNX
                       Runtime's BERT optimizer, weight MatMuls static int8 QDQ with the residual
                       branch and bias adds in float, Attention ops dynamic int8 ``QAttention``)
``pruned-int8``        4 of 6 layers, 8 of 12 heads, 75 % FFN channels, distilled, then int8
``pruned-small-int8``  3 layers, 6 heads, 50 % FFN, distilled, then int8
=====================  =========================================================

Quality: mean cosine between the candidate's and the fp32 sentence embeddings, paraphrase
retrieval top-1 (KJV verse → its WEB rendering among the pool) on held-out TEST sentences, and, when
the builder has a text codec card, the MiniLM similarity of the text codec's output at 5 dB AWGN
with the candidate as its LAM encoder (same seeded channel noise for every candidate).
"""

from __future__ import annotations

import hashlib
import logging
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import yaml

from semcom_ota.semantic.compress.onnx_runtime import OrtLamEncoder, export_lam_onnx
from semcom_ota.semantic.compress.prune import distill, prune_ffn, prune_heads, prune_layers
from semcom_ota.semantic.compress.quantize import DEFAULT_LAM_RECIPE, LAM_RECIPES, quantize_lam_int8

log = logging.getLogger(__name__)

CANDIDATES = ("torch-fp32", "ort-fp32", "ort-int8", "pruned-layer-int8", "pruned-int8", "pruned-small-int8")
# (transformer layers kept, attention heads kept per layer, FFN fraction kept), least pruned first
PRUNE_PLANS = {"pruned-layer-int8": (5, 12, 1.0), "pruned-int8": (4, 8, 0.75), "pruned-small-int8": (3, 6, 0.5)}
DISTILL_STEPS, DISTILL_LR = 600, 1e-4  # batches of 32 TRAIN sentences; constant AdamW learning rate


@dataclass
class Measured:
    """One candidate measured on this machine."""

    name: str
    path: str  # model file ('' for torch)
    size_mb: float
    latency_ms_b1: float  # median, batch 1, ``seq_len`` tokens, ``threads`` threads
    latency_ms_b32: float
    cosine_to_fp32: float  # mean over test sentences
    paraphrase_top1: float  # KJV -> WEB retrieval accuracy on test pairs
    provider: str
    extra: dict = field(default_factory=dict)
    channel_similarity: float = float("nan")  # text codec output vs input, MiniLM similarity, 5 dB AWGN (nan: not measured)


@dataclass
class EvalSet:
    """Held-out data the candidates are scored on (never used to build them)."""

    sentences: list[str]
    pairs: list[tuple[str, str]]
    reference: np.ndarray  # fp32 embeddings of ``sentences``


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return float(statistics.median(times))


def _torch_embed(model, tokenizer, texts, max_tokens=128):
    with torch.no_grad():
        enc = tokenizer(list(texts), max_length=max_tokens, truncation=True, padding=True, return_tensors="pt")
        h = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).float()
        e = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return torch.nn.functional.normalize(e, dim=-1).numpy()


def paraphrase_top1(embed: Callable[[Sequence[str]], np.ndarray], pairs: Sequence[tuple[str, str]]) -> float:
    """Fraction of KJV verses whose nearest WEB verse (cosine) is their own rendering."""
    a = embed([p[0] for p in pairs])
    b = embed([p[1] for p in pairs])
    return float(np.mean(np.argmax(a @ b.T, axis=1) == np.arange(len(pairs))))


def _score(embed, evalset: EvalSet) -> tuple[float, float]:
    e = embed(evalset.sentences)
    return float(np.mean(np.sum(e * evalset.reference, axis=1))), paraphrase_top1(embed, evalset.pairs)


class _LamWithFeatures:
    """The torch LAM with its ``token_features`` replaced by a candidate's (everything else delegated)."""

    def __init__(self, lam, token_features: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self._lam, self._features = lam, token_features

    def __getattr__(self, name):
        return getattr(self._lam, name)

    def token_features(self, ids, attention) -> torch.Tensor:
        a = np.asarray(attention)
        h = np.asarray(self._features(np.asarray(ids, np.int64), a.astype(np.int64)), np.float32)
        return torch.from_numpy(h * a[..., None])  # zero at padding, like LamBackend.token_features


def channel_similarity(codec, texts: Sequence[str], token_features=None, snr_db: float = 5.0, seed: int = 0) -> float:
    """Mean MiniLM similarity (fp32 MiniLM) between ``texts`` and the text codec's output after the AWGN
    twin at ``snr_db`` (full frame, ``codec.n_symbols`` channel uses), with ``token_features(ids, attn) ->
    float [B, L, D]`` as the codec's LAM encoder (``None``: its own torch LAM). The noise is seeded, so
    two encoders see the same channel realisation and their difference is the encoder's alone."""
    import copy

    from semcom_ota.channel.twin import ChannelTwin
    from semcom_ota.eval.text_metrics import similarity

    c = codec
    if token_features is not None:
        c = copy.copy(codec)
        c.lam = _LamWithFeatures(codec.lam, token_features)
    texts = list(texts)
    n = c.n_symbols
    x = np.concatenate([c.encode_batch(texts[s:s + 64], n, snr_db) for s in range(0, len(texts), 64)])
    with torch.no_grad():
        zh, nv = ChannelTwin("awgn")(torch.from_numpy(x), float(snr_db), generator=torch.Generator().manual_seed(seed))
    zh, nv, mask = zh.numpy(), nv.numpy(), np.ones(x.shape, bool)
    hyps = []
    for s in range(0, len(texts), 64):
        hyps += c.decode_batch(zh[s:s + 64], nv[s:s + 64], mask[s:s + 64], snr_db)
    return float(np.mean(similarity(hyps, texts, codec.lam)))


def _latencies(run_batch: Callable[[Sequence[str]], object], texts: Sequence[str], repeats: int) -> tuple[float, float]:
    b1 = _median_ms(lambda: run_batch(texts[:1]), repeats)
    b32 = _median_ms(lambda: run_batch(texts[:32]), max(3, repeats // 4))
    return b1, b32


class CandidateBuilder:
    """Builds and measures the candidates of one LAM encoder in ``work_dir``."""

    def __init__(self, lam, evalset: EvalSet, calibration: Sequence[str], distill_texts: Sequence[str], work_dir: Path,
                 device: str = "cpu", threads: int = 1, repeats: int = 20, distill_steps: int = DISTILL_STEPS,
                 distill_lr: float = DISTILL_LR, seq_len: int = 32,
                 int8_recipe: str = DEFAULT_LAM_RECIPE, codec_card: str | Path | None = None, channel_snr_db: float = 5.0) -> None:
        if int8_recipe not in LAM_RECIPES:
            raise ValueError(f"int8_recipe={int8_recipe!r}: expected one of {list(LAM_RECIPES)}")
        self.lam, self.evalset, self.calibration, self.distill_texts = lam, evalset, list(calibration), list(distill_texts)
        self.work_dir, self.device, self.threads, self.repeats = Path(work_dir), device, threads, repeats
        self.distill_steps, self.distill_lr = distill_steps, distill_lr
        self.seq_len, self.int8_recipe, self.channel_snr_db = seq_len, int8_recipe, channel_snr_db
        self.codec = None
        if codec_card is not None:  # the text codec whose LAM encoder the candidates replace
            from semcom_ota.semantic.text.codec import TextSemanticCodec

            self.codec = TextSemanticCodec(codec_card)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # latency inputs: real sentences padded/truncated to seq_len tokens
        self.bench_texts = [s for s in evalset.sentences if len(s.split()) >= 12][:32] or evalset.sentences[:32]

    def _ort(self, name: str, path: Path, extra: dict | None = None) -> Measured:
        enc = OrtLamEncoder(path, self.lam.tokenizer, device=self.device, threads=self.threads)
        tok = self.lam.tokenizer

        def run(texts):
            e = tok(list(texts), max_length=self.seq_len, truncation=True, padding="max_length", return_tensors="np")
            return enc.token_features(e["input_ids"], e["attention_mask"])

        b1, b32 = _latencies(run, self.bench_texts, self.repeats)
        cos, top1 = _score(enc.sentence_embeddings, self.evalset)
        extra = dict(extra or {})
        if "int8_recipe" in extra:
            extra["calibration_sentences"] = len(self.calibration)
        return Measured(name, str(path), path.stat().st_size / 2**20, b1, b32, cos, top1, enc.provider, extra,
                        self._channel(enc.token_features))

    def _channel(self, token_features=None) -> float:
        if self.codec is None:
            return float("nan")
        return channel_similarity(self.codec, self.evalset.sentences, token_features, self.channel_snr_db)

    def build_int8(self, recipe: str) -> Measured:
        """The ``ort-int8`` candidate quantised with another recipe of :data:`LAM_RECIPES` (for comparisons),
        named ``ort-int8[recipe]``."""
        if recipe not in LAM_RECIPES:
            raise ValueError(f"int8 recipe {recipe!r}: expected one of {list(LAM_RECIPES)}")
        torch.set_num_threads(self.threads)
        fp32 = self.work_dir / "encoder_fp32.onnx"
        if not fp32.is_file():
            export_lam_onnx(self.lam.model, fp32)
        out = quantize_lam_int8(fp32, self.work_dir / f"encoder_int8_{recipe.replace('+', '_')}.onnx", self.lam.tokenizer,
                                self.calibration, recipe)
        return self._ort(f"ort-int8[{recipe}]", out, {"int8_recipe": recipe})

    def build(self, name: str) -> Measured:
        if name not in CANDIDATES:
            raise ValueError(f"candidate {name!r}: expected one of {CANDIDATES}")
        torch.set_num_threads(self.threads)
        model, tok = self.lam.model, self.lam.tokenizer
        if name == "torch-fp32":
            def run(texts):
                with torch.no_grad():
                    e = tok(list(texts), max_length=self.seq_len, truncation=True, padding="max_length", return_tensors="pt")
                    return model(**e).last_hidden_state

            b1, b32 = _latencies(run, self.bench_texts, self.repeats)
            cos, top1 = _score(lambda t: _torch_embed(model, tok, t), self.evalset)
            size = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
            return Measured(name, "", size, b1, b32, cos, top1, "torch-cpu", {}, self._channel())
        fp32 = self.work_dir / "encoder_fp32.onnx"
        if name == "ort-fp32":
            export_lam_onnx(model, fp32)
            return self._ort(name, fp32)
        if name == "ort-int8":
            if not fp32.is_file():
                export_lam_onnx(model, fp32)
            out = quantize_lam_int8(fp32, self.work_dir / "encoder_int8.onnx", tok, self.calibration, self.int8_recipe)
            return self._ort(name, out, {"int8_recipe": self.int8_recipe})
        layers, heads, ffn = PRUNE_PLANS[name]
        student = prune_ffn(prune_heads(prune_layers(model, layers), heads), ffn)
        info = distill(student, model, tok, self.distill_texts, steps=self.distill_steps, lr=self.distill_lr)
        p32 = export_lam_onnx(student, self.work_dir / f"{name}_fp32.onnx")
        out = quantize_lam_int8(p32, self.work_dir / f"{name}.onnx", tok, self.calibration, self.int8_recipe)
        p32.unlink(missing_ok=True)
        return self._ort(name, out, {"layers": layers, "heads": heads, "ffn_keep": ffn, "distill": info,
                                     "int8_recipe": self.int8_recipe})


def meets(m: Measured, budget_ms: float | None, budget_mb: float | None) -> bool:
    return (budget_ms is None or m.latency_ms_b1 <= budget_ms) and (budget_mb is None or m.size_mb <= budget_mb)


def pick_least_compression(builder: CandidateBuilder, budget_ms: float | None, budget_mb: float | None,
                           names: Sequence[str] = CANDIDATES, on_measured: Callable[[Measured], None] | None = None) -> tuple[Measured | None, list[Measured]]:
    """Build and measure candidates in order of increasing compression; return the first that meets
    the budget (or ``None``) and every measurement made."""
    measured = []
    for name in names:
        m = builder.build(name)
        measured.append(m)
        if on_measured:
            on_measured(m)
        if meets(m, budget_ms, budget_mb):
            return m, measured
    return None, measured


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_card(m: Measured, card_path: Path, model: str, budget_ms: float | None, budget_mb: float | None, threads: int) -> Path:
    """A model card with what was measured, where, and the file's checksum (checked on load)."""
    card = {
        "model": model,
        "variant": m.name,
        "file": Path(m.path).name if m.path else "",
        "sha256": sha256(m.path) if m.path else "",
        "measured": {k: v for k, v in asdict(m).items() if k not in ("name", "path")},
        "budget": {"latency_ms_b1": budget_ms, "size_mb": budget_mb},
        "quantisation": _quantisation_note(m.extra.get("int8_recipe"), m.extra.get("calibration_sentences")),
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": threads},
        "inputs": ["input_ids", "attention_mask"],
    }
    card_path.write_text(yaml.safe_dump(card, sort_keys=False))
    return card_path


def _quantisation_note(recipe: str | None, n_calibration: int | None) -> dict | None:
    """What the card says about how an int8 candidate was quantised (``None`` for float candidates)."""
    if recipe is None:
        return None
    fmt = ("ONNX QDQ, activations uint8 per tensor (MinMax over the calibration set unless the recipe says "
           "otherwise), weights int8 symmetric per output channel, embedding tables int8 rows")
    if "fuse" in LAM_RECIPES[recipe]:
        fmt = ("graph fused by onnxruntime.transformers (Attention, BiasGelu" + (" as FastGelu" if LAM_RECIPES[recipe]["fuse"].get("fast_gelu") else "")
               + "); weight MatMuls " + fmt + "; Attention ops dynamic int8 QAttention (input range per call, "
               "Q/K/V weight int8 per column); sessions run without SkipLayerNormFusion")
    return {"recipe": recipe, "format": fmt,
            "options": {k: (v.__name__ if callable(v) else v) for k, v in LAM_RECIPES[recipe].items()},
            "calibration": f"{n_calibration} TRAIN sentences (WEB + fortunes for semcom compress), never the test split"}


def verified_model_file(card_path: str | Path) -> tuple[dict, Path]:
    """Read a compressed-model card and return ``(card, model file)`` after checking that the file
    exists and its SHA-256 matches the card — a mismatch is a clear error, never a silent fallback."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise FileNotFoundError(f"compressed-model card {card_path}: not found")
    card = yaml.safe_load(card_path.read_text()) or {}
    fname = card.get("file")
    if not fname:
        raise ValueError(f"card {card_path}: key 'file' = {fname!r}: expected the ONNX file name (a torch-fp32 card has no file)")
    path = card_path.parent / fname
    if not path.is_file():
        raise FileNotFoundError(f"card {card_path}: model file {path} not found")
    digest = sha256(path)
    if digest != card.get("sha256"):
        raise ValueError(f"card {card_path}: {path.name} has sha256 {digest[:12]}…, the card says {str(card.get('sha256'))[:12]}…: "
                         "the file does not match its card (rebuild with `semcom compress`)")
    return card, path


def load_compressed_encoder(card_path: str | Path, tokenizer, device: str = "cpu") -> OrtLamEncoder:
    """Load a compressed LAM encoder by its card (see :func:`verified_model_file`)."""
    _, path = verified_model_file(card_path)
    return OrtLamEncoder(path, tokenizer, device=device)


def minilm_builder(work_dir: Path, device: str = "cpu", threads: int = 1, n_eval: int = 256, repeats: int = 20,
                   distill_steps: int = DISTILL_STEPS, distill_lr: float = DISTILL_LR, lam_source: str | None = None,
                   int8_recipe: str = DEFAULT_LAM_RECIPE,
                   codec_card: str | Path | None = "models/text_semantic.yaml") -> CandidateBuilder:
    """The candidate builder for the LAM text encoder, with data from the project's loaders:
    calibration and distillation on WEB + fortunes TRAIN sentences, scoring on TEST sentences and
    TEST KJV/WEB paraphrase pairs, and through ``codec_card``'s text codec at 5 dB AWGN (skipped, with
    a warning, when that card is missing; ``None`` skips it)."""
    from semcom_ota.data import load_paraphrase_pairs, load_sentences
    from semcom_ota.semantic.lam import DEFAULT_LAM, load_lam

    lam = load_lam(lam_source or DEFAULT_LAM)
    rng = np.random.default_rng(0)
    test = load_sentences("web", "test") + load_sentences("fortunes", "test")
    test = [test[i] for i in rng.choice(len(test), min(n_eval, len(test)), replace=False)]
    pairs = load_paraphrase_pairs("test")
    pairs = [pairs[i] for i in rng.choice(len(pairs), min(n_eval, len(pairs)), replace=False)]
    train = load_sentences("web", "train") + load_sentences("fortunes", "train")
    train = [train[i] for i in rng.choice(len(train), min(6000, len(train)), replace=False)]
    reference = _torch_embed(lam.model, lam.tokenizer, test)
    if codec_card is not None and not Path(codec_card).is_file():
        log.warning("text codec card %s not found: the channel similarity is not measured", codec_card)
        codec_card = None
    return CandidateBuilder(lam, EvalSet(test, pairs, reference), calibration=train[:256], distill_texts=train,
                            work_dir=work_dir, device=device, threads=threads, repeats=repeats, distill_steps=distill_steps,
                            distill_lr=distill_lr,
                            int8_recipe=int8_recipe, codec_card=codec_card)
