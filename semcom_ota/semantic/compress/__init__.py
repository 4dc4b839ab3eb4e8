"""Adaptive model compression of the semantic encoders (DESIGN §5, issue 10).

- :mod:`.onnx_runtime`: export a LAM encoder to ONNX and run it with ONNX Runtime behind the same
  interface as the torch backend (``token_features`` / ``sentence_embeddings``).
- :mod:`.quantize`: static int8 QDQ quantisation calibrated on real sentences; named recipes for the
  LAM encoder (``LAM_RECIPES``: float residual branch by default, outlier-channel split, SmoothQuant,
  percentile ranges, weight-only int8).
- :mod:`.prune`: structured pruning (transformer layers, attention heads) and distillation to recover.
- :mod:`.budget`: measure candidates on this machine and pick the least compression that meets a
  latency / size budget.
- :mod:`.conv_models`, :mod:`.conv_onnx`, :mod:`.conv_candidates`: the same for the convolutional
  encoders (image codec, task student and teacher): exportable encoder halves, ORT backends that plug
  into the codecs from outside, conv channel pruning + distillation, candidates for the picker.
"""
