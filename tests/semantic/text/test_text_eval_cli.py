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
