"""The digital text frame's success prediction credits the cyclic repeat, and the hybrid switches on it.

At 320 channel uses the only MCS that fits a sentence is 16-QAM 1/2 with one 648-bit codeword, and
the 126 leftover symbols repeat 78 % of its coded bits: bare-codeword BLER curves put the cliff
~2 dB too high (0.43 predicted at 6 dB, where every frame arrives).
"""

from __future__ import annotations

import numpy as np
import pytest

from semcom_ota.baselines.digital import DigitalBitPipe, simulate_channel
from semcom_ota.baselines.mcs import (
    effective_snr_db, get_mcs, load_bler_table, plan_frame, repeat_profile, select_mcs, success_probability,
)
from semcom_ota.seeding import make_rng

BUDGET = 320


def measured_success(plan, snr_db: float, frames: int, seed: int) -> float:
    """Fraction of full random payloads that the pipe delivers bit-exact (AWGN)."""
    pipe, rng = DigitalBitPipe(plan.channel_uses), make_rng(seed)
    good = 0
    for _ in range(frames):
        bits = rng.integers(0, 2, plan.payload_bits, dtype=np.uint8)
        rx, nv = simulate_channel(pipe.send(bits, plan.mcs), snr_db, "awgn", rng)
        res = pipe.receive(rx, nv)
        good += bool(res.ok and np.array_equal(res.bits, bits))
    return good / frames


def test_repeat_profile_counts_every_spare_bit():
    plan = plan_frame(get_mcs(3), BUDGET)
    assert (plan.n, plan.n_codewords, plan.spare_symbols) == (648, 1, 126)
    np.testing.assert_allclose(repeat_profile(plan), [[504 / 648, 1.0]])
    for idx, cu in [(0, 2000), (3, 700), (5, 1000), (8, 3000), (1, 361)]:
        p = plan_frame(get_mcs(idx), cu)
        prof = repeat_profile(p)
        spare = p.spare_symbols * p.mcs.bits_per_symbol
        copies = (prof[:, 1] + prof[:, 0]) * p.n  # bits sent per codeword
        assert copies.sum() == pytest.approx(p.n_codewords * p.n + spare)
    # no leftover -> no gain
    p = plan_frame(get_mcs(0), 32 + 648)
    assert p.spare_symbols == 0
    np.testing.assert_allclose(effective_snr_db(p, 2.0), [2.0])


def test_prediction_credits_the_repeat_and_matches_the_frame():
    plan = plan_frame(get_mcs(3), BUDGET)
    for snr, frames in [(5.0, 60), (3.5, 60)]:
        meas = measured_success(plan, snr, frames, seed=int(snr * 10))
        bare = success_probability(plan, snr)
        comb = success_probability(plan, snr, combine_repeats=True)
        assert comb >= meas - 0.15, (snr, comb, meas)   # fails if the repeat is ignored (bare: 0.015 at 5 dB)
        assert comb <= meas + 0.3, (snr, comb, meas)    # and not wildly optimistic
        assert bare <= comb
    assert success_probability(plan, 5.0) < 0.1 < 0.9 < success_probability(plan, 5.0, combine_repeats=True)


def test_default_prediction_is_the_bare_codeword_one():
    """The image codec calls select_mcs without combine_repeats: its numbers must not move."""
    plan = plan_frame(get_mcs(3), BUDGET)
    curve = load_bler_table()[(648, 3)]
    assert success_probability(plan, 6.0) == pytest.approx(float(1 - curve.bler(6.0)))
    assert select_mcs(None, BUDGET, 6.0).success_prob == pytest.approx(0.427, abs=0.01)
    assert select_mcs(None, BUDGET, 6.0, combine_repeats=True).success_prob > 0.99


def test_rayleigh_prediction_with_repeats():
    plan = plan_frame(get_mcs(3), BUDGET)
    bare = success_probability(plan, 10.0, "rayleigh")
    comb = success_probability(plan, 10.0, "rayleigh", combine_repeats=True)
    assert bare < comb < success_probability(plan, 10.0, "awgn", combine_repeats=True)


@pytest.fixture(scope="module")
def llm_codec():
    from semcom_ota.baselines.text_llm import LlmTextCodec
    from semcom_ota.data.base import DataUnavailable
    from semcom_ota.eval.text import sample_sentences

    try:
        return LlmTextCodec("byte-ngram"), sample_sentences("web", "val", 12, 0)
    except DataUnavailable as err:
        pytest.skip(f"WEB corpus unavailable: {err}")


def test_hybrid_switches_to_llm_ac_where_it_delivers_more(llm_codec):
    """At 6 dB LLM-AC delivers every val sentence: the hybrid must send it, against a semantic
    expectation of 0.85; at 3 dB it delivers (almost) nothing and the hybrid must keep the semantic codec."""
    from semcom_ota.eval.text import hybrid_choice

    llm_codec, refs = llm_codec
    q_sem = 0.85
    for snr, want in [(6.0, True), (3.0, False)]:
        rng = make_rng(int(snr))
        sent = [llm_codec.transmit(r, BUDGET, snr, "awgn", rng) for r in refs]
        delivered = np.mean([i["ok"] and h == r[: i["chars_sent"]] for r, (h, i) in zip(refs, sent)])
        pick = hybrid_choice(q_sem, [i for _, i in sent])
        assert (delivered > q_sem) == want, (snr, delivered)
        assert pick.all() if want else not pick.any(), (snr, [i["success_prob"] for _, i in sent])
    # the bare-codeword prediction would keep the semantic codec at 6 dB (the bug this fixes)
    from semcom_ota.baselines.text_llm import LlmTextCodec

    bare = LlmTextCodec(llm_codec.coder, combine_repeats=False)
    assert not hybrid_choice(q_sem, [bare.encode(r, BUDGET, 6.0).meta.extra for r in refs]).any()


@pytest.mark.parametrize("draws", [0, 2])
def test_eval_hybrid_measures_its_semantic_expectation_on_val(llm_codec, tmp_path, draws):
    """The eval's hybrid measures semantic+RAG on val sentences (a row of its own) and, at 6 dB where
    LLM-AC delivers, scores at least as well as the better of the two. With one expectation for every
    message (``hybrid_rehearsal=0``) it sends every message by LLM-AC; with the TX rehearsal it may keep
    the semantic codec for messages the TX decodes perfectly, and says what the rehearsal saw on val."""
    from semcom_ota.eval.text import TextEvalConfig, evaluate_text

    cfg = TextEvalConfig(snrs_db=(6.0,), budget=BUDGET, n_items=6, hybrid_val_items=6, global_size=100,
                         schemes=("semantic+rag", "digital-llm", "hybrid"), llm="byte-ngram",
                         hybrid_rehearsal=draws)
    rows = {(r.scheme, r.metric): r for r in evaluate_text(cfg)}
    exp = rows[("hybrid:val-expectation", "similarity")]
    assert exp.n_items == 6 and 0.0 < exp.value <= 1.0
    if draws:
        reh = rows[("hybrid:val-rehearsal", "similarity")]
        assert reh.n_items == 6 and 0.0 < reh.value <= 1.0
        assert rows[("hybrid", "digital_share")].value >= 0.5
    else:
        assert ("hybrid:val-rehearsal", "similarity") not in rows
        assert rows[("hybrid", "digital_share")].value == 1.0
    best = max(rows[("semantic+rag", "similarity")].value, rows[("digital-llm", "similarity")].value)
    assert rows[("hybrid", "similarity")].value >= best - 1e-9
