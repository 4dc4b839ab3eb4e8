"""`scripts/train_text.py --eval-val` on two shipped cards: a tiny VAL run, well-formed tables."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CARDS = [ROOT / "models" / "text_semantic.yaml", ROOT / "models" / "text_semantic_kjv.yaml"]


def _script():
    spec = importlib.util.spec_from_file_location("train_text_script", ROOT / "scripts" / "train_text.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_eval_val_prints_one_table_per_card(monkeypatch, capsys, codec):
    mod = _script()
    monkeypatch.setattr(sys, "argv", ["train_text.py", "--eval-val", *map(str, CARDS), "--eval-items", "2",
                                      "--eval-snr-db", "10"])
    mod.main()
    out = capsys.readouterr().out
    tables = out.split("mean over cells: ")
    assert len(tables) == 3, out  # two tables, each closed by its mean line
    means = []
    for i, (card, table) in enumerate(zip(CARDS, tables[:2])):
        assert f"{card}: VAL split, 2 sentences per corpus, budget full frame" in table
        rows = re.findall(r"^(web|fortunes|kjv)\s+(awgn|rayleigh)\s+(\S+)\s*$", table, re.M)
        assert {(c, ch) for c, ch, _ in rows} == {(c, ch) for c in ("web", "fortunes", "kjv")
                                                  for ch in ("awgn", "rayleigh")}, table
        for _, _, cell in rows:  # similarity / BLEU / subword accuracy, one SNR
            vals = [float(v) for v in cell.split("/")]
            assert len(vals) == 3 and all(0.0 <= v <= 1.0 + 1e-6 for v in vals), cell
        means.append(dict(re.findall(r"(similarity|bleu|word_acc|subword_acc) ([0-9.]+)",
                                     tables[i + 1].splitlines()[0])))
    assert all(set(m) == {"similarity", "bleu", "word_acc", "subword_acc"} for m in means)
    # the KJV fine-tune and the base are different weights: their tables differ
    assert tables[0].split("\n", 1)[1] != tables[1].split("\n", 1)[1]


def test_eval_val_names_a_missing_card(monkeypatch, tmp_path):
    mod = _script()
    bad = tmp_path / "no_such_card.yaml"
    monkeypatch.setattr(sys, "argv", ["train_text.py", "--eval-val", str(bad), "--eval-items", "2",
                                      "--eval-snr-db", "10"])
    with pytest.raises(FileNotFoundError, match="no_such_card"):
        mod.main()
