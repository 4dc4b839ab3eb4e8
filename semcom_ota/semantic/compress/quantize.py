"""Static int8 QDQ quantisation with ONNX Runtime, calibrated on real sentences.

Dynamic int8 is slower for convolutions on this CPU (DESIGN §5), so the static QDQ form is the default:
activations get scales from a calibration set, weights are quantised per channel.

The LAM text encoder (a post-LayerNorm BERT) is quantised with a named recipe from :data:`LAM_RECIPES`
(default :data:`DEFAULT_LAM_RECIPE`); :func:`quantize_lam_int8` applies one. ONNX Runtime's QDQ
quantiser rewires *every* consumer of a quantised activation to its int8 round trip, so by default
the LayerNorm outputs that feed the residual branch and the MatMul outputs that feed the bias adds go
through uint8 too; ``float-residual`` keeps those in float (only the MatMul inputs are quantised, and
the optimised graph runs ``MatMulIntegerToFloat``), which is what brings the int8 encoder within 0.01
cosine of fp32. ``fused`` does the same on the graph fused by ONNX Runtime's BERT optimizer and runs
the attention as int8 ``QAttention`` (one Q/K/V GEMM, no transposes / masks / softmax as separate
ops); ``fused+fast-gelu`` (the default) also computes GELU with the tanh approximation. The other recipes are the alternatives measured against it (BENCHMARKS.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

log = logging.getLogger(__name__)


class _SentenceReader:
    """ONNX Runtime CalibrationDataReader over tokenised sentences (batches of ``batch_size``)."""

    def __init__(self, tokenizer, texts: Sequence[str], max_tokens: int, batch_size: int = 16) -> None:
        self._batches = []
        for s in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[s:s + batch_size]), max_length=max_tokens, truncation=True, padding="max_length", return_tensors="np")
            self._batches.append({"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)})
        self._it = iter(self._batches)

    def get_next(self):
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._batches)


class FeedReader:
    """ONNX Runtime CalibrationDataReader over ready-made input feeds (``{input name: array}`` per batch),
    for models whose inputs are not sentences (images, SNRs)."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        if not feeds:
            raise ValueError("FeedReader: no calibration batches, expected at least one {input name: array} feed")
        self._batches = list(feeds)
        self._it = iter(self._batches)

    def get_next(self):
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._batches)


def quantize_static_int8(fp32_path: str | Path, int8_path: str | Path, tokenizer=None, calibration_texts: Sequence[str] = (),
                         max_tokens: int = 64, per_channel: bool = True, calibration_reader=None,
                         op_types: Sequence[str] = ("MatMul", "Gemm", "Conv"), extra_options: dict | None = None,
                         nodes_to_exclude: Sequence[str] = (), calibration_method: str = "MinMax",
                         reduce_range: bool = False, smooth_alpha: float | None = None,
                         smooth_select: Callable[[str], bool] | None = None, weight_only: Sequence[str] = (),
                         outlier_threshold: float | None = None, outlier_select: Callable[[str], bool] | None = None,
                         outlier_max_channels: int = 32, float_bypass: bool = False) -> Path:
    """Write a static int8 QDQ model calibrated on ``calibration_texts`` (real sentences, not the test split),
    or, for non-text models, on ``calibration_reader`` (e.g. a :class:`FeedReader` of real training images).

    ``extra_options`` are merged into ONNX Runtime's ``quantize_static`` extra options (e.g.
    ``{"CalibPercentile": 99.99}`` with ``calibration_method="Percentile"``). ``smooth_alpha`` first
    migrates activation outliers into the weights (:func:`smooth_activations`, on the same calibration
    batches; ``smooth_select`` picks the MatMuls by name). ``weight_only`` MatMuls keep float activations
    and get int8 weights + ``DequantizeLinear`` (:func:`weight_only_int8`). ``outlier_threshold`` routes
    outlier input channels around int8 (:func:`split_outlier_channels`; ``outlier_select`` picks the MatMuls).
    ``float_bypass`` gives every consumer that is not a quantised op (residual adds, LayerNorms) the float
    activation instead of its int8 round trip (:func:`restore_float_consumers`)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibration_reader is None and len(calibration_texts) < 8:
        raise ValueError(f"calibration_texts: {len(calibration_texts)} sentences, expected at least 8 real sentences")
    if calibration_method not in CalibrationMethod.__members__:
        raise ValueError(f"calibration_method={calibration_method!r}: expected one of {list(CalibrationMethod.__members__)}")
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    pre = int8_path.with_suffix(".pre.onnx")
    reader = calibration_reader or _SentenceReader(tokenizer, calibration_texts, max_tokens)
    src = fp32_path
    if outlier_threshold is not None:
        src = int8_path.with_suffix(".split.onnx")
        _, overrides = split_outlier_channels(fp32_path, src, reader, outlier_select, outlier_threshold, outlier_max_channels)
        extra_options = {**(extra_options or {}), "TensorQuantOverrides": {**(extra_options or {}).get("TensorQuantOverrides", {}), **overrides}}
    if smooth_alpha is not None:
        smoothed = int8_path.with_suffix(".smooth.onnx")
        smooth_activations(src, smoothed, reader, smooth_alpha, smooth_select)
        if src != fp32_path:
            src.unlink(missing_ok=True)
        src = smoothed
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    if src != fp32_path:
        src.unlink(missing_ok=True)
    quantize_static(
        str(pre), str(int8_path), reader,
        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,  # U8S8: the fast x86 kernels
        per_channel=per_channel, reduce_range=reduce_range, calibrate_method=CalibrationMethod[calibration_method],
        op_types_to_quantize=list(op_types),
        # activation x activation products (attention scores) lose most in int8 and save little
        nodes_to_exclude=activation_matmuls(pre) + outlier_matmuls(pre) + list(nodes_to_exclude) + list(weight_only),
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True, **(extra_options or {})},
    )
    if float_bypass:
        excluded = set(activation_matmuls(pre) + outlier_matmuls(pre) + list(nodes_to_exclude) + list(weight_only))
        restore_float_consumers(int8_path, int8_path, lambda n: n.op_type in op_types and n.name not in excluded)
    pre.unlink(missing_ok=True)
    if weight_only:
        weight_only_int8(int8_path, int8_path, weight_only)
    # the embedding tables hold half the weights: int8 rows there make the file ~4x smaller
    quantize_embedding_tables(int8_path, int8_path)
    return int8_path


_FLOAT_RESIDUAL = {"float_bypass": True, "extra_options": {"OpTypesToExcludeOutputQuantization": ["MatMul"]}}


def _ffn_output(name: str) -> bool:
    """The FFN output projection of a BERT layer (``.../output/dense/MatMul``, not the attention one)."""
    return "/output/dense/" in name and "/attention/" not in name


#: named int8 recipes for the LAM encoder: :func:`quantize_static_int8` keyword arguments, plus
#: ``fuse`` (:func:`quantize_lam_int8`: fuse the float graph first, int8 ``QAttention`` after)
LAM_RECIPES: dict[str, dict] = {
    # the earlier default: MinMax QDQ, MatMul outputs and the residual branch through uint8 as well
    "legacy": {},
    "float-residual": _FLOAT_RESIDUAL,
    # + up to 4 outlier input channels (> 5x the median channel range) of each MatMul input in float
    "float-residual+outlier-split": {**_FLOAT_RESIDUAL, "outlier_threshold": 5.0, "outlier_max_channels": 4},
    # + SmoothQuant scale migration (alpha 0.5) on every MatMul
    "float-residual+smoothquant": {**_FLOAT_RESIDUAL, "smooth_alpha": 0.5},
    # + percentile (99.99) activation ranges instead of min/max
    "float-residual+percentile": {**_FLOAT_RESIDUAL, "calibration_method": "Percentile",
                                  "extra_options": {**_FLOAT_RESIDUAL["extra_options"], "CalibPercentile": 99.99}},
    # legacy, but the six FFN output MatMuls weight-only int8 (float activations, DequantizeLinear weights)
    "legacy+weight-only-ffn-out": {"weight_only": _ffn_output},
    # float-residual on the fused graph (ONNX Runtime's BERT optimizer: Attention, BiasGelu), then the
    # Attention ops dynamic int8 (QAttention: one [384, 1152] int8 Q/K/V GEMM + the attention core)
    "fused": {**_FLOAT_RESIDUAL, "fuse": {"fast_gelu": False}},
    # the same with the tanh GELU approximation (FastGelu) instead of erf (BiasGelu)
    "fused+fast-gelu": {**_FLOAT_RESIDUAL, "fuse": {"fast_gelu": True}},
}
DEFAULT_LAM_RECIPE = "fused+fast-gelu"


def fuse_bert_graph(src: str | Path, dst: str | Path, num_heads: int = 0, hidden_size: int = 0) -> dict[str, int]:
    """Run ONNX Runtime's transformer optimizer (``model_type='bert'``, python fusions only) on a float
    BERT export: ``Attention`` (Q/K/V as one ``[D, 3D]`` GEMM + mask + softmax), ``BiasGelu``. The
    embedding LayerNorm and the ``SkipLayerNormalization`` fusions are left out (the first keeps the
    embedding table a plain ``Gather`` for :func:`quantize_embedding_tables`, the second is slower here,
    see :data:`~.onnx_runtime.DISABLED_OPTIMIZERS`). ``num_heads=0`` / ``hidden_size=0`` read the
    attention shape from the metadata :func:`~.onnx_runtime.export_lam_onnx` writes (then the optimizer's
    own guess).
    Every contrib-op output gets a float ``value_info`` so the quantiser can type it.
    Returns the fused operator counts (e.g. ``{"Attention": 6, "BiasGelu": 6}``)."""
    import onnx
    from onnx import TensorProto, helper
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    meta = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    num_heads = num_heads or int(meta.get("num_heads", 0))
    hidden_size = hidden_size or int(meta.get("attention_hidden", 0))
    options = FusionOptions("bert")
    options.enable_embed_layer_norm = False
    options.enable_skip_layer_norm = False
    opt = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0,
                         optimization_options=options)
    stats = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.save_model_to_file(str(dst))  # adds the com.microsoft opset import
    m = onnx.shape_inference.infer_shapes(onnx.load(str(dst)))
    known = {v.name for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    known |= {i.name for i in m.graph.initializer}
    for n in m.graph.node:
        if n.domain == "com.microsoft":
            for o in n.output:
                if o and o not in known:
                    m.graph.value_info.append(helper.make_tensor_value_info(o, TensorProto.FLOAT, None))
                    known.add(o)
    onnx.save(onnx.shape_inference.infer_shapes(m), str(dst))
    return stats


def quantize_attention_dynamic(src: str | Path, dst: str | Path) -> int:
    """Quantise every fused ``Attention`` op of ``src`` to ``QAttention`` (ONNX Runtime dynamic int8:
    the input's range is measured per call, the ``[D, 3D]`` Q/K/V weight is int8 per column). Returns
    the number of ``QAttention`` ops written."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # ORT logs every statically quantised tensor it leaves alone, and "already quantized?"
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Attention"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)
    return sum(n.op_type == "QAttention" for n in onnx.load(str(dst), load_external_data=False).graph.node)


def quantize_lam_int8(fp32_path: str | Path, int8_path: str | Path, tokenizer, calibration_texts: Sequence[str],
                      recipe: str = DEFAULT_LAM_RECIPE, max_tokens: int = 64) -> Path:
    """Quantise an exported LAM encoder (:func:`~.onnx_runtime.export_lam_onnx`) with a named recipe of
    :data:`LAM_RECIPES`, calibrated on ``calibration_texts`` (real TRAIN sentences).

    A recipe with ``fuse`` first fuses the float graph (:func:`fuse_bert_graph`), quantises its weight
    MatMuls statically (QDQ, as the recipe says) and then its ``Attention`` ops dynamically
    (:func:`quantize_attention_dynamic`); ``fuse["fast_gelu"]`` swaps ``BiasGelu`` for ``FastGelu``."""
    if recipe not in LAM_RECIPES:
        raise ValueError(f"int8 recipe {recipe!r}: expected one of {list(LAM_RECIPES)}")
    kw = dict(LAM_RECIPES[recipe])
    fuse = kw.pop("fuse", None)
    if callable(kw.get("weight_only")):  # a name filter: resolve it on this export (its layer count)
        import onnx

        m = onnx.load(str(fp32_path), load_external_data=False)
        kw["weight_only"] = [n.name for n in m.graph.node if n.op_type == "MatMul" and kw["weight_only"](n.name)]
    if fuse is None:
        return quantize_static_int8(fp32_path, int8_path, tokenizer, calibration_texts, max_tokens=max_tokens, **kw)
    import onnx

    int8_path = Path(int8_path)
    fused = int8_path.with_suffix(".fused.onnx")
    stats = fuse_bert_graph(fp32_path, fused)
    if not stats.get("Attention"):
        log.warning("int8 recipe %r: no Attention fused in %s (%s): Q/K/V stay static int8 MatMuls", recipe, fp32_path, stats)
    kw["extra_options"] = {**kw.get("extra_options", {}), "DefaultTensorType": onnx.TensorProto.FLOAT}
    quantize_static_int8(fused, int8_path, tokenizer, calibration_texts, max_tokens=max_tokens, **kw)
    fused.unlink(missing_ok=True)
    if stats.get("Attention"):
        quantize_attention_dynamic(int8_path, int8_path)
    if fuse.get("fast_gelu"):
        m = onnx.load(str(int8_path))
        for n in m.graph.node:
            if n.op_type == "BiasGelu":  # same inputs (X, bias); tanh approximation of erf GELU
                n.op_type, n.name = "FastGelu", n.name + "_fast"
        onnx.save(m, str(int8_path))
    return int8_path


def activation_matmuls(path: str | Path) -> list[str]:
    """Names of MatMul nodes neither of whose inputs is a weight (initializer)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return [n.name for n in m.graph.node if n.op_type == "MatMul" and not any(i in inits for i in n.input)]


def restore_float_consumers(src: str | Path, dst: str | Path, quantized: Callable[[object], bool]) -> list[str]:
    """Undo ONNX Runtime's QDQ rewiring of *every* consumer of a quantised activation ``T`` to its
    ``Q -> DQ`` round trip: only nodes for which ``quantized(node)`` is true keep reading ``DQ(T)``,
    every other consumer (a residual ``Add``, a ``LayerNorm``, a float side product) reads ``T`` again.
    In a post-LN transformer the LayerNorm output is both the next MatMul's input and the residual
    branch, so without this the residual stream itself goes through uint8. Returns the names of the
    nodes rewired."""
    import onnx

    m = onnx.load(str(src))
    inits = {i.name for i in m.graph.initializer}
    q_in = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "QuantizeLinear"}
    dq_src = {n.output[0]: q_in[n.input[0]] for n in m.graph.node
              if n.op_type == "DequantizeLinear" and n.input[0] in q_in and q_in[n.input[0]] not in inits}
    rewired = []
    for n in m.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") or quantized(n):
            continue
        for i, name in enumerate(n.input):
            if name in dq_src:
                n.input[i] = dq_src[name]
                rewired.append(n.name)
    # drop Q/DQ pairs nobody reads any more
    outputs = {o.name for o in m.graph.output}
    while True:
        read = {i for n in m.graph.node for i in n.input} | outputs
        dead = [n for n in m.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.output[0] not in read]
        if not dead:
            break
        for n in dead:
            m.graph.node.remove(n)
    onnx.save(m, str(dst))
    return rewired


def outlier_matmuls(path: str | Path) -> list[str]:
    """Names of the float outlier side-products added by :func:`split_outlier_channels`."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return [n.name for n in m.graph.node if n.op_type == "MatMul" and n.name.endswith(OUTLIER_SUFFIX)]


def quantize_embedding_tables(src: str | Path, dst: str | Path, min_rows: int = 256) -> Path:
    """Store every float embedding table ``W [V, D]`` read by a Gather as int8 rows with a float scale per row,
    and gather before dequantising: ``Gather(W_q, ids) -> Cast -> * Gather(scale, ids)``. Unlike a QDQ
    DequantizeLinear on the whole table, the work per call is proportional to the tokens, not the vocabulary."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    inits = {i.name: i for i in m.graph.initializer}
    new_nodes = []
    for node in m.graph.node:
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        if table is None or table.data_type != TensorProto.FLOAT or len(table.dims) != 2 or table.dims[0] < min_rows:
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(table)
        scale = (np.abs(w).max(axis=1, keepdims=True) / 127.0).astype(np.float32)
        scale[scale == 0] = 1.0
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        base = table.name.replace("/", "_").replace(".", "_")
        m.graph.initializer.remove(table)
        m.graph.initializer.extend([numpy_helper.from_array(q, f"{base}_int8"), numpy_helper.from_array(scale, f"{base}_scale")])
        out = node.output[0]
        new_nodes += [
            helper.make_node("Gather", [f"{base}_int8", node.input[1]], [f"{out}_q"], name=f"{node.name}_q", axis=0),
            helper.make_node("Cast", [f"{out}_q"], [f"{out}_f"], name=f"{node.name}_cast", to=TensorProto.FLOAT),
            helper.make_node("Gather", [f"{base}_scale", node.input[1]], [f"{out}_s"], name=f"{node.name}_s", axis=0),
            helper.make_node("Mul", [f"{out}_f", f"{out}_s"], [out], name=f"{node.name}_dq"),
        ]
    del m.graph.node[:]
    m.graph.node.extend(new_nodes)
    onnx.save(m, str(dst))
    return Path(dst)


def weight_matmuls(model) -> dict[str, list]:
    """``{input activation name: [MatMul nodes]}`` for every MatMul whose B is a 2-D float weight initializer."""
    from onnx import TensorProto

    inits = {i.name: i for i in model.graph.initializer}
    groups: dict[str, list] = {}
    for n in model.graph.node:
        w = inits.get(n.input[1]) if n.op_type == "MatMul" and len(n.input) == 2 else None
        if w is not None and w.data_type == TensorProto.FLOAT and len(w.dims) == 2 and n.input[0] not in inits:
            groups.setdefault(n.input[0], []).append(n)
    return groups


def channel_range(path: str | Path, tensors: Sequence[str], reader) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-channel (last axis) min and max of each named float tensor over every batch of ``reader``
    (a CalibrationDataReader; rewound afterwards if it can be). Returns ``({name: float32 [C]}, {...})``."""
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(path))
    known = {o.name for o in m.graph.output}
    for t in tensors:
        if t not in known:
            m.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    lo: dict[str, np.ndarray] = {}
    hi: dict[str, np.ndarray] = {}
    n_batches = 0
    while (feed := reader.get_next()) is not None:
        n_batches += 1
        for t, v in zip(tensors, sess.run(list(tensors), feed)):
            v = v.reshape(-1, v.shape[-1])
            lo[t] = np.minimum(lo[t], v.min(0)) if t in lo else v.min(0)
            hi[t] = np.maximum(hi[t], v.max(0)) if t in hi else v.max(0)
    if hasattr(reader, "rewind"):
        reader.rewind()
    if not n_batches:
        raise ValueError("channel_range: the calibration reader gave no batches")
    return lo, hi


def smooth_activations(src: str | Path, dst: str | Path, reader, alpha: float = 0.5,
                       select: Callable[[str], bool] | None = None) -> dict[str, np.ndarray]:
    """SmoothQuant-style scale migration (Xiao et al. 2023) on a float ONNX model, before int8 quantisation.

    For each activation ``X [.., C]`` feeding weight MatMuls ``X @ W_i`` (``W_i [C, N_i]``), with
    ``a_j = max |X[.., j]|`` over the calibration batches of ``reader`` and ``w_j = max_i max_k |W_i[j, k]|``,
    the scale ``s_j = a_j**alpha / w_j**(1 - alpha)`` moves the per-channel outliers of ``X`` into the
    weights: ``X @ W = (X / s) @ (diag(s) W)``. A ``Mul(X, 1/s)`` is inserted (``X`` may also feed a
    residual, so it cannot be folded into the LayerNorm before it) and the weights are rescaled in place,
    so the float model computes the same function while ``X / s`` has no outlier channels for its
    per-tensor activation scale. ``select(name of the first MatMul)`` picks which groups to smooth
    (default all). Returns ``{activation name: s [C]}``."""
    import onnx
    from onnx import helper, numpy_helper

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"smooth_activations(alpha={alpha}): expected 0 <= alpha <= 1")
    m = onnx.load(str(src))
    groups = {x: ns for x, ns in weight_matmuls(m).items() if select is None or select(ns[0].name)}
    lo, hi = channel_range(src, list(groups), reader)
    amax = {x: np.maximum(np.abs(lo[x]), np.abs(hi[x])) for x in groups}
    inits = {i.name: i for i in m.graph.initializer}
    users: dict[str, int] = {}
    for n in m.graph.node:
        for i in n.input:
            users[i] = users.get(i, 0) + 1
    scales, new_nodes, done = {}, [], set()
    for x, nodes in groups.items():
        ws = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        wmax = np.max([np.abs(w).max(1) for w in ws], axis=0)
        s = np.power(np.maximum(amax[x], 1e-5), alpha) / np.power(np.maximum(wmax, 1e-5), 1.0 - alpha)
        s = s.astype(np.float32)
        scales[x] = s
        base = nodes[0].name.strip("/").replace("/", "_")
        m.graph.initializer.append(numpy_helper.from_array((1.0 / s).astype(np.float32), f"{base}_smooth_inv"))
        new_nodes.append((nodes[0].name, helper.make_node("Mul", [x, f"{base}_smooth_inv"], [f"{x}_smoothed"], name=f"{base}_smooth")))
        for n, w in zip(nodes, ws):
            name = n.input[1]
            if users.get(name, 0) > 1:  # a shared weight: give this MatMul its own rescaled copy
                name = f"{name}_{n.name.strip('/').replace('/', '_')}_smoothed"
                m.graph.initializer.append(numpy_helper.from_array((s[:, None] * w).astype(np.float32), name))
                n.input[1] = name
            elif name not in done:
                inits[name].CopyFrom(numpy_helper.from_array((s[:, None] * w).astype(np.float32), name))
                done.add(name)
            n.input[0] = f"{x}_smoothed"
    # keep a topological order: each Mul goes right before the first MatMul that reads it
    before = dict(new_nodes)
    nodes = list(m.graph.node)
    del m.graph.node[:]
    for n in nodes:
        if n.name in before:
            m.graph.node.append(before[n.name])
        m.graph.node.append(n)
    onnx.save(m, str(dst))
    return scales


def weight_only_int8(src: str | Path, dst: str | Path, node_names: Sequence[str]) -> list[str]:
    """Store the float weights of the named MatMuls as int8 (symmetric, one scale per output column)
    followed by a ``DequantizeLinear``: the file shrinks ~4x for those weights while the product runs in
    float on float activations (no activation quantisation, so activation outliers cost nothing).
    Returns the names of the MatMuls rewritten (a name not found, or without a float weight, is an error)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    inits = {i.name: i for i in m.graph.initializer}
    by_name = {n.name: n for n in m.graph.node}
    done = []
    for name in node_names:
        n = by_name.get(name)
        w = inits.get(n.input[1]) if n is not None and n.op_type == "MatMul" else None
        if w is None or w.data_type != TensorProto.FLOAT or len(w.dims) != 2:
            raise ValueError(f"weight_only_int8: node {name!r} is not a MatMul with a 2-D float weight in {src}")
        a = numpy_helper.to_array(w)
        scale = (np.abs(a).max(0) / 127.0).astype(np.float32)
        scale[scale == 0] = 1.0
        q = np.clip(np.round(a / scale), -127, 127).astype(np.int8)
        base = w.name.replace("/", "_").replace(".", "_")
        m.graph.initializer.remove(w)
        m.graph.initializer.extend([numpy_helper.from_array(q, f"{base}_w8"), numpy_helper.from_array(scale, f"{base}_w8_scale"),
                                    numpy_helper.from_array(np.zeros_like(scale, np.int8), f"{base}_w8_zp")])
        dq = helper.make_node("DequantizeLinear", [f"{base}_w8", f"{base}_w8_scale", f"{base}_w8_zp"], [f"{base}_w8_dq"],
                              name=f"{base}_w8_DequantizeLinear", axis=1)
        idx = list(m.graph.node).index(n)
        m.graph.node.insert(idx, dq)
        n.input[1] = f"{base}_w8_dq"
        done.append(name)
    onnx.save(m, str(dst))
    return done


def split_outlier_channels(src: str | Path, dst: str | Path, reader, select: Callable[[str], bool] | None = None,
                           threshold: float = 2.0, max_channels: int = 32) -> tuple[dict[str, list[int]], dict[str, list[dict]]]:
    """Route the few outlier input channels of weight MatMuls around int8 (LLM.int8()-style, but static).

    For an activation ``X [.., C]`` feeding ``X @ W`` (``W [C, N]``), channel ``j`` is an outlier when its
    calibrated ``max |X[.., j]|`` exceeds ``threshold`` times the median over channels (at most
    ``max_channels`` of them, largest first). The product is rewritten as
    ``X @ W0 + Gather(X, outliers) @ W[outliers]`` with ``W0`` = ``W`` whose outlier rows are zero: the
    int8 quantiser is told (returned ``TensorQuantOverrides``) to give ``X`` the range of the *other*
    channels, so its per-tensor activation step is set by ordinary channels instead of one 5-20x larger;
    outlier values saturate there, which costs nothing because their rows of ``W0`` are zero. The second
    product is a float ``[.., k] @ [k, N]`` (k << C) that :func:`quantize_static_int8` leaves in float.
    The float model computes the same function. ``select(MatMul name)`` picks candidates (a selected
    MatMul brings every weight MatMul reading the same ``X``). Returns ``({MatMul name: outlier
    channels}, {X: [{"rmin", "rmax"}]})``."""
    import onnx
    from onnx import helper, numpy_helper

    if threshold <= 1.0 or max_channels < 1:
        raise ValueError(f"split_outlier_channels(threshold={threshold}, max_channels={max_channels}): "
                         "expected threshold > 1 and max_channels >= 1")
    m = onnx.load(str(src))
    groups = {x: ns for x, ns in weight_matmuls(m).items() if select is None or any(select(n.name) for n in ns)}
    lo, hi = channel_range(src, list(groups), reader)
    inits = {i.name: i for i in m.graph.initializer}
    users: dict[str, int] = {}
    for n in m.graph.node:
        for i in n.input:
            users[i] = users.get(i, 0) + 1
    before: dict[str, list] = {}
    after: dict[str, list] = {}
    split: dict[str, list[int]] = {}
    overrides: dict[str, list[dict]] = {}
    for x, nodes in groups.items():
        a = np.maximum(np.abs(lo[x]), np.abs(hi[x]))
        out = [int(j) for j in np.argsort(-a)[:max_channels] if a[j] > threshold * np.median(a)]
        if not out:
            continue
        inl = np.setdiff1d(np.arange(len(a)), out)
        overrides[x] = [{"rmin": np.float32(min(lo[x][inl].min(), 0.0)), "rmax": np.float32(max(hi[x][inl].max(), 0.0))}]
        base = x.strip("/").replace("/", "_")
        m.graph.initializer.append(numpy_helper.from_array(np.array(out, np.int64), f"{base}_outlier_idx"))
        before[nodes[0].name] = [helper.make_node("Gather", [x, f"{base}_outlier_idx"], [f"{x}_outliers"],
                                                  name=f"{base}_outliers", axis=-1)]
        for n in nodes:
            w = numpy_helper.to_array(inits[n.input[1]]).copy()
            nb = n.name.strip("/").replace("/", "_")
            m.graph.initializer.append(numpy_helper.from_array(w[out].astype(np.float32), f"{nb}_outlier_w"))
            w[out] = 0.0
            if users.get(n.input[1], 0) > 1:  # a shared weight: this MatMul gets its own copy
                m.graph.initializer.append(numpy_helper.from_array(w, f"{nb}_inlier_w"))
                n.input[1] = f"{nb}_inlier_w"
            else:
                inits[n.input[1]].CopyFrom(numpy_helper.from_array(w, n.input[1]))
            y = n.output[0]
            n.output[0] = f"{y}_inliers"
            after[n.name] = [
                helper.make_node("MatMul", [f"{x}_outliers", f"{nb}_outlier_w"], [f"{y}_outliers"], name=f"{n.name}{OUTLIER_SUFFIX}"),
                helper.make_node("Add", [f"{y}_inliers", f"{y}_outliers"], [y], name=f"{n.name}_outlier_add"),
            ]
            split[n.name] = out
    nodes = list(m.graph.node)
    del m.graph.node[:]
    for n in nodes:
        m.graph.node.extend(before.get(n.name, []))
        m.graph.node.append(n)
        m.graph.node.extend(after.get(n.name, []))
    onnx.save(m, str(dst))
    return split, overrides


#: name suffix of the float side-products :func:`split_outlier_channels` adds (never quantised)
OUTLIER_SUFFIX = "_outlier_matmul"
