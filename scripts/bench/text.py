#!/usr/bin/env python
"""Benchmark: text semantic codec vs semantic+RAG vs digital separation at the same channel uses.

    .venv/bin/python scripts/bench/text.py [--channel awgn] [--n-items 100] [--budget N] [--json out.json]
    .venv/bin/python scripts/bench/text.py --private-knowledge   # base vs KJV fine-tune on KJV and fortunes
    .venv/bin/python scripts/bench/text.py --coders 200 --gemma-decode 40   # lossless coders: bits/token, time
    .venv/bin/python scripts/bench/text.py --budget 320 --llm gemma3-270m   # + digital-llm, hybrid (llm extra)
    .venv/bin/python scripts/bench/text.py --corpus kjv --budget 320 --snr-db 0,3,6 --llm gemma3-270m \
        --schemes semantic,semantic+rag,semantic+rag+llm       # the LLM prior at the receiver (weight tuned on val)
    .venv/bin/python scripts/bench/text.py --frame-check 100 --budget 320 --llm byte-ngram --snr-db 3,3.5,4
        # the digital frame's measured success vs the TX prediction (bare codewords / repeats combined), val split

Test split only (RAG thresholds tuned on val). Prints one table per metric: rows = SNR, columns = schemes.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from semcom_ota.progress import progress  # noqa: E402

from semcom_ota.eval.text import TextEvalConfig, default_schemes, evaluate_text  # noqa: E402
from semcom_ota.results import write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def pivot(rows, metric: str) -> str:
    schemes = list(dict.fromkeys(r.scheme for r in rows if r.metric == metric))
    snrs = sorted({r.snr_db for r in rows})
    val = {(r.scheme, r.snr_db): r.value for r in rows if r.metric == metric}
    w = max(len(s) for s in schemes) + 1
    n = max(r.n_items for r in rows if r.metric == metric)  # the :in-base / :out-of-base rows hold half
    lines = [f"{metric} (n={n} messages per cell, halves in the :in-base / :out-of-base rows; channel uses "
             f"{rows[0].channel_uses}, {rows[0].channel})",
             "scheme".ljust(w) + "".join(f"{s:>8g}dB" for s in snrs)]
    for sc in schemes:
        lines.append(sc.ljust(w) + "".join(f"{val.get((sc, s), float('nan')):>10.3f}" for s in snrs))
    return "\n".join(lines)


def gap_table(rows) -> str:
    """The hybrids' gap to the better of their two schemes per SNR: ``gap [lo95, hi95]`` (paired bootstrap)."""
    val = {(r.scheme, r.metric, r.snr_db): r.value for r in rows if r.scheme.endswith(":gap")}
    if not val:
        return ""
    snrs = sorted({k[2] for k in val})
    lines = ["hybrid - max(its two schemes), mean over the messages [paired-bootstrap 95 % interval]"]
    for scheme in dict.fromkeys(k[0] for k in val):
        for metric in ("similarity", "bleu"):
            lines.append(f"{scheme[:-4]} {metric}")
            for s in snrs:
                g, lo, hi = (val.get((scheme, f"{metric}_{x}", s), float("nan")) for x in ("gap", "gap_lo95", "gap_hi95"))
                lines.append(f"  {s:>6g} dB  {g:+.5f}  [{lo:+.5f}, {hi:+.5f}]")
    return "\n".join(lines)


def private_knowledge(n_items: int, snrs: list[float], channel: str) -> None:
    """Semantic codec before/after fine-tuning on KJV: similarity and BLEU on KJV and fortunes test."""
    import numpy as np

    from semcom_ota.eval.text import SymbolChannel, sample_sentences
    from semcom_ota.eval.text_metrics import sentence_bleu, similarity
    from semcom_ota.semantic.text.codec import TextSemanticCodec

    cards = {"base (web+fortunes)": ROOT / "models/text_semantic.yaml",
             "fine-tuned on kjv": ROOT / "models/text_semantic_kjv.yaml"}
    print(f"private-knowledge fine-tuning: semantic codec, {channel}, {n_items} test sentences per corpus, "
          f"full frame; cells = similarity / BLEU")
    print("model".ljust(22) + "corpus".ljust(10) + "".join(f"{s:>14g}dB" for s in snrs))
    for name, card in cards.items():
        codec = TextSemanticCodec(card)
        for corpus in ("kjv", "fortunes"):
            refs = sample_sentences(corpus, "test", n_items, 0)
            cells = []
            for snr in snrs:
                x = codec.encode_batch(refs, codec.n_symbols, snr)
                rx, nv, m, se = SymbolChannel("twin", channel, 0)(x, snr)
                hyp = codec.decode_batch(rx, nv, m, se)
                sim = float(similarity(hyp, refs, codec.lam).mean())
                bleu = float(np.mean([sentence_bleu(h, r) for h, r in zip(hyp, refs)]))
                cells.append(f"{sim:.3f} / {bleu:.3f}")
            print(name.ljust(22) + corpus.ljust(10) + "".join(f"{c:>16}" for c in cells))


def lossless_coders(n_items: int, gemma_decode: int, corpus: str = "web") -> None:
    """Bits per Gemma token (and per sentence) of Gemma-AC, byte-n-gram-AC, Brotli and zlib on test
    sentences, with encode/decode time per sentence (1 thread). Every AC stream is decoded and checked
    (Gemma: the first ``gemma_decode`` sentences; its encode runs on all)."""
    import numpy as np

    from semcom_ota.baselines.arith import ModelTextCoder
    from semcom_ota.baselines.text_codecs import compress_text, decompress_text
    from semcom_ota.eval.text import sample_sentences
    from semcom_ota.semantic.llm import load_next_token_model
    from semcom_ota.semantic.llm.gemma import gemma_available

    refs = sample_sentences(corpus, "test", n_items, 0)
    coders = {"ngram-AC": ModelTextCoder(load_next_token_model("byte-ngram", corpus))}
    t = time.time()
    gemma = load_next_token_model("gemma3-270m") if gemma_available() else None
    if gemma is not None:
        print(f"gemma load (converted cache): {time.time() - t:.1f} s")
        coders = {"gemma-AC": ModelTextCoder(gemma), **coders}
    n_tok = np.array([len(gemma.tokenize(r)) for r in refs]) if gemma is not None else None
    res = {}
    for name in ("zlib", "brotli"):
        t = time.time()
        data = [compress_text(r, name) for r in refs]
        te = (time.time() - t) / len(refs)
        t = time.time()
        assert [decompress_text(d, name) for d in data] == refs
        res[name] = (np.array([8 * len(d) for d in data]), te, (time.time() - t) / len(refs), len(refs))
    for name, c in coders.items():
        bits, te, td, nd = [], 0.0, 0.0, 0
        n_dec = gemma_decode if name == "gemma-AC" else len(refs)
        for i, r in enumerate(progress(refs, desc=name, unit="sent")):
            t = time.time()
            b = c.compress(r)
            te += time.time() - t
            bits.append(b.size)
            if i < n_dec:
                t = time.time()
                assert c.decompress(b) == r, f"{name}: round trip failed on {r!r}"
                td += time.time() - t
                nd += 1
        res[name] = (np.array(bits), te / len(refs), td / max(nd, 1), nd)
    chars = sum(len(r) for r in refs)
    print(f"lossless coders on {len(refs)} {corpus} test sentences ({chars / len(refs):.1f} chars"
          + (f", {n_tok.mean():.1f} Gemma tokens" if n_tok is not None else "") + " per sentence; 1 thread, shared 2-core CPU)")
    print("coder".ljust(10) + "bits/sent".rjust(10) + "bits/char".rjust(10) + "bits/Gemma-tok".rjust(15)
          + "enc ms/sent".rjust(12) + "dec ms/sent".rjust(12) + "  decoded+checked")
    for name, (bits, te, td, nd) in res.items():
        per_tok = f"{bits.sum() / n_tok.sum():.2f}" if n_tok is not None else "-"
        print(name.ljust(10) + f"{bits.mean():10.1f}{bits.sum() / chars:10.3f}{per_tok:>15}"
              f"{1e3 * te:12.1f}{1e3 * td:12.1f}  {nd}")


def frame_check(n_items: int, budget: int, snrs: list[float], llm: str, corpus: str = "web", frames: int = 200) -> None:
    """The TX success prediction of the digital text frames vs what the RX delivers (validation split).

    1. ``text-llm-ac`` as actually sent (same budget, same MCS choice, the cyclic repeat of coded bits)
       on ``n_items`` val sentences: delivered fraction vs the mean predicted success, bare codewords
       (``select_mcs``'s default) and with the repeat combined.
    2. Random payloads filling each MCS that fits ``budget`` (``frames`` per SNR): frame success vs the
       two predictions - model-agnostic, checks every (MCS, fill) the budget allows.
    """
    import numpy as np

    from semcom_ota.baselines.digital import DigitalBitPipe, simulate_channel
    from semcom_ota.baselines.mcs import MCS_TABLE, plan_frame, success_probability
    from semcom_ota.baselines.text_llm import LlmTextCodec
    from semcom_ota.eval.text import sample_sentences
    from semcom_ota.seeding import make_rng

    refs = sample_sentences(corpus, "val", n_items, 0)
    codec = LlmTextCodec(llm)
    print(f"frame check: text-llm-ac ({llm}), {len(refs)} {corpus} VAL sentences, {budget} channel uses, AWGN")
    print("snr_dB  delivered  pred_bare  pred_combined  mcs_used")
    for snr in snrs:
        rng = make_rng(int(round(snr * 100)) % 2**31)
        ok, pb, pc, used = [], [], [], []
        for r in refs:
            frame = codec.encode(r, budget, snr)
            ex = frame.meta.extra
            plan = plan_frame(MCS_TABLE[ex["mcs"]], budget)
            pb.append(success_probability(plan, snr, "awgn", ex["payload_bits"]))
            pc.append(success_probability(plan, snr, "awgn", ex["payload_bits"], combine_repeats=True))
            text, info = codec.transmit(r, budget, snr, "awgn", rng)
            ok.append(bool(info["ok"]) and text == r[: ex["chars_sent"]])
            used.append(ex["mcs"])
        mcs = ",".join(f"{m}:{c}" for m, c in zip(*np.unique(used, return_counts=True)))
        print(f"{snr:6.1f}  {np.mean(ok):9.3f}  {np.mean(pb):9.3f}  {np.mean(pc):13.3f}  {mcs}")
    print(f"\nrandom full payloads, {frames} frames per cell: measured / pred_bare / pred_combined")
    pipe = DigitalBitPipe(budget)
    for mcs in MCS_TABLE:
        plan = plan_frame(mcs, budget)
        if plan is None or plan.payload_bits <= 0:
            continue
        cells = []
        for snr in snrs:
            rng = make_rng(1000 + mcs.index * 97 + int(round(snr * 100)))
            good = 0
            for _ in range(frames):
                bits = rng.integers(0, 2, plan.payload_bits, dtype=np.uint8)
                rx, nv = simulate_channel(pipe.send(bits, mcs), snr, "awgn", rng)
                res = pipe.receive(rx, nv)
                good += bool(res.ok and np.array_equal(res.bits, bits))
            cells.append(f"{good / frames:.2f}/{success_probability(plan, snr):.2f}/"
                         f"{success_probability(plan, snr, combine_repeats=True):.2f}")
        print(f"{mcs.name:18s} n={plan.n} ncw={plan.n_codewords} spare={plan.spare_symbols}: "
              + "  ".join(f"{s:g}dB {c}" for s, c in zip(snrs, cells)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="web")
    ap.add_argument("--channel", default="awgn", choices=["awgn", "rayleigh"])
    ap.add_argument("--snr-db", default="0,5,10,15,20")
    ap.add_argument("--n-items", type=int, default=100)
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--global-size", type=int, default=5000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--llm", default="gemma3-270m", help="next-token model of the LLM schemes (or byte-ngram)")
    ap.add_argument("--schemes", default=None, help="comma-separated (default: all available)")
    ap.add_argument("--coders", type=int, default=0, metavar="N",
                    help="only measure the lossless coders (bits/token, time) on N test sentences")
    ap.add_argument("--gemma-decode", type=int, default=40, help="with --coders: Gemma decodes checked")
    ap.add_argument("--private-knowledge", action="store_true",
                    help="compare the base codec with its KJV fine-tune on KJV and fortunes test")
    ap.add_argument("--hybrid-val-items", type=int, default=100,
                    help="val sentences measuring the hybrid's semantic+RAG expectation (0: the RAG card's table)")
    ap.add_argument("--hybrid-rehearsal", type=int, default=8,
                    help="hybrid: twin draws per message of the TX rehearsal (0: one val expectation for all)")
    ap.add_argument("--hybrid-margin", type=float, default=0.06,
                    help="hybrid: similarity a message must gain to leave the scheme its SNR favours")
    ap.add_argument("--llm-weight", type=float, default=None,
                    help="semantic+rag+llm: LM weight (default: tuned on --llm-val-items val sentences)")
    ap.add_argument("--llm-val-items", type=int, default=50, help="semantic+rag+llm: val sentences tuning the LM weight")
    ap.add_argument("--frame-check", type=int, default=0, metavar="N",
                    help="only compare the digital frame's TX success prediction with what arrives, on N val sentences")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    if a.private_knowledge:
        private_knowledge(a.n_items, [float(s) for s in a.snr_db.split(",")], a.channel)
        return
    if a.frame_check:
        frame_check(a.frame_check, a.budget or 320, [float(s) for s in a.snr_db.split(",")], a.llm, a.corpus)
        return
    if a.coders:
        lossless_coders(a.coders, a.gemma_decode, a.corpus)
        return
    t = time.time()
    schemes = a.schemes.split(",") if a.schemes else default_schemes(a.llm)
    cfg = TextEvalConfig(corpus=a.corpus, channel=a.channel, snrs_db=[float(s) for s in a.snr_db.split(",")],
                         n_items=a.n_items, budget=a.budget, schemes=schemes, global_size=a.global_size, llm=a.llm,
                         hybrid_val_items=a.hybrid_val_items, hybrid_rehearsal=a.hybrid_rehearsal,
                         hybrid_margin=a.hybrid_margin, llm_weight=a.llm_weight, llm_val_items=a.llm_val_items,
                         card=ROOT / "models/text_semantic.yaml", rag_card=ROOT / "models/text_rag.yaml")
    rows = evaluate_text(cfg)
    print(f"text benchmark: corpus {a.corpus} test split, link twin, LLM {a.llm}, {time.time() - t:.0f} s "
          f"(2 CPU cores, no GPU, torch threads 1)\n")
    for metric in ("similarity", "bleu"):
        print(pivot(rows, metric) + "\n")
    gaps = gap_table(rows)
    if gaps:
        print(gaps + "\n")
    extra = [r for r in rows if r.metric in ("llm_weight", "share")]
    if extra:
        print("  ".join(f"{r.scheme} {r.snr_db:g} dB {r.metric}={r.value:.3g}" for r in extra) + "\n")
    if a.json:
        write_rows(a.json, rows, {"bench": "text", "corpus": a.corpus, "llm": a.llm})


if __name__ == "__main__":
    main()
