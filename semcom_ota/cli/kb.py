"""`semcom kb ...`: knowledge bases for retrieval-augmented text decoding (MiniLM + usearch).

    semcom kb build kb/global --corpus web --corpus kjv --split train [--limit N]
    semcom kb add kb/local "A new sentence." --file more.txt
    semcom kb remove kb/local --key 3 --text "A new sentence."
    semcom kb query kb/global "in the begining god created" -k 3
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

import typer

log = logging.getLogger(__name__)

app = typer.Typer(help="Build, update and query knowledge bases (vector indexes of sentences) for RAG.",
                  no_args_is_help=True)


def _lines(texts: list[str], file: Optional[Path]) -> list[str]:
    out = list(texts or [])
    if file is not None:
        if not file.is_file():
            raise typer.BadParameter(f"--file {file}: not found (expected a text file, one sentence per line)")
        out += [ln.strip() for ln in file.read_text().splitlines() if ln.strip()]
    return out


@app.command("build")
def build(
    directory: Path = typer.Argument(..., help="Where to write the base (index.usearch + texts.json)."),
    corpus: List[str] = typer.Option(["web"], "--corpus", help="Corpora (web, kjv, fortunes, shakespeare); repeatable."),
    split: str = typer.Option("train", help="Split to index (train, val or test)."),
    limit: int = typer.Option(0, help="At most this many sentences per corpus (0 = all; seeded subset)."),
    seed: int = typer.Option(0),
    file: Optional[Path] = typer.Option(None, help="Also index the lines of this file."),
) -> None:
    """Build a knowledge base from corpus splits (and/or a file) and save it."""
    import numpy as np

    try:
        from semcom_ota.data import load_sentences
    except ImportError:  # before the package re-exports it
        from semcom_ota.data.corpora import load_sentences
    from semcom_ota.semantic.rag.kb import KnowledgeBase

    texts: list[str] = []
    rng = np.random.default_rng(seed)
    for c in corpus:
        s = list(load_sentences(c, split))
        if limit and limit < len(s):
            s = [s[i] for i in np.sort(rng.choice(len(s), limit, replace=False))]
        texts += s
    texts += _lines([], file)
    texts = list(dict.fromkeys(texts))  # de-duplicate, keep order
    kb = KnowledgeBase.create()
    kb.add(texts)
    kb.save(directory)
    typer.echo(f"built {directory}: {len(kb)} sentences from {list(corpus)} {split}")


@app.command("add")
def add(directory: Path, texts: List[str] = typer.Argument(None), file: Optional[Path] = typer.Option(None)) -> None:
    """Add sentences to a base (created if missing); prints their keys."""
    from semcom_ota.semantic.rag.kb import KnowledgeBase

    new = _lines(texts, file)
    kb = KnowledgeBase.load(directory) if (directory / KnowledgeBase.TEXTS_FILE).is_file() else KnowledgeBase.create()
    keys = kb.add(new)
    kb.save(directory)
    typer.echo(f"added {len(keys)} (keys {keys[:10]}{'...' if len(keys) > 10 else ''}); {len(kb)} in {directory}")


@app.command("remove")
def remove(directory: Path, key: List[int] = typer.Option([], "--key"),
           text: List[str] = typer.Option([], "--text", help="Remove every entry with exactly this text.")) -> None:
    """Remove entries by key or by exact text."""
    from semcom_ota.semantic.rag.kb import KnowledgeBase

    kb = KnowledgeBase.load(directory)
    keys = list(key)
    for t in text:
        found = kb.keys_of(t)
        if not found:
            raise typer.BadParameter(f"--text {t!r}: not in {directory}")
        keys += found
    n = kb.remove(keys)
    kb.save(directory)
    typer.echo(f"removed {n}; {len(kb)} in {directory}")


@app.command("query")
def query(directory: Path, text: str, k: int = typer.Option(5, "-k", help="Number of hits.")) -> None:
    """Nearest sentences to TEXT (cosine similarity of MiniLM embeddings)."""
    from semcom_ota.semantic.rag.kb import KnowledgeBase

    kb = KnowledgeBase.load(directory)
    for h in kb.query_texts([text], k)[0]:
        typer.echo(f"{h.sim:.3f}  [{h.key}]  {h.text}")


@app.command("tune")
def tune(
    card: Path = typer.Option(Path("models/text_semantic.yaml"), help="Model card of the text codec."),
    out: Path = typer.Option(Path("models/text_rag.yaml"), help="Where to write the tuned thresholds."),
    n: int = typer.Option(100, help="Val sentences per corpus (web, fortunes)."),
    global_size: int = typer.Option(5000, help="Global base: train sentences per corpus (web, kjv)."),
) -> None:
    """Tune RAG acceptance thresholds on the val split (twin, AWGN + Rayleigh, 0..20 dB)."""
    import torch

    from semcom_ota.semantic.rag.tune import tune_rag

    torch.set_num_threads(1)
    cfg = tune_rag(card, out, n=n, global_size=global_size)
    typer.echo(f"wrote {out}: sim_threshold={cfg.sim_threshold} ll_margin={cfg.ll_margin} ({cfg.tuned_on})")
