"""Knowledge base: add / update / remove / persist round trip, retrieval by meaning, CLI."""

import numpy as np
import pytest

from semcom_ota.semantic.rag.kb import KnowledgeBase

SENTS = [
    "In the beginning God created the heavens and the earth.",
    "The stock market fell sharply on Monday.",
    "A cat is sleeping on the warm windowsill.",
    "You will have a long and happy life.",
]


@pytest.fixture
def kb(lam):
    base = KnowledgeBase.create(lam.sentence_embeddings)
    base.add(SENTS)
    return base


def test_query_finds_paraphrase(kb):
    hits = kb.query_texts(["a kitten naps on the sunny window ledge", "god made heaven and earth at the start"], k=2)
    assert hits[0][0].text == SENTS[2] and hits[1][0].text == SENTS[0]
    assert hits[0][0].sim > hits[0][1].sim


def test_add_update_remove_persist_round_trip(kb, lam, tmp_path):
    (k_new,) = kb.add(["Quantum computers use qubits."])
    assert kb.query_texts(["qubits in quantum computing"], k=1)[0][0].key == k_new
    kb.update(k_new, "Bees make honey from flower nectar.")
    top = kb.query_texts(["honey bees"], k=1)[0][0]
    assert (top.key, top.text) == (k_new, "Bees make honey from flower nectar.")
    assert kb.remove([0]) == 1 and 0 not in kb
    assert all(h.key != 0 for h in kb.query_texts([SENTS[0]], k=4)[0])
    kb.save(tmp_path / "kb")
    back = KnowledgeBase.load(tmp_path / "kb", lam.sentence_embeddings)
    assert len(back) == len(kb) == 4 and back.texts == kb.texts
    q = lam.sentence_embeddings(["honey bees"])
    assert [h.key for h in back.query(q, 3)[0]] == [h.key for h in kb.query(q, 3)[0]]
    # keys keep growing after a reload (no reuse of removed keys)
    assert back.add(["Another sentence here."])[0] == k_new + 1


def test_errors_name_the_problem(kb, tmp_path):
    with pytest.raises(KeyError, match="no such key"):
        kb.update(999, "x")
    with pytest.raises(KeyError, match="unknown keys"):
        kb.remove([999])
    with pytest.raises(KeyError, match="already present"):
        kb.add(["dup"], keys=[1])
    with pytest.raises(ValueError, match="width"):
        kb.query(np.zeros((1, 10), np.float32))
    with pytest.raises(FileNotFoundError, match="semcom kb build"):
        KnowledgeBase.load(tmp_path / "nope")


def test_kb_cli_add_query_remove(tmp_path, lam):
    from typer.testing import CliRunner

    from semcom_ota.cli.kb import app

    d = str(tmp_path / "local")
    r = CliRunner().invoke(app, ["add", d, SENTS[0], SENTS[1]])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["query", d, "god created heaven", "-k", "1"])
    assert r.exit_code == 0 and SENTS[0] in r.output
    r = CliRunner().invoke(app, ["remove", d, "--text", SENTS[0]])
    assert r.exit_code == 0 and "1 in" in r.output
    r = CliRunner().invoke(app, ["query", d, "god created heaven", "-k", "1"])
    assert SENTS[0] not in r.output
