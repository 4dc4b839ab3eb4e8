"""Image semantic codecs: the JSCC network (:mod:`.model`), the semantic codec (:mod:`.codec`) and the
hybrid digital–analog codec (:mod:`.hybrid`).

The codec classes load on first access (``semcom_ota.semantic.image.ImageHybridCodec``) so that
``.model`` imports without the digital baselines (training on a machine that has only torch).
Registration in the codec registry happens through :data:`semcom_ota.semantic.base.CODEC_MODULES`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"ImageSemanticCodec": "semcom_ota.semantic.image.codec", "ImageHybridCodec": "semcom_ota.semantic.image.hybrid"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
