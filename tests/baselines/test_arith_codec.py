"""``text-llm-ac`` (codec_id 8) with the byte n-gram model trained on the WEB train split:
bits against zlib/Brotli on held-out sentences, the LDPC frame, the cliff, the ideal line, the eval rows."""

import json

import numpy as np
import pytest

from semcom_ota.baselines.text_codecs import compress_text
from semcom_ota.data.base import DataUnavailable


@pytest.fixture(scope="module")
def web_test():
    from semcom_ota.eval.text import sample_sentences

    try:
        return sample_sentences("web", "test", 60, 3)
    except DataUnavailable as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def llm_codec(web_test):
    from semcom_ota.baselines.text_llm import LlmTextCodec

    return LlmTextCodec("byte-ngram")


def test_ngram_ac_beats_zlib_and_brotli_on_held_out(llm_codec, web_test):
    """Held-out WEB test sentences (the model saw only train): n-gram AC < 1/2 of Brotli's bits, all exact."""
    c = llm_codec.coder
    ac = np.array([c.compress(t).size for t in web_test])
    zl = np.array([8 * len(compress_text(t, "zlib")) for t in web_test])
    br = np.array([8 * len(compress_text(t, "brotli")) for t in web_test])
    assert ac.sum() < 0.5 * br.sum() and ac.sum() < 0.5 * zl.sum()
    chars = sum(len(t) for t in web_test)
    assert 1.0 < ac.sum() / chars < 2.6  # bits per character of an order-6 byte model on in-domain prose
    for t in web_test[:15]:
        assert c.decompress(c.compress(t)) == t


def test_frame_and_transmit(llm_codec, web_test):
    from semcom_ota.baselines.text_llm import LLM_AC_TAG, TEXT_LLM_AC_ID

    text = web_test[0]
    f = llm_codec.encode(text, budget=320, snr_db=20.0)
    assert f.n == 320 and f.meta.codec_id == TEXT_LLM_AC_ID == 8 and f.meta.flags == LLM_AC_TAG
    assert abs(np.mean(np.abs(f.symbols) ** 2) - 1) < 0.15
    e = f.meta.extra
    assert e["chars_sent"] == len(text) and e["payload_bits"] == llm_codec.coder.compress(text).size
    out, info = llm_codec.transmit(text, 320, 20.0, "awgn", rng=0)
    assert out == text and info["ok"]
    out, info = llm_codec.transmit(text, 320, -5.0, "awgn", rng=0)  # the cliff: nothing arrives
    assert out == "" and not info["ok"] and info["reason"] in ("parity", "crc", "length", "header")
    with pytest.raises(ValueError, match="channel_uses"):
        llm_codec.encode(text, budget=60, snr_db=20.0)
    with pytest.raises(TypeError, match="str"):
        llm_codec.encode(b"bytes", budget=320)


def test_small_budget_sends_a_prefix(llm_codec, web_test):
    """A budget too small for the whole sentence at 20 dB: the longest token prefix that fits arrives."""
    text = max(web_test, key=len) * 3
    out, info = llm_codec.transmit(text, 200, 20.0, "awgn", rng=1)
    assert info["ok"] and 0 < len(out) < len(text) and text.startswith(out)
    assert info["chars_sent"] == len(out)


def test_brotli_frame_is_not_decoded_as_llm(llm_codec, web_test):
    """The in-band tag says which coder made the payload: a Brotli frame is refused, and vice versa."""
    from semcom_ota.baselines.codecs import DigitalTextCodec
    from semcom_ota.baselines.digital import simulate_channel
    from semcom_ota.frames import RxSemanticFrame

    f = DigitalTextCodec("brotli").encode(web_test[1], 320, 20.0)
    rx, nv = simulate_channel(f.symbols, 20.0, "awgn", 0)
    out = llm_codec.decode(RxSemanticFrame.from_ideal(f, rx, nv, 20.0))
    assert out.content == "" and out.tasks["reason"] == "source_decode" and out.tasks["source_codec"] == 2
    f = llm_codec.encode(web_test[1], 320, 20.0)
    out = DigitalTextCodec("brotli").decode(RxSemanticFrame.from_ideal(f, f.symbols, 1e-3, 20.0))
    assert out.content == "" and out.tasks["reason"] == "source_decode"
    assert llm_codec.decode(RxSemanticFrame.from_ideal(f, f.symbols, 1e-3, 20.0)).content == web_test[1]


def test_ideal_separation_llm(llm_codec, web_test):
    from semcom_ota.baselines.text_llm import ideal_separation_llm

    c = llm_codec.coder
    t = web_test[2]
    assert ideal_separation_llm(c, t, 320, 10.0)[0] == t  # 320 log2(11) bits >> one sentence
    part, info = ideal_separation_llm(c, t * 4, 40, 0.0)  # 40 bits: a short prefix
    assert (t * 4).startswith(part) and len(part) < len(t) and info["payload_bits"] <= 40
    outs = [ideal_separation_llm(c, t, 320, 0.0, "rayleigh", rng=i)[1]["ok"] for i in range(40)]
    assert 0 < sum(outs) < 40  # some fades support the rate, some do not


def test_hybrid_choice_rule():
    from semcom_ota.eval.text import hybrid_choice

    info = [{"success_prob": 0.99, "chars_sent": 10, "chars_total": 10},
            {"success_prob": 0.40, "chars_sent": 10, "chars_total": 10},
            {"success_prob": 0.99, "chars_sent": 3, "chars_total": 10},
            {"success_prob": 0.99, "chars_sent": 0, "chars_total": 0}]
    assert hybrid_choice(0.5, info).tolist() == [True, False, False, False]
    # a cut message valued by the meaning of its prefix (0.9 similar) instead of its share of characters (0.3)
    assert hybrid_choice(0.5, info, [1.0, 1.0, 0.9, 0.0]).tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="prefix_similarity"):
        hybrid_choice(0.5, info, [1.0])


def test_prefix_similarity_values_a_cut_message_by_its_meaning():
    from semcom_ota.eval.text import prefix_similarities
    from semcom_ota.semantic.lam import load_lam

    msgs = ["The shepherd counted his sheep twice before closing the gate at dusk.", "Short one.", "Nothing fits here."]
    info = [{"chars_sent": 48}, {"chars_sent": 10}, {"chars_sent": 0}]
    sim = prefix_similarities(msgs, info, load_lam())
    assert sim[1] == 1.0 and sim[2] == 0.0
    assert 48 / len(msgs[0]) < sim[0] < 1.0  # more than its share of characters, less than the whole


def test_eval_text_cli_llm_rows(tmp_path, web_test):
    """`semcom eval text` with the LLM schemes driven by the n-gram model (no extra needed)."""
    from typer.testing import CliRunner

    from semcom_ota.cli.main import app

    out = tmp_path / "t.json"
    r = CliRunner().invoke(app, ["eval", "text", "--n-items", "6", "--snr-db", "-5,20", "--budget", "320",
                                 "--llm", "byte-ngram", "--schemes",
                                 "digital,digital-llm,ideal-separation-llm", "--json", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    got = {(x["scheme"], x["snr_db"], x["metric"]): x["value"] for x in doc["rows"]}
    assert doc["llm"] == "byte-ngram"
    assert got[("digital-llm", 20.0, "bleu")] == 1.0 and got[("digital-llm", -5.0, "similarity")] == 0.0
    assert got[("ideal-separation-llm", 20.0, "similarity")] > 0.99
    assert ("digital", 20.0, "similarity") in got


def test_eval_hybrid_switches_by_snr(tmp_path, web_test):
    """hybrid = semantic+RAG vs LLM-AC per message: all digital where the MCS is safe (20 dB), none at -5 dB."""
    from typer.testing import CliRunner

    from semcom_ota.cli.main import app

    out = tmp_path / "h.json"
    r = CliRunner().invoke(app, ["eval", "text", "--n-items", "6", "--snr-db", "-5,20", "--budget", "320",
                                 "--llm", "byte-ngram", "--global-size", "40", "--schemes",
                                 "semantic+rag,digital-llm,hybrid,hybrid-brotli", "--json", str(out)])
    assert r.exit_code == 0, r.output
    got = {(x["scheme"], x["snr_db"], x["metric"]): x["value"] for x in json.loads(out.read_text())["rows"]}
    assert got[("hybrid", 20.0, "digital_share")] == 1.0 and got[("hybrid", -5.0, "digital_share")] == 0.0
    assert got[("hybrid", 20.0, "similarity")] == got[("digital-llm", 20.0, "similarity")]
    assert got[("hybrid", -5.0, "similarity")] == got[("semantic+rag", -5.0, "similarity")] > 0
    assert ("hybrid-brotli", 20.0, "digital_share") in got
    for snr in (-5.0, 20.0):  # it sent the better scheme's frame for every message: no gap, no spread
        for metric in ("similarity", "bleu"):
            assert [got[("hybrid:gap", snr, f"{metric}_{k}")] for k in ("gap", "gap_lo95", "gap_hi95")] == [0, 0, 0]
