import json
import subprocess
import sys

import numpy as np

from semcom_ota.eval.report import png_data_uri, render_report, word_diff_html
from semcom_ota.results import ResultRow, write_rows


def _rows():
    return [
        ResultRow("image", s, "gnuradio:awgn", snr, 512, "psnr_db", v + snr, 3)
        for s, v in (("semantic", 20.0), ("avif+ldpc", 15.0))
        for snr in (0.0, 10.0)
    ] + [ResultRow("image", "semantic", "gnuradio:awgn", 10.0, 512, "frames_lost", 1.0, 3)]


def test_report_holds_tables_curves_examples_and_diffs():
    img = (np.arange(28 * 28) % 255).astype(np.uint8).reshape(28, 28)
    demo = {
        "title": "t",
        "stages": [{"name": "photos", "status": "failed", "seconds": 1.0, "error": "RuntimeError: boom"}],
        "examples": [
            {"kind": "image", "title": "shirt @ 10 dB", "panels": [{"label": "original", "src": png_data_uri(img, 4)},
                                                                   {"label": "semantic", "src": png_data_uri(img)}]},
            {"kind": "text", "snr_db": 10, "original": "in the beginning god created",
             "outputs": {"semantic": "in the start god created", "brotli+ldpc": None}},
        ],
        "constellations": [{"title": "semantic 10 dB", "points": [[0.1, 0.2], [1.0, -1.0]]}],
    }
    page = render_report({"rows": [r.__dict__ for r in _rows()], "demo": demo})
    assert page.count("data:image/png;base64,") >= 2 + 1 + 1  # two example images, >=1 curve, 1 constellation
    assert "RuntimeError: boom" in page and "avif+ldpc" in page and "frames_lost" in page
    assert "<del>beginning</del>" in page and "<ins>start</ins>" in page and "<i>lost</i>" in page


def test_word_diff_escapes_html():
    assert "&lt;b&gt;" in word_diff_html("a <b>", "a")


def test_report_cli_writes_html_and_rejects_bad_rows(tmp_path):
    path = write_rows(tmp_path / "r.json", _rows())
    out = subprocess.run([sys.executable, "-m", "semcom_ota.cli.main", "report", str(path), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "o" / "report.html").read_text()
    assert html.count("<tr>") >= len(_rows())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": [{"task": "x"}]}))
    out = subprocess.run([sys.executable, "-m", "semcom_ota.cli.main", "report", str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "missing keys" in out.stderr
