"""``text-semantic`` (codec_id 6): the LAM text codec.

    codec = load_codec("models/text_semantic.yaml")
    frame = codec.encode("In the beginning...", budget=120, snr_db=10)   # SemanticFrame, n == 120
    out = codec.decode(rx_frame)                                          # Decoded(content=str, tasks)

TX: text -> LAM subword tokens (its own tokenizer, ``[CLS] ... [SEP]`` padded to ``max_tokens``) ->
frozen LAM token features -> JSC encoder (SNR-conditioned) -> ``K`` complex symbols per token slot ->
rate adapter (slots sorted by gradient importance; cut to the budget, or the most important slots
repeated when the budget is larger) -> unit power -> tiers.
RX: symbols are scattered back to their slots (repeats combined by inverse-variance weighting,
missing slots masked) -> JSC decoder (conditioned on per-symbol noise_var and SNR) -> token ids over the
restricted vocabulary -> detokenise (MiniLM is uncased: output is lower case).

The batch API (:meth:`TextSemanticCodec.encode_batch`, :meth:`decode_batch`) is what evaluation uses over
the twin; :meth:`encode`/:meth:`decode` are the DESIGN §2 contract used over PHY links.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import yaml

from semcom_ota.config import StrictModel, validate_config
from semcom_ota.frames import FrameMeta, RxSemanticFrame, SemanticFrame, normalise_power
from semcom_ota.semantic.base import Codec, Decoded, codecs
from semcom_ota.semantic.lam import DEFAULT_LAM, load_lam
from semcom_ota.semantic.text.model import TextJscc, TextJsccConfig
from semcom_ota.semantic.text.rate import budget_slots, symbol_order, tier_ends

log = logging.getLogger(__name__)

CODEC_ID = 6


class TextCodecCard(StrictModel):
    """Model card ``models/text_*.yaml`` of the LAM text codec."""

    codec: str = "text-semantic"
    description: str = ""
    lam: str = DEFAULT_LAM
    arch: TextJsccConfig = TextJsccConfig()
    weights: str = "text_semantic.safetensors"
    n_tiers: int = 8
    vocabulary: str = "restricted: LAM subword ids seen in the training corpus"
    training: dict = {}
    license: str = ""


def read_card(card_path: str | Path) -> TextCodecCard:
    card_path = Path(card_path)
    if not card_path.is_file():
        raise FileNotFoundError(f"model card {card_path}: not found")
    return validate_config(TextCodecCard, yaml.safe_load(card_path.read_text()), str(card_path))


@codecs.register("text-semantic")
class TextSemanticCodec(Codec):
    """LAM text codec. Built from its model card; ``weights=None`` in tests builds an untrained model.

    Parameters
    ----------
    card_path: the model card (YAML).
    untrained: if True, do not load weights (random init; used as the "untrained" reference in tests).
    """

    name = "text-semantic"
    codec_id = CODEC_ID

    def __init__(self, card_path: str | Path, untrained: bool = False) -> None:
        from semcom_ota.train.text import load_weights

        self.card_path = Path(card_path)
        self.card = read_card(self.card_path)
        self.lam = load_lam(self.card.lam)
        if self.lam.dim != self.card.arch.lam_dim:
            raise ValueError(f"model card {card_path}: arch.lam_dim={self.card.arch.lam_dim} but LAM "
                             f"{self.card.lam!r} has width {self.lam.dim}")
        wpath = self.card_path.parent / self.card.weights
        if untrained:
            from safetensors import safe_open

            with safe_open(str(wpath), "pt") as fh:  # the vocabulary is data, not training
                vocab_ids = fh.get_tensor("vocab_ids").long()
            self.model = TextJscc(self.card.arch, vocab_ids, self.lam.word_embeddings()[vocab_ids])
            self.model.importance.data.copy_(torch.linspace(1, 0, self.model.n_symbols).reshape_as(self.model.importance))
        else:
            if not wpath.is_file():
                raise FileNotFoundError(f"model card {card_path}: weights {wpath} not found "
                                        "(train with scripts/train_text.py)")
            from safetensors import safe_open

            with safe_open(str(wpath), "pt") as fh:
                vocab_ids = fh.get_tensor("vocab_ids").long()
            self.model = TextJscc(self.card.arch, vocab_ids, self.lam.word_embeddings()[vocab_ids])
            load_weights(self.model, wpath)
        self.model.eval()
        self.order = symbol_order(self.model.importance)
        self._vocab_ids = self.model.vocab_ids.numpy()

    # ---------------------------------------------------------------- batch API (evaluation)
    @property
    def n_symbols(self) -> int:
        """Complex symbols of a full frame before rate fitting (``max_tokens * symbols_per_token``)."""
        return self.model.n_symbols

    @torch.no_grad()
    def encode_slots(self, texts: Sequence[str], snr_db: float | Sequence[float]) -> torch.Tensor:
        """Texts -> complex64 ``[B, L, K]`` symbols in slot layout (unit power per token slot)."""
        ids, attn = self.lam.tokenize(list(texts), self.card.arch.max_tokens)
        feats = self.lam.token_features(ids, attn)
        snr = torch.as_tensor(np.broadcast_to(np.asarray(snr_db, np.float32), (len(texts),)).copy())
        return self.model.encoder(feats, snr)

    def encode_batch(self, texts: Sequence[str], budget: int, snr_db: float | Sequence[float] = 10.0) -> np.ndarray:
        """Texts -> complex64 ``[B, budget]`` importance-ordered channel symbols, unit power per row."""
        z = self.encode_slots(texts, snr_db).reshape(len(texts), -1).numpy()
        x = z[:, budget_slots(self.order, budget)]
        p = np.mean(np.abs(x) ** 2, axis=1, keepdims=True)
        return (x / np.sqrt(np.maximum(p, 1e-12))).astype(np.complex64)

    def gather_slots(self, rx: np.ndarray, noise_var: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Channel symbols ``[B, n]`` (+ noise_var, mask) -> slot layout ``[B, L, K]`` (repeats combined)."""
        rx = np.asarray(rx, np.complex64)
        B, n = rx.shape
        nv = np.broadcast_to(np.asarray(noise_var, np.float64), (B, n))
        m = np.broadcast_to(np.asarray(mask, bool), (B, n))
        slots = budget_slots(self.order, n)
        N = self.n_symbols
        w = np.where(m, 1.0 / np.maximum(np.where(m, nv, 1.0), 1e-6), 0.0)  # inverse-variance weights
        num = np.zeros((B, N), np.complex128)
        den = np.zeros((B, N), np.float64)
        rows = np.repeat(np.arange(B), n)
        np.add.at(num, (rows, np.tile(slots, B)), (np.where(m, rx, 0) * w).reshape(-1))
        np.add.at(den, (rows, np.tile(slots, B)), w.reshape(-1))
        got = den > 0
        z = np.where(got, num / np.maximum(den, 1e-300), 0)
        v = np.where(got, 1.0 / np.maximum(den, 1e-300), 1.0)
        L, K = self.card.arch.max_tokens, self.card.arch.symbols_per_token
        return (torch.from_numpy(z.astype(np.complex64)).reshape(B, L, K),
                torch.from_numpy(v.astype(np.float32)).reshape(B, L, K),
                torch.from_numpy(got).reshape(B, L, K))

    @torch.no_grad()
    def decode_logprobs(self, rx: np.ndarray, noise_var: np.ndarray, mask: np.ndarray,
                        snr_db: float | Sequence[float]) -> torch.Tensor:
        """Channel symbols ``[B, n]`` -> log-probabilities ``[B, L, V]`` over the restricted vocabulary."""
        z, v, got = self.gather_slots(rx, noise_var, mask)
        snr = torch.as_tensor(np.broadcast_to(np.asarray(snr_db, np.float32), (z.shape[0],)).copy())
        h = self.model.decoder(z, v, got, snr)
        return torch.log_softmax(self.model.logits(h), dim=-1)

    def texts_from_logprobs(self, logp: torch.Tensor) -> list[str]:
        best = logp.argmax(-1).numpy()
        return [self.lam.detokenize(self._vocab_ids[row]) for row in best]

    def decode_batch(self, rx: np.ndarray, noise_var: np.ndarray, mask: np.ndarray,
                     snr_db: float | Sequence[float]) -> list[str]:
        """Channel symbols ``[B, n]`` complex64 (+ noise_var float ``[B, n]``, mask bool ``[B, n]``) -> texts."""
        return self.texts_from_logprobs(self.decode_logprobs(rx, noise_var, mask, snr_db))

    def candidate_logprob(self, logp: torch.Tensor, texts: Sequence[str]) -> np.ndarray:
        """Mean per-token log-probability of each candidate text under the decoder posterior.

        ``logp`` is ``[L, V]`` for one received frame; returns float ``[C]`` (higher = more consistent
        with what was received). Used by RAG to rank retrieved candidates.
        """
        ids, attn = self.lam.tokenize(list(texts), self.card.arch.max_tokens)
        table = np.full(self.lam.vocab_size, int(np.searchsorted(self._vocab_ids, self.lam.tokenizer.unk_token_id)))
        table[self._vocab_ids] = np.arange(len(self._vocab_ids))
        y = torch.from_numpy(table[ids])
        lp = logp.unsqueeze(0).expand(len(texts), -1, -1).gather(-1, y[..., None]).squeeze(-1)
        w = torch.from_numpy(attn).float()
        return ((lp * w).sum(1) / w.sum(1)).numpy()

    # ---------------------------------------------------------------- DESIGN §2 contract
    def encode(self, content: str, budget: int, snr_db: float = 10.0) -> SemanticFrame:
        """Text -> :class:`SemanticFrame` of exactly ``budget`` symbols (importance-ordered, unit power)."""
        if not isinstance(content, str):
            raise TypeError(f"text-semantic encode(content): expected str, got {type(content).__name__}")
        if int(budget) < 1:
            raise ValueError(f"text-semantic encode(budget={budget}): expected a positive number of channel uses")
        x = normalise_power(self.encode_batch([content], int(budget), snr_db)[0])
        meta = FrameMeta(codec_id=CODEC_ID, snr_db=float(snr_db), content_shape=(int(budget),),
                         extra={"n_slots": self.n_symbols})
        return SemanticFrame(x, tier_ends(int(budget), self.card.n_tiers), meta)

    def decode(self, frame: RxSemanticFrame) -> Decoded:
        """:class:`RxSemanticFrame` -> ``Decoded(content=text, tasks={"logprobs": [L, V] tensor})``."""
        if not frame.status.decodable:
            return Decoded(content="", tasks={"status": frame.status.value})
        snr = frame.snr_db if np.isfinite(frame.snr_db) else frame.meta.snr_db
        logp = self.decode_logprobs(frame.symbols[None], frame.noise_var[None], frame.mask[None], snr)
        return Decoded(content=self.texts_from_logprobs(logp)[0], tasks={"logprobs": logp[0]})
