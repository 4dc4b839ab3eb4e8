"""``text-llm-ac`` (codec_id 8): LLM arithmetic coding + IEEE 802.11n LDPC + QAM, the strongest
separation baseline for text, and its ideal-separation line.

    codec = LlmTextCodec(llm="gemma3-270m")          # or "byte-ngram" (no extra needed), or a model
    frame = codec.encode("In the beginning...", budget=320, snr_db=6.0)
    out = codec.decode(rx_frame)                      # Decoded(text, tasks={"ok", "reason", ...})
    text, info = LlmTextCodec(llm=m).transmit(text, 320, 6.0, channel="awgn", rng=0)   # symbol level
    text, info = ideal_separation_llm(coder, text, 320, 6.0)

TX: the highest-goodput MCS for ``budget`` at ``snr_db`` (success predicted with the frame's cyclic
repeat chase-combined, ``combine_repeats``) bounds the payload; the model-driven
arithmetic coder (:class:`semcom_ota.baselines.arith.ModelTextCoder`) codes the longest token prefix
of the text that fits; the MCS is then chosen for that payload (:func:`select_mcs`, as for
``text-digital``) and :class:`DigitalBitPipe` fills exactly ``budget`` symbols. The bit stream is not
padded to bytes (the pipe's 32-bit length field carries its exact size). The in-band header's 2-bit
tag is 3 (``LLM_AC_TAG``: utf8 0, zlib 1, brotli 2 in ``text-digital``) and ``FrameMeta.flags``
mirrors it. RX: LLRs -> BP -> CRC -> arithmetic decoder; any failure gives the cliff (the empty
sentence) with its reason (``frame_<status>``, ``header``, ``parity``, ``length``, ``crc``,
``source_decode`` - also for a payload whose tag is not 3).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from semcom_ota.baselines.arith import ModelTextCoder, NextTokenModel
from semcom_ota.baselines.codecs import DigitalTextCodec
from semcom_ota.baselines.digital import simulate_channel
from semcom_ota.baselines.mcs import CHANNELS, best_outage_rate, ideal_capacity_bits
from semcom_ota.frames import RxSemanticFrame
from semcom_ota.seeding import make_rng
from semcom_ota.semantic.base import codecs

TEXT_LLM_AC_ID = 8
LLM_AC_TAG = 3


def make_coder(llm: str | NextTokenModel, cache: int = 4096) -> ModelTextCoder:
    """A memoising :class:`ModelTextCoder` for a model name (``semcom_ota.semantic.llm``) or instance."""
    if isinstance(llm, str):
        from semcom_ota.semantic.llm import load_next_token_model

        llm = load_next_token_model(llm)
    return ModelTextCoder(llm, cache=cache)


@codecs.register("text-llm-ac")
class LlmTextCodec(DigitalTextCodec):
    """Separation baseline for text: model-driven arithmetic coding + LDPC + QAM (codec_id 8).

    The frame, MCS choice and cliff are :class:`~semcom_ota.baselines.codecs.DigitalTextCodec`'s; only
    the source coder differs (:meth:`source_fit`, :meth:`source_decode`).

    Parameters
    ----------
    llm: "gemma3-270m" (needs ``pip install -e .[llm]``), "byte-ngram", a NextTokenModel or a ModelTextCoder.
    channel: the channel the TX plans for ("awgn" threshold rule, "rayleigh" expected goodput).
    target_fer: AWGN frame error rate accepted by the MCS choice.
    combine_repeats: the MCS choice and ``meta.extra["success_prob"]`` credit the RX's chase combining
        of the frame's cyclic repeat of coded bits (default; at 320 channel uses 78 % of the coded bits of
        16-QAM 1/2 are sent twice, worth ~2 dB); False scores bare codewords.
    """

    name = "text-llm-ac"
    codec_id = TEXT_LLM_AC_ID

    def __init__(self, llm: str | NextTokenModel | ModelTextCoder = "gemma3-270m", channel: str = "awgn",
                 target_fer: float = 0.1, combine_repeats: bool = True) -> None:
        super().__init__(source_codec="utf8", channel=channel, target_fer=target_fer, combine_repeats=combine_repeats)
        self.source_codec = "llm"
        self.coder = llm if isinstance(llm, ModelTextCoder) else make_coder(llm)

    def source_fit(self, text: str, max_bits: int) -> tuple[np.ndarray, int, dict[str, Any]]:
        fit = self.coder.fit(text, max_bits)
        return fit.bits, LLM_AC_TAG, {"payload_bits": int(fit.bits.size), "tokens_sent": fit.n_tokens,
                                      "tokens_total": fit.tokens_total, "chars_sent": fit.chars_kept,
                                      "llm": self.coder.model.name}

    def source_decode(self, bits: np.ndarray, tag: int, tasks: dict[str, Any]) -> str:
        tasks.update(source_codec="llm" if tag == LLM_AC_TAG else tag, payload_bits_rx=int(bits.size))
        if tag != LLM_AC_TAG:
            raise ValueError(f"in-band tag {tag}: not an LLM arithmetic-coded payload ({LLM_AC_TAG})")
        return self.coder.decompress(bits)

    def transmit(self, text: str, channel_uses: int, snr_db: float, channel: str = "awgn",
                 rng: np.random.Generator | int | None = None) -> tuple[str, dict[str, Any]]:
        """Symbol level (as :class:`~semcom_ota.baselines.schemes.DigitalTextScheme`): encode, channel, decode."""
        frame = self.encode_for(text, channel_uses, snr_db, channel)
        rx, nv = simulate_channel(frame.symbols, snr_db, channel, rng)
        out = self.decode(RxSemanticFrame.from_ideal(frame, rx, nv, snr_db))
        return out.content, {**frame.meta.extra, **out.tasks}


def ideal_separation_llm(coder: ModelTextCoder, text: str, channel_uses: int, snr_db: float, channel: str = "awgn",
                         rng: np.random.Generator | int | None = None) -> tuple[str, dict[str, Any]]:
    """LLM arithmetic coding at the rate of an ideal channel code (no channel errors below it).

    AWGN: the longest token prefix whose stream fits ``floor(n log2(1 + snr))`` bits, always delivered.
    Rayleigh block fading: the outage-optimal fixed rate ``R``; the stream (at most ``R n`` bits)
    arrives iff ``n log2(1 + snr |h|^2)`` covers it for one fade ``|h|^2 ~ Exp(1)`` drawn from ``rng``.
    The delivered text is the coded prefix (the coder's lossless round trip is tested separately).
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel={channel!r}: expected one of {CHANNELS}")
    if channel == "awgn":
        fit = coder.fit(text, ideal_capacity_bits(channel_uses, snr_db, "awgn"))
        return (fit.text if fit.bits.size else ""), {"ok": bool(fit.bits.size), "payload_bits": int(fit.bits.size)}
    fit = coder.fit(text, int(best_outage_rate(snr_db) * channel_uses))
    if not fit.bits.size:
        return "", {"ok": False, "payload_bits": 0}
    g = make_rng(rng).exponential(1.0)
    arrived = channel_uses * math.log2(1.0 + 10 ** (snr_db / 10) * g) >= fit.bits.size
    return (fit.text if arrived else ""), {"ok": arrived, "payload_bits": int(fit.bits.size)}
