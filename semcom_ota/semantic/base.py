"""The Codec contract (DESIGN §2) and the codec registry.

    codec = load_codec("models/task_fmnist.yaml")      # or codecs.create("task-fmnist", ...)
    frame = codec.encode(content, budget=64)           # SemanticFrame with <= budget symbols
    out = codec.decode(rx_frame)                        # Decoded(content, tasks)
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from semcom_ota.frames import RxSemanticFrame, SemanticFrame
from semcom_ota.registry import Registry


@dataclass
class Decoded:
    """What a codec recovers: the reconstructed content plus task outputs (class, caption, answer...)."""

    content: Any
    tasks: dict[str, Any] = field(default_factory=dict)


class Codec(abc.ABC):
    """A semantic codec. ``name`` is its registry name; ``codec_id`` (0..15) goes in the PHY header."""

    name: str = ""
    codec_id: int = 0

    @abc.abstractmethod
    def encode(self, content: Any, budget: int, snr_db: float = 10.0) -> SemanticFrame:
        """Content -> SemanticFrame of at most ``budget`` complex symbols (unit power, importance-ordered)."""

    @abc.abstractmethod
    def decode(self, frame: RxSemanticFrame) -> Decoded:
        """RxSemanticFrame (symbols, mask, noise_var, snr_db) -> Decoded."""


codecs: Registry[Codec] = Registry("codec")

#: where each shipped codec registers itself; :func:`load_codec` imports the module on demand so that
#: a card can be loaded without the caller knowing which package defines its codec
CODEC_MODULES = {
    "task-fmnist": "semcom_ota.semantic.task.codec",
    "teacher-jscc": "semcom_ota.semantic.task.codec",
    "image-semantic": "semcom_ota.semantic.image.codec",
    "image-hybrid": "semcom_ota.semantic.image.hybrid",
    "text-semantic": "semcom_ota.semantic.text.codec",
    "image-digital": "semcom_ota.baselines.codecs",
    "text-digital": "semcom_ota.baselines.codecs",
}


def ensure_registered(name: str) -> None:
    """Import the module that registers codec ``name`` (no-op when it is registered already)."""
    if name not in codecs and name in CODEC_MODULES:
        import importlib

        importlib.import_module(CODEC_MODULES[name])


def load_codec(card_path: str | Path, **overrides: Any) -> Codec:
    """Build a codec from its YAML model card: the card's ``codec`` key names the registered codec,
    and the card path is passed as ``card_path`` so the codec can read its own fields and weights."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise FileNotFoundError(f"model card {card_path}: not found (expected a YAML file in models/)")
    card = yaml.safe_load(card_path.read_text()) or {}
    name = card.get("codec")
    if not isinstance(name, str):
        raise ValueError(f"model card {card_path}: key 'codec' = {name!r}: expected the registered codec name")
    ensure_registered(name)
    return codecs.create(name, card_path=card_path, **overrides)
