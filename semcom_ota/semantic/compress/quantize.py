"""Static int8 QDQ quantisation with ONNX Runtime, calibrated on real sentences.

Dynamic int8 is slower for convolutions on this CPU (DESIGN §5), so the static QDQ form is the default:
activations get scales from a calibration set, weights are quantised per channel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


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
                         nodes_to_exclude: Sequence[str] = (), calibration_method: str = "MinMax") -> Path:
    """Write a static int8 QDQ model calibrated on ``calibration_texts`` (real sentences, not the test split),
    or, for non-text models, on ``calibration_reader`` (e.g. a :class:`FeedReader` of real training images).
    ``extra_options`` are merged into ONNX Runtime's ``quantize_static`` extra options."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibration_reader is None and len(calibration_texts) < 8:
        raise ValueError(f"calibration_texts: {len(calibration_texts)} sentences, expected at least 8 real sentences")
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    pre = int8_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
    reader = calibration_reader or _SentenceReader(tokenizer, calibration_texts, max_tokens)
    quantize_static(
        str(pre), str(int8_path), reader,
        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,  # U8S8: the fast x86 kernels
        per_channel=per_channel, calibrate_method=CalibrationMethod[calibration_method],
        op_types_to_quantize=list(op_types),
        # activation x activation products (attention scores) lose most in int8 and save little
        nodes_to_exclude=activation_matmuls(pre) + list(nodes_to_exclude),
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True, **(extra_options or {})},
    )
    pre.unlink(missing_ok=True)
    # the embedding tables hold half the weights: int8 rows there make the file ~4x smaller
    quantize_embedding_tables(int8_path, int8_path)
    return int8_path


def activation_matmuls(path: str | Path) -> list[str]:
    """Names of MatMul nodes neither of whose inputs is a weight (initializer)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return [n.name for n in m.graph.node if n.op_type == "MatMul" and not any(i in inits for i in n.input)]


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
