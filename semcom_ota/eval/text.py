"""Text evaluation: semantic codec (with and without RAG) vs digital separation at equal channel uses.

Every scheme gets the same ``channel_uses`` complex symbols per sentence and the same SNR; figures are
on the *test* split only (RAG thresholds are tuned on val). Rows (DESIGN §2):
``{task: "text", scheme, channel, snr_db, channel_uses, metric, value, n_items}``.

Schemes
-------
- ``semantic``: the LAM text codec (``models/text_semantic.yaml``).
- ``semantic+rag``: the same frames, decoded with retrieval from a local base (this receiver's recent
  content, updated with the "in-base" half of the test messages) and a global base (a sample of WEB +
  KJV train sentences). Extra rows split it by condition: ``semantic+rag:in-base`` (messages present in
  the local base), ``semantic+rag:out-of-base`` (the other half), ``semantic+rag:stale-local`` (the
  in-base messages decoded before the local base was updated), with ``semantic:in-base`` /
  ``semantic:out-of-base`` for reference.
- ``semantic+rag+llm``: semantic+rag, then the LLM prior at the receiver
  (:mod:`semcom_ota.semantic.llm.rescore`; ``cfg.llm``: Gemma-3-270M with the ``llm`` extra, or the
  ``byte-ngram`` model): for each message RAG did not replace, a beam over the top tokens of the
  decoder's least-confident slots plus RAG's best rejected candidate, picked by decoder log-prob +
  ``w`` x LM sentence log-prob. ``w`` (``cfg.llm_weight``; ``None`` = tuned in the same run on
  ``cfg.llm_val_items`` *val* sentences at the run's SNRs, same budget and knowledge-base condition;
  row ``semantic+rag+llm:weight``). Row ``semantic+rag+llm:changed`` is the share of messages whose
  text differs from semantic+rag.
- ``digital`` (Brotli) and ``utf8+ldpc``: source coder + IEEE 802.11n LDPC + QAM at the best MCS for
  the SNR (``semcom_ota.baselines``); a frame that fails its CRC delivers nothing ("" -> BLEU 0,
  similarity 0). ``brotli+ldpc`` is accepted as the old name of ``digital``.
- ``digital-llm``: LLM arithmetic coding (``cfg.llm``: Gemma-3-270M with the ``llm`` extra, or the
  ``byte-ngram`` model) + the same LDPC/MCS machinery (codec_id 8, ``semcom_ota.baselines.text_llm``).
- ``hybrid``: per message, the transmitter picks LLM arithmetic coding + LDPC (codec_id 8) when its
  expected quality (the chosen MCS's success probability at the fed-back SNR - with the frame's cyclic
  repeat of coded bits chase-combined, :func:`semcom_ota.baselines.mcs.success_probability` - x the
  MiniLM similarity of the prefix that fits to the whole message, :func:`prefix_similarities`) is at
  least the semantic codec's expected similarity for that message at that SNR, else semantic+RAG
  (codec_id 6). The semantic expectation (``hybrid_val_items`` > 0, the default) starts from
  semantic+RAG's mean similarity on that many *val* sentences at the same SNR, budget and
  knowledge-base condition (half of them in the local base), measured in the same run (row
  ``hybrid:val-expectation``); with ``hybrid_val_items=0`` the card's ``val_similarity``
  (``models/text_rag.yaml``: the codec *without* RAG at its full frame). ``hybrid_margin`` (default
  0.06, chosen on val): the scheme these messages favour on average is sent unless a message expects
  more than the margin from the other one (close calls stay with the better scheme of the SNR).
  ``hybrid_rehearsal`` = N > 0 (default 8) makes the semantic expectation per message: the TX
  rehearses its own frame through N twin draws with RAG over the global base
  (:mod:`semcom_ota.semantic.text.rehearsal`; row ``hybrid:val-rehearsal`` = the rehearsal's val
  mean) and the loss 1 - rehearsal is scaled by the val ratio of delivered to rehearsed loss (long
  messages, which LLM-AC cuts, are also the ones the semantic codec decodes worst); 0 = the val mean
  for every message. On the val split itself the expectation comes from other val sentences than
  the evaluated ones.
  ``hybrid-brotli``: the same rule with Brotli + LDPC (codec_id 7) as the digital option.
- ``ideal-separation`` / ``ideal-separation-llm``: Brotli / LLM arithmetic coding at the rate of a
  capacity-achieving code (AWGN: the longest prefix that fits ``n log2(1+snr)`` bits; Rayleigh: the
  outage-optimal rate, delivered iff the fade supports it).

Links: ``twin`` (symbol-level channel twin, batched), ``sim`` / ``gnuradio`` (the OFDM PHY through
:func:`semcom_ota.link.transport.transmit_frames`; only the semantic frames take the PHY path — the
digital and ideal rows stay symbol-level and their ``channel`` column says so).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from semcom_ota.eval.text_metrics import gap_to_better, sentence_bleu
from semcom_ota.progress import progress
from semcom_ota.results import ResultRow
from semcom_ota.seeding import make_rng, seed_everything

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CARD = ROOT / "models" / "text_semantic.yaml"
DEFAULT_RAG_CARD = ROOT / "models" / "text_rag.yaml"
SCHEMES = ("semantic", "semantic+rag", "semantic+rag+llm", "digital", "digital-llm", "utf8+ldpc", "ideal-separation",
           "ideal-separation-llm", "hybrid", "hybrid-brotli")
SCHEME_ALIASES = {"brotli+ldpc": "digital"}
LLM_SCHEMES = ("semantic+rag+llm", "digital-llm", "ideal-separation-llm", "hybrid")


def default_schemes(llm: str = "gemma3-270m") -> tuple[str, ...]:
    """Every scheme, less the LLM ones when ``llm`` is Gemma and the ``llm`` extra is not installed."""
    if llm == "gemma3-270m":
        from semcom_ota.semantic.llm.gemma import gemma_available

        if not gemma_available():
            return tuple(s for s in SCHEMES if s not in LLM_SCHEMES)
    return SCHEMES
LINKS = ("twin", "sim", "gnuradio")


@dataclass
class TextEvalConfig:
    corpus: str = "web"
    split: str = "test"
    snrs_db: Sequence[float] = (0.0, 5.0, 10.0, 15.0, 20.0)
    channel: str = "awgn"
    link: str = "twin"
    budget: int | None = None  # channel uses per sentence; None = the codec's full frame
    n_items: int = 200
    schemes: Sequence[str] = SCHEMES
    global_corpora: Sequence[str] = ("web", "kjv")
    global_size: int = 5000  # sentences per global corpus (seeded sample of train)
    seed: int = 0
    llm: str = "gemma3-270m"  # next-token model of the LLM schemes ("gemma3-270m" or "byte-ngram")
    hybrid_val_items: int = 100  # val sentences measuring the hybrid's semantic expectation; 0 = the card's table
    hybrid_rehearsal: int = 8  # TX twin draws per message predicting its semantic outcome; 0 = one value for all
    hybrid_margin: float = 0.06  # similarity a message must gain to leave the better scheme of the SNR (val-chosen)
    llm_weight: float | None = None  # LM weight of semantic+rag+llm; None = tuned on val (llm_val_items)
    llm_val_items: int = 50  # val sentences tuning llm_weight
    card: Path = DEFAULT_CARD
    rag_card: Path = DEFAULT_RAG_CARD
    extra: dict = field(default_factory=dict)


def sample_sentences(corpus: str, split: str, n: int, seed: int) -> list[str]:
    try:
        from semcom_ota.data import load_sentences
    except ImportError:  # before the package re-exports it
        from semcom_ota.data.corpora import load_sentences

    s = list(load_sentences(corpus, split))
    if n and n < len(s):
        s = [s[i] for i in np.sort(make_rng(seed).choice(len(s), n, replace=False))]
    return s


def global_base(corpora: Sequence[str], size: int, seed: int, embedder, cache_root: Path | None = None):
    """The global knowledge base (seeded train samples of ``corpora``), cached on disk under ``.cache/kb``."""
    from semcom_ota.semantic.lam import CACHE_DIR
    from semcom_ota.semantic.rag.kb import KnowledgeBase

    texts: list[str] = []
    for c in corpora:
        texts += sample_sentences(c, "train", size, seed)
    texts = list(dict.fromkeys(texts))
    key = hashlib.sha1("\0".join(texts).encode()).hexdigest()[:16]
    d = Path(cache_root or CACHE_DIR / "kb") / f"global_{key}"
    try:
        return KnowledgeBase.load(d, embedder)
    except FileNotFoundError:
        log.info("building global base: %d sentences from %s train", len(texts), list(corpora))
        kb = KnowledgeBase.create(embedder)
        kb.add(texts)
        kb.save(d)
        return kb


class SymbolChannel:
    """Batched symbol-level channel for the codec's frames: the twin, or a PHY link via transport."""

    def __init__(self, link: str, channel: str, seed: int) -> None:
        if link not in LINKS:
            raise ValueError(f"link={link!r}: expected one of {LINKS}")
        if channel not in ("awgn", "rayleigh"):
            raise ValueError(f"channel={channel!r}: expected awgn or rayleigh")
        self.link, self.channel, self.seed = link, channel, seed
        self.gen = torch.Generator().manual_seed(seed)
        if link == "twin":
            from semcom_ota.channel.twin import ChannelTwin

            self.twin = ChannelTwin(channel)

    def __call__(self, x: np.ndarray, snr_db: float, codec=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """complex64 ``[B, n]`` -> (received ``[B, n]``, noise_var ``[B, n]``, mask ``[B, n]``, snr_db ``[B]``)."""
        B, n = x.shape
        if self.link == "twin":
            with torch.no_grad():
                zh, nv = self.twin(torch.from_numpy(x), float(snr_db), generator=self.gen)
            return zh.numpy(), nv.numpy(), np.ones((B, n), bool), np.full(B, float(snr_db))
        return self._phy(x, snr_db, codec)

    def _phy(self, x, snr_db, codec):
        """Frames through the OFDM PHY over a ``sim`` or ``gnuradio`` link (DESIGN §2 contract)."""
        from semcom_ota.frames import FrameMeta, SemanticFrame
        from semcom_ota.link import open_link
        from semcom_ota.link.transport import transmit_frames

        frames = [SemanticFrame(row, [x.shape[1]], FrameMeta(codec_id=6, seq=i % 256, snr_db=float(snr_db)))
                  for i, row in enumerate(x)]
        if self.link == "sim":
            kw = {"snr_db": float(snr_db), **({"fading": "rayleigh"} if self.channel == "rayleigh" else {})}
        else:
            kw = {"snr_db": float(snr_db), "seed": self.seed,
                  "flowgraph": "loopback_fading" if self.channel == "rayleigh" else "loopback_channel"}
        out = np.zeros_like(x)
        nv = np.full(x.shape, 1e4, np.float32)
        m = np.zeros(x.shape, bool)
        snr = np.full(x.shape[0], float(snr_db))
        for s in range(0, len(frames), 200):  # seq numbers wrap at 256
            with open_link(self.link, **kw) as link:
                res = transmit_frames(frames[s:s + 200], link)
            if res.lost:
                log.warning("%s link at %g dB: %d of %d frames lost %s", self.link, snr_db, sum(res.lost.values()),
                            res.sent, dict(res.lost))
            for j, rx in enumerate(res.rx):
                i = s + j
                if rx.status.decodable:
                    out[i], nv[i], m[i] = rx.symbols, np.where(rx.mask, rx.noise_var, 1e4), rx.mask
                    snr[i] = rx.snr_db if np.isfinite(rx.snr_db) else snr_db
        return out, nv, m, snr


def expected_semantic_similarity(rcfg, channel: str, snr_db: float) -> float:
    """The semantic codec's val similarity at ``snr_db`` (linear interpolation over the tuned SNRs)."""
    table = rcfg.val_similarity.get(channel) or {}
    if not table:
        raise ValueError(f"models/text_rag.yaml has no val_similarity for channel {channel!r} "
                         "(run `semcom kb tune`); the hybrid needs it")
    xs = sorted(table)
    return float(np.interp(snr_db, xs, [table[x] for x in xs]))


def ideal_separation_text(text: str, channel_uses: int, snr_db: float, channel: str, rng) -> str:
    """Brotli at the rate of an ideal channel code (see the module docstring); "" when nothing arrives."""
    from semcom_ota.baselines.mcs import best_outage_rate, ideal_capacity_bits
    from semcom_ota.baselines.text_codecs import decompress_text, fit_text

    if channel == "awgn":
        data, kept = fit_text(text, ideal_capacity_bits(channel_uses, snr_db, "awgn") // 8, "brotli")
        return decompress_text(data, "brotli") if kept else ""
    r = best_outage_rate(snr_db)
    data, kept = fit_text(text, int(r * channel_uses) // 8, "brotli")
    if not kept:
        return ""
    g = make_rng(rng).exponential(1.0)
    arrived = channel_uses * math.log2(1.0 + 10 ** (snr_db / 10) * g) >= 8 * len(data)
    return decompress_text(data, "brotli") if arrived else ""


def hybrid_choice(q_semantic: float | np.ndarray, digital_info: Sequence[dict],
                  prefix_similarity: Sequence[float] | None = None, margin: float = 0.0) -> np.ndarray:
    """The hybrid's per-message decision from TX-side quantities only: True = send digital.

    ``digital_info``: the digital frames' TX extras (``success_prob`` of the chosen MCS at the fed-back
    SNR - the text codecs credit the frame's chase-combined cyclic repeat -, ``chars_sent``,
    ``chars_total``). Digital's expected similarity is ``success_prob * v``, where ``v`` is
    ``prefix_similarity`` (per message: MiniLM similarity of the prefix that fits to the whole message,
    see :func:`prefix_similarities`) or, without it, the fraction of characters that fit.
    ``q_semantic``: semantic+RAG's expected similarity (one value, or one per message).
    With ``margin`` = 0 digital wins where its expectation is at least ``q_semantic``. With a margin the
    scheme these messages favour on average (mean expectations) is sent unless a message expects more
    than ``margin`` more from the other one: close calls, whose outcome the TX cannot predict, stay
    with the better scheme of this SNR.
    """
    if prefix_similarity is None:
        value = np.array([i["chars_sent"] / max(i["chars_total"], 1) for i in digital_info], float)
    elif len(prefix_similarity) != len(digital_info):
        raise ValueError(f"prefix_similarity: {len(prefix_similarity)} values for {len(digital_info)} messages")
    else:
        value = np.asarray(prefix_similarity, float)
    if margin < 0:
        raise ValueError(f"margin={margin}: expected >= 0 (similarity units)")
    q = np.array([i["success_prob"] for i in digital_info], float) * value
    q_sem = np.broadcast_to(np.asarray(q_semantic, float), q.shape)
    if margin == 0 or not len(q):
        return q >= q_sem
    if q.mean() >= q_sem.mean():  # digital is this SNR's better scheme: leave it only for a clear gain
        return q >= q_sem - margin
    return q >= q_sem + margin


def prefix_similarities(messages: Sequence[str], digital_info: Sequence[dict], lam) -> np.ndarray:
    """Per message, the MiniLM similarity between the prefix a digital frame carries
    (``message[:chars_sent]``) and the whole message: 1 where it fits whole, 0 where nothing fits.
    A TX-side quantity (the transmitter holds the message and MiniLM, its semantic encoder), which
    values a cut sentence by its meaning rather than by its share of characters."""
    kept = [m[: i["chars_sent"]] for m, i in zip(messages, digital_info)]
    out = np.array([1.0 if k == m else 0.0 for k, m in zip(kept, messages)])
    cut = [j for j, (k, m) in enumerate(zip(kept, messages)) if k != m and k.strip()]
    if cut:
        a = lam.sentence_embeddings([kept[j] for j in cut])
        b = lam.sentence_embeddings([messages[j] for j in cut])
        out[cut] = np.clip(np.sum(a * b, axis=1), 0.0, 1.0)
    return out


class _Scorer:
    """Per-item BLEU and similarity with the references embedded once."""

    def __init__(self, refs: list[str], lam) -> None:
        self.refs, self.lam = refs, lam
        self.ref_emb = lam.sentence_embeddings(refs)

    def __call__(self, hyps: list[str]) -> tuple[np.ndarray, np.ndarray]:
        bleu = np.array([sentence_bleu(h, r) for h, r in zip(hyps, self.refs)])
        e = self.lam.sentence_embeddings(hyps)
        sim = np.where([bool(h.strip()) for h in hyps], np.sum(e * self.ref_emb, axis=1), 0.0)
        return bleu, sim


def _rows(scheme: str, cfg: TextEvalConfig, snr: float, n: int, scores: tuple[np.ndarray, np.ndarray],
          idx: np.ndarray | None = None) -> list[ResultRow]:
    # only the semantic frames go through a PHY link; digital and ideal rows are symbol-level
    via_link = cfg.link != "twin" and scheme.startswith("semantic")
    chan = f"{cfg.link}:{cfg.channel}" if via_link else cfg.channel
    bleu, sim = scores if idx is None else (scores[0][idx], scores[1][idx])
    return [ResultRow("text", scheme, chan, float(snr), int(n), "bleu", float(np.mean(bleu)), len(bleu)),
            ResultRow("text", scheme, chan, float(snr), int(n), "similarity", float(np.mean(sim)), len(sim))]


def _gap_rows(scheme: str, cfg: TextEvalConfig, snr: float, n: int, chosen: tuple[np.ndarray, np.ndarray],
              a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> list[ResultRow]:
    """``{scheme}:gap`` rows: a per-message choice minus the better of its two schemes (mean over the
    messages), BLEU and similarity, with the paired-bootstrap 95 % interval (``*_gap_lo95`` / ``*_gap_hi95``)."""
    rows = []
    for k, metric in enumerate(("bleu", "similarity")):
        gap, lo, hi = gap_to_better(chosen[k], a[k], b[k], seed=cfg.seed + int(round(snr * 10)) % 997)
        for suffix, v in (("gap", gap), ("gap_lo95", lo), ("gap_hi95", hi)):
            rows.append(ResultRow("text", f"{scheme}:gap", cfg.channel, float(snr), int(n), f"{metric}_{suffix}",
                                  v, len(chosen[k])))
    return rows


def evaluate_text(cfg: TextEvalConfig) -> list[ResultRow]:
    """Run every scheme of ``cfg`` at every SNR; returns the result rows."""
    from semcom_ota.semantic.rag.decoder import RagConfig, RagDecoder, read_rag_config
    from semcom_ota.semantic.rag.kb import KnowledgeBase
    from semcom_ota.semantic.text.codec import TextSemanticCodec

    seed_everything(cfg.seed)
    schemes = [SCHEME_ALIASES.get(s, s) for s in cfg.schemes]
    digital_names = [s for s in dict.fromkeys(cfg.schemes) if SCHEME_ALIASES.get(s, s) == "digital"]
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        raise ValueError(f"schemes {unknown}: expected a subset of {SCHEMES} (or {list(SCHEME_ALIASES)})")
    need_rescore = "semantic+rag+llm" in schemes
    need_rag = need_rescore or any(s in schemes for s in ("semantic+rag", "hybrid", "hybrid-brotli"))
    need_llm = any(s in schemes for s in ("digital-llm", "hybrid", "ideal-separation-llm"))
    need_brotli = "digital" in schemes or "hybrid-brotli" in schemes
    coder = llm_codec = lm = None
    if need_rescore:  # before the semantic codec: a missing extra fails fast, naming it
        from semcom_ota.semantic.llm import load_next_token_model
        from semcom_ota.semantic.llm.gemma import LlmUnavailable

        try:
            lm = load_next_token_model(cfg.llm)
        except LlmUnavailable as err:
            raise LlmUnavailable(f"scheme semantic+rag+llm with --llm {cfg.llm}: {err} "
                                 "(or use --llm byte-ngram)") from None
        if cfg.llm_weight is None and cfg.llm_val_items < 1:
            raise ValueError("semantic+rag+llm: set llm_weight or llm_val_items >= 1 (the weight is tuned on val)")
    if need_llm:  # before the semantic codec: a missing extra fails fast, naming it
        from semcom_ota.baselines.text_llm import LlmTextCodec

        llm_codec = LlmTextCodec(cfg.llm, channel=cfg.channel)
        coder = llm_codec.coder
    codec = TextSemanticCodec(cfg.card)
    lam = codec.lam
    n = int(cfg.budget or codec.n_symbols)
    refs = sample_sentences(cfg.corpus, cfg.split, cfg.n_items, cfg.seed)
    half = len(refs) // 2
    in_idx, out_idx = np.arange(half), np.arange(half, len(refs))
    rows: list[ResultRow] = []

    def local_base(split: str, items: list[str]) -> KnowledgeBase:
        """The receiver's local base: earlier content (other sentences of this corpus' ``split``)."""
        older = sample_sentences(cfg.corpus, split, cfg.n_items * 3, cfg.seed + 1)
        kb = KnowledgeBase.create(lam.sentence_embeddings)
        kb.add([s for s in older if s not in set(items)][: cfg.n_items])
        return kb

    def semantic_pass(items: list[str], chan: SymbolChannel, snr: float,
                      keep: dict | None = None) -> tuple[list[str], torch.Tensor]:
        """Semantic frames of ``items`` over ``chan`` -> (decoded texts, log-probs); ``keep["x"]``: the frames."""
        x = np.concatenate([codec.encode_batch(items[s:s + 64], n, snr) for s in range(0, len(items), 64)])
        if keep is not None:
            keep["x"] = x
        rx, nv, m, snr_est = chan(x, snr, codec)
        logp = torch.cat([codec.decode_logprobs(rx[s:s + 64], nv[s:s + 64], m[s:s + 64], snr_est[s:s + 64])
                          for s in range(0, len(items), 64)])
        return codec.texts_from_logprobs(logp), logp

    def rag_updated(kb: KnowledgeBase, items: list[str], hyps: list[str], logp: torch.Tensor,
                    with_evidence: bool = False):
        """RAG decoding after the local base learnt the first half of ``items`` (removed again after).

        Returns the texts, or with ``with_evidence`` (texts, replaced flags, RAG's best candidate per message).
        """
        keys = kb.add(items[: len(items) // 2])  # the update: this receiver's new content
        rag = RagDecoder(codec, {"local": kb, "global": gkb}, rcfg)
        evs = rag.evidence(hyps, logp)
        kb.remove(keys)  # back to stale for the next SNR
        choices = [rag.choose(t, ev, rcfg.sim_threshold, rcfg.ll_margin) for t, ev in zip(hyps, evs)]
        if not with_evidence:
            return [c.text for c in choices]
        best = [max(ev, key=lambda e: e[3])[1] if ev else "" for ev in evs]
        return [c.text for c in choices], [c.replaced for c in choices], best

    def rescored(texts: list[str], replaced: list[bool], rag_best: list[str], logp: torch.Tensor) -> list:
        """LLM evidence for the messages RAG did not replace (``None`` for those it did: kept as is)."""
        todo = [i for i, r in enumerate(replaced) if not r and texts[i].strip()]
        evs = rescorer.evidence(logp[todo], [texts[i] for i in todo], [[rag_best[i]] for i in todo]) if todo else []
        out: list = [None] * len(texts)
        for i, e in zip(todo, evs):
            out[i] = e
        return out

    def apply_weight(texts: list[str], evs: list, w: float) -> list[str]:
        return [t if e is None else e.texts[e.choose(w)] for t, e in zip(texts, evs)]

    need_val = cfg.hybrid_val_items > 0 and ("hybrid" in schemes or "hybrid-brotli" in schemes)
    if need_rag:
        rcfg = read_rag_config(cfg.rag_card) if Path(cfg.rag_card).is_file() else RagConfig()
        gkb = global_base(cfg.global_corpora, cfg.global_size, cfg.seed, lam.sentence_embeddings)
        lkb = local_base(cfg.split, refs)
        rag_stale = RagDecoder(codec, {"local": lkb, "global": gkb}, rcfg)
    if need_val:  # the hybrid's semantic expectation, measured on val in the test condition
        val_refs = sample_sentences(cfg.corpus, "val", cfg.hybrid_val_items, cfg.seed)
        if cfg.split == "val":  # development runs on val: the expectation comes from other val sentences
            taken = set(refs)
            pool = sample_sentences(cfg.corpus, "val", cfg.hybrid_val_items + len(refs), cfg.seed + 3)
            val_refs = [s for s in pool if s not in taken][: cfg.hybrid_val_items]
        val_kb, val_score = local_base("val", val_refs), _Scorer(val_refs, lam)
        val_channel = SymbolChannel(cfg.link, cfg.channel, cfg.seed + 7919)
        rehearsal = None
        if cfg.hybrid_rehearsal > 0:
            from semcom_ota.semantic.text.rehearsal import SemanticRehearsal, calibrate

            rehearsal = SemanticRehearsal(codec, gkb, rcfg, cfg.channel, cfg.hybrid_rehearsal, cfg.seed + 15485863)
    channel = SymbolChannel(cfg.link, cfg.channel, cfg.seed)
    score = _Scorer(refs, lam)
    if need_rescore:
        from semcom_ota.semantic.llm.rescore import LlmRescorer, RescoreConfig, tune_weight

        rescorer = LlmRescorer(codec, lm, RescoreConfig(**(cfg.extra.get("rescore") or {})))
        llm_w, llm_tuning = cfg.llm_weight, {}
        if llm_w is None:  # tuned on val sentences at this run's SNRs (never on test)
            if cfg.split == "val":
                raise ValueError("semantic+rag+llm tunes its LM weight on val: evaluate another split or set llm_weight")
            t_refs = sample_sentences(cfg.corpus, "val", cfg.llm_val_items, cfg.seed + 2)
            t_kb, t_chan = local_base("val", t_refs), SymbolChannel(cfg.link, cfg.channel, cfg.seed + 104729)
            t_emb = lam.sentence_embeddings(t_refs)
            pooled, pooled_emb = [], []
            for snr in progress(list(cfg.snrs_db), desc="llm weight (val)", unit="snr"):
                h, lp = semantic_pass(t_refs, t_chan, snr)
                tx, rep_, best = rag_updated(t_kb, t_refs, h, lp, with_evidence=True)
                for i, e in enumerate(rescored(tx, rep_, best, lp)):
                    if e is not None:  # messages RAG kept as is do not depend on the weight
                        pooled.append(e)
                        pooled_emb.append(t_emb[i])
            if pooled:
                llm_w, _, llm_tuning = tune_weight(pooled, np.asarray(pooled_emb), lam.sentence_embeddings)
            else:
                llm_w = rescorer.cfg.weight
            log.info("semantic+rag+llm: LM weight %g (val: %s)", llm_w, llm_tuning)
    for snr in progress(list(cfg.snrs_db), desc=f"text eval {cfg.channel}", unit="snr"):
        if "semantic" in schemes or need_rag:
            test_frames: dict = {}
            hyps, logp = semantic_pass(refs, channel, snr, keep=test_frames)
            if "semantic" in schemes:
                sc = score(hyps)
                rows += _rows("semantic", cfg, snr, n, sc)
                rows += _rows("semantic:in-base", cfg, snr, n, sc, in_idx)
                rows += _rows("semantic:out-of-base", cfg, snr, n, sc, out_idx)
            if need_rag:
                stale = [c.text for c in rag_stale.correct(hyps, logp)]
                out, replaced, rag_best = rag_updated(lkb, refs, hyps, logp, with_evidence=True)
            if need_rescore:
                out_llm = apply_weight(out, rescored(out, replaced, rag_best, logp), llm_w)
                sc = score(out_llm)
                rows += _rows("semantic+rag+llm", cfg, snr, n, sc)
                rows += _rows("semantic+rag+llm:in-base", cfg, snr, n, sc, in_idx)
                rows += _rows("semantic+rag+llm:out-of-base", cfg, snr, n, sc, out_idx)
                chan_name = f"{cfg.link}:{cfg.channel}" if cfg.link != "twin" else cfg.channel
                rows.append(ResultRow("text", "semantic+rag+llm:changed", chan_name, float(snr), n, "share",
                                      float(np.mean([a != b for a, b in zip(out_llm, out)])), len(out)))
                rows.append(ResultRow("text", "semantic+rag+llm:weight", chan_name, float(snr), n, "llm_weight",
                                      float(llm_w), cfg.llm_val_items if cfg.llm_weight is None else 0))
            if "semantic+rag" in schemes:
                rows += _rows("semantic+rag:stale-local", cfg, snr, n, score(stale), in_idx)
                sc = sc_rag = score(out)
                rows += _rows("semantic+rag", cfg, snr, n, sc)
                rows += _rows("semantic+rag:in-base", cfg, snr, n, sc, in_idx)
                rows += _rows("semantic+rag:out-of-base", cfg, snr, n, sc, out_idx)
        rng = make_rng((cfg.seed + int(round(snr * 10))) % 2**31)  # negative SNRs too
        q_sem = expected_semantic_similarity(rcfg, cfg.channel, snr) if need_rag else None
        if need_val:
            val_frames: dict = {}
            q_val = float(np.mean(val_score(rag_updated(
                val_kb, val_refs, *semantic_pass(val_refs, val_channel, snr, keep=val_frames)))[1]))
            rows.append(ResultRow("text", "hybrid:val-expectation", cfg.channel, float(snr), n, "similarity",
                                  q_val, len(val_refs)))
            q_sem = q_val
            if rehearsal is not None:  # per message: the TX's own decodes, calibrated on val
                r_val = rehearsal(val_refs, n, snr, val_frames["x"], val_score.ref_emb)
                q_sem = calibrate(rehearsal(refs, n, snr, test_frames["x"], score.ref_emb), r_val, q_val)
                rows.append(ResultRow("text", "hybrid:val-rehearsal", cfg.channel, float(snr), n, "similarity",
                                      float(np.mean(r_val)), len(val_refs)))
        from semcom_ota.baselines.schemes import DigitalTextScheme

        if "utf8+ldpc" in schemes:
            dig = DigitalTextScheme(codec="utf8")
            rows += _rows("utf8+ldpc", cfg, snr, n, score([dig.transmit(r, n, snr, cfg.channel, rng)[0] for r in refs]))
        if need_brotli:
            dig = DigitalTextScheme(codec="brotli")
            sent = [dig.transmit(r, n, snr, cfg.channel, rng) for r in refs]
            hyps_d = [h for h, _ in sent]
            sc = sc_brotli = score(hyps_d)
            for name in digital_names:  # rows under the name asked for ("digital" or its old name)
                rows += _rows(name, cfg, snr, n, sc)
            if "hybrid-brotli" in schemes:
                info = [i for _, i in sent]
                pick = hybrid_choice(q_sem, info, prefix_similarities(refs, info, lam), cfg.hybrid_margin)
                sc = score([hd if p else hs for hd, hs, p in zip(hyps_d, out, pick)])
                rows += _rows("hybrid-brotli", cfg, snr, n, sc)
                rows.append(ResultRow("text", "hybrid-brotli", cfg.channel, float(snr), n, "digital_share",
                                      float(pick.mean()), len(pick)))
                if "semantic+rag" in schemes and digital_names:
                    rows += _gap_rows("hybrid-brotli", cfg, snr, n, sc, sc_rag, sc_brotli)
        if "digital-llm" in schemes or "hybrid" in schemes:
            sent = [llm_codec.transmit(r, n, snr, cfg.channel, rng)
                    for r in progress(refs, desc=f"digital-llm {snr:g} dB", unit="sent", leave=False)]
            hyps_l = [h for h, _ in sent]
            if "digital-llm" in schemes:
                sc_llm = score(hyps_l)
                rows += _rows("digital-llm", cfg, snr, n, sc_llm)
            if "hybrid" in schemes:
                info = [i for _, i in sent]
                pick = hybrid_choice(q_sem, info, prefix_similarities(refs, info, lam), cfg.hybrid_margin)
                sc = score([hl if p else hs for hl, hs, p in zip(hyps_l, out, pick)])
                rows += _rows("hybrid", cfg, snr, n, sc)
                rows.append(ResultRow("text", "hybrid", cfg.channel, float(snr), n, "digital_share",
                                      float(pick.mean()), len(pick)))
                if "semantic+rag" in schemes and "digital-llm" in schemes:
                    rows += _gap_rows("hybrid", cfg, snr, n, sc, sc_rag, sc_llm)
        if "ideal-separation" in schemes:
            hyps_i = [ideal_separation_text(r, n, snr, cfg.channel, rng) for r in refs]
            rows += _rows("ideal-separation", cfg, snr, n, score(hyps_i))
        if "ideal-separation-llm" in schemes:
            from semcom_ota.baselines.text_llm import ideal_separation_llm

            hyps_i = [ideal_separation_llm(coder, r, n, snr, cfg.channel, rng)[0] for r in refs]
            rows += _rows("ideal-separation-llm", cfg, snr, n, score(hyps_i))
    return rows
