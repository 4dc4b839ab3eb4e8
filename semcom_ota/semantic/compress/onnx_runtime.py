"""ONNX export of a LAM encoder and an ONNX Runtime backend with the torch backend's interface.

    path = export_lam_onnx(load_lam(), "minilm.onnx")
    enc = OrtLamEncoder(path, tokenizer=load_lam().tokenizer)
    emb = enc.sentence_embeddings(["In the beginning..."])      # float32 [B, 384], unit norm
    enc.provider                                                 # the provider that actually runs
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)


class _LastHidden(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export_lam_onnx(model: torch.nn.Module, path: str | Path, tokenizer=None, opset: int = 17) -> Path:
    """Export an HF encoder (``input_ids``, ``attention_mask`` int64 ``[B, L]`` -> ``hidden`` float32
    ``[B, L, D]``) with dynamic batch and length. Weights over 2 GB go to external data automatically.

    The export uses the eager attention (a copy of ``model``; ``model`` itself is untouched): its
    ``MatMul -> Add(mask) -> Softmax -> MatMul`` pattern is what ONNX Runtime's transformer optimizer
    fuses into ``Attention`` (the SDPA export is not recognised). The head count and heads x head size
    (pruning changes both) are written to the model's metadata (``num_heads``, ``attention_hidden``)
    for that optimizer."""
    import copy
    import warnings

    path = Path(path)
    if getattr(getattr(model, "config", None), "_attn_implementation", "eager") != "eager":
        model = copy.deepcopy(model)
        model.set_attn_implementation("eager")
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.full((2, 16), 101, dtype=torch.long)
    attn = torch.ones((2, 16), dtype=torch.long)
    attn[1, 10:] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _LastHidden(model).eval(), (ids, attn), str(path),
            input_names=["input_ids", "attention_mask"], output_names=["hidden"],
            dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
                          "hidden": {0: "batch", 1: "length"}},
            opset_version=opset, dynamo=False,
        )
    att = getattr(getattr(getattr(model, "encoder", None), "layer", [None])[0], "attention", None)
    if att is not None and hasattr(att.self, "num_attention_heads"):
        import onnx

        m = onnx.load(str(path))
        for key, value in (("num_heads", att.self.num_attention_heads), ("attention_hidden", att.self.all_head_size)):
            m.metadata_props.add(key=key, value=str(int(value)))
        onnx.save(m, str(path))
    return path


#: ONNX Runtime graph optimisers every session here leaves out: on this CPU the contrib
#: ``SkipLayerNormalization`` kernel takes 2.6 ms on a ``[32, 32, 384]`` input where ``Add + Add +
#: LayerNormalization`` take 0.8 ms (min of 40 alternating runs, one thread), so fusing them slows the
#: int8 MiniLM down by ~10 % at batch 32 (BENCHMARKS.md, MiniLM compression)
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def make_session(path: str | Path, device: str = "cpu", threads: int | None = None):
    """An ONNX Runtime session (all graph optimisations except :data:`DISABLED_OPTIMIZERS`);
    ``device='cuda'`` needs ``onnxruntime-gpu`` and a GPU, else a clear error."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model {path}: not found")
    available = ort.get_available_providers()
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError(f"device 'cuda' asked, but ONNX Runtime offers {available}: install the opt-in extra "
                               "onnxruntime-gpu (it conflicts with onnxruntime: uninstall that first) on a machine with an NVIDIA GPU")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    elif device == "cpu":
        providers = ["CPUExecutionProvider"]
    else:
        raise ValueError(f"device={device!r}: expected 'cpu' or 'cuda'")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers,
                                    disabled_optimizers=list(DISABLED_OPTIMIZERS))
    except Exception as err:  # ORT raises its own exception types for corrupt files
        raise RuntimeError(f"ONNX model {path}: failed to load ({type(err).__name__}: {err})") from None


class OrtLamEncoder:
    """A LAM encoder run by ONNX Runtime, with the torch :class:`~semcom_ota.semantic.lam.LamBackend` interface."""

    def __init__(self, path: str | Path, tokenizer, device: str = "cpu", threads: int | None = None) -> None:
        self.path = Path(path)
        self.tokenizer = tokenizer
        self.session = make_session(self.path, device, threads)
        names = [i.name for i in self.session.get_inputs()]
        if names != ["input_ids", "attention_mask"]:
            raise ValueError(f"ONNX model {self.path}: inputs {names}, expected ['input_ids', 'attention_mask'] "
                             "(export it with export_lam_onnx)")

    @property
    def provider(self) -> str:
        """The execution provider that actually runs (first of the session's providers)."""
        return self.session.get_providers()[0]

    def token_features(self, ids: np.ndarray, attention: np.ndarray) -> np.ndarray:
        """float32 ``[B, L, D]`` last hidden state."""
        feeds = {"input_ids": np.asarray(ids, np.int64), "attention_mask": np.asarray(attention, np.int64)}
        return self.session.run(["hidden"], feeds)[0]

    def sentence_embeddings(self, texts: Sequence[str], batch_size: int = 64, max_tokens: int = 128) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence embeddings, float32 ``[B, D]`` (the all-MiniLM-L6-v2 recipe)."""
        texts = [t if t else " " for t in texts]
        out = []
        for s in range(0, len(texts), batch_size):
            enc = self.tokenizer(texts[s:s + batch_size], max_length=max_tokens, truncation=True, padding=True, return_tensors="np")
            h = self.token_features(enc["input_ids"], enc["attention_mask"])
            m = enc["attention_mask"][..., None].astype(np.float32)
            e = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)
