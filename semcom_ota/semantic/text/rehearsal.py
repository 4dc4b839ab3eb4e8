"""TX-side rehearsal: predict, per message, what the semantic text codec will deliver at an SNR.

The hybrid transmitter (``semcom_ota.eval.text``, scheme ``hybrid``) chooses per message between the
analog semantic codec and digital LLM arithmetic coding. A single expectation for every message (the
mean semantic+RAG similarity on val) misjudges the messages that matter: long or unusual sentences the
codec decodes worse than average. The rehearsal uses what the transmitter has: the message, its
semantic encoder and decoder, the channel twin and the *global* knowledge base (shared with every
receiver; the receiver's local base is unknown at the TX). It decodes its own frame through ``draws``
independent twin draws at the fed-back SNR, corrects with RAG over the global base, and scores the
MiniLM similarity of each decode to the message.

The receiver does better than the rehearsal (its local base also corrects), so :func:`calibrate` maps
a rehearsal value ``r`` to an expected delivered similarity by shrinking the loss ``1 - r`` with the
ratio measured on val sentences at the same SNR: ``1 - (1 - r) * (1 - q_val) / (1 - mean r_val)``
(``q_val``: mean semantic+RAG similarity delivered on val; the result stays in [0, 1] and a message
the TX decodes perfectly keeps 1).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from semcom_ota.channel.twin import ChannelTwin


class SemanticRehearsal:
    """Per-message similarity the TX expects from its own semantic frame at ``snr_db``.

    ``codec``: :class:`semcom_ota.semantic.text.codec.TextSemanticCodec`; ``global_kb``: the shared
    knowledge base (or ``None``: no RAG in the rehearsal); ``rag_cfg``: RAG thresholds
    (:class:`semcom_ota.semantic.rag.decoder.RagConfig`); ``channel``: ``awgn`` or ``rayleigh``
    (one fade per frame and draw); ``draws``: twin draws per message (>= 1).
    """

    def __init__(self, codec, global_kb, rag_cfg, channel: str, draws: int = 4, seed: int = 0,
                 batch: int = 64) -> None:
        if draws < 1:
            raise ValueError(f"draws={draws}: expected >= 1 twin draws per message")
        if channel not in ("awgn", "rayleigh"):
            raise ValueError(f"channel={channel!r}: expected awgn or rayleigh")
        self.codec, self.draws, self.batch = codec, int(draws), int(batch)
        self.twin = ChannelTwin(channel)
        self.gen = torch.Generator().manual_seed(int(seed))
        self.rag = None
        if global_kb is not None:
            from semcom_ota.semantic.rag.decoder import RagDecoder

            self.rag = RagDecoder(codec, {"global": global_kb}, rag_cfg)

    def __call__(self, messages: Sequence[str], budget: int, snr_db: float,
                 frames: np.ndarray | None = None, message_emb: np.ndarray | None = None) -> np.ndarray:
        """``[len(messages)]`` float: mean MiniLM similarity of the TX's decodes to each message.

        ``frames``: the complex64 ``[B, budget]`` frames already encoded for these messages at
        ``snr_db`` (encoded here when ``None``); ``message_emb``: the messages' unit MiniLM sentence
        embeddings ``[B, 384]`` where the caller holds them (computed here when ``None``).
        """
        messages = list(messages)
        if not messages:
            return np.zeros(0)
        codec, lam = self.codec, self.codec.lam
        if frames is None:
            frames = np.concatenate([codec.encode_batch(messages[s:s + self.batch], budget, snr_db)
                                     for s in range(0, len(messages), self.batch)])
        if frames.shape[0] != len(messages):
            raise ValueError(f"frames: {frames.shape[0]} rows for {len(messages)} messages")
        ref = lam.sentence_embeddings(messages) if message_emb is None else np.asarray(message_emb)
        if ref.shape[0] != len(messages):
            raise ValueError(f"message_emb: {ref.shape[0]} rows for {len(messages)} messages")
        sims = np.zeros((self.draws, len(messages)))
        x = torch.from_numpy(np.ascontiguousarray(frames))
        mask = np.ones(frames.shape, bool)  # the twin erases nothing
        snr = np.full(len(messages), float(snr_db))
        for d in range(self.draws):
            with torch.no_grad():
                zh, nv = self.twin(x, float(snr_db), generator=self.gen)
            rx, nv = zh.numpy(), nv.numpy()
            logp = torch.cat([codec.decode_logprobs(rx[s:s + self.batch], nv[s:s + self.batch],
                                                    mask[s:s + self.batch], snr[s:s + self.batch])
                              for s in range(0, len(messages), self.batch)])
            texts = codec.texts_from_logprobs(logp)
            if self.rag is not None:
                texts = [c.text for c in self.rag.correct(texts, logp)]
            emb = lam.sentence_embeddings(texts)
            sims[d] = np.where([bool(t.strip()) for t in texts], np.sum(emb * ref, axis=1), 0.0)
        return np.clip(sims.mean(axis=0), 0.0, 1.0)


def calibrate(rehearsed: np.ndarray, val_rehearsed: np.ndarray, val_delivered: float) -> np.ndarray:
    """Expected delivered similarity per message from its rehearsal value (see the module docstring).

    ``rehearsed``: ``[B]`` rehearsal values of the messages to send; ``val_rehearsed``: rehearsal values
    of val sentences at the same SNR; ``val_delivered``: the mean similarity the receiver (semantic+RAG)
    delivered on those val sentences.
    """
    r = np.asarray(rehearsed, float)
    loss_val = 1.0 - float(np.mean(val_rehearsed))
    if not 0.0 <= val_delivered <= 1.0:
        raise ValueError(f"val_delivered={val_delivered}: expected a similarity in [0, 1]")
    ratio = (1.0 - val_delivered) / loss_val if loss_val > 1e-9 else 1.0
    return np.clip(1.0 - (1.0 - r) * ratio, 0.0, 1.0)
