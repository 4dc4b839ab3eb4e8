"""`semcom eval text`: semantic (± RAG) vs digital text transmission at equal channel uses (test split)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from semcom_ota.cli.options import parse_floats as _floats


def eval_text(
    corpus: str = typer.Option("web", help="Test corpus: web, kjv, fortunes or shakespeare."),
    snr_db: str = typer.Option("0,5,10,15,20", "--snr-db", help="Comma-separated SNRs (dB)."),
    channel: str = typer.Option("awgn", help="awgn or rayleigh."),
    link: str = typer.Option("twin", help="twin (symbol-level), sim or gnuradio (OFDM PHY via link transport)."),
    budget: Optional[int] = typer.Option(None, help="Channel uses per sentence (default: the codec's full frame)."),
    n_items: int = typer.Option(200, "--n-items", help="Test sentences (seeded sample)."),
    schemes: str = typer.Option("default", help="Comma-separated schemes; default: all (the LLM ones, "
                                "semantic+rag+llm, digital-llm, ideal-separation-llm and hybrid, only when the "
                                "llm extra is installed)."),
    llm: str = typer.Option("gemma3-270m", help="Next-token model of the LLM schemes: gemma3-270m or byte-ngram."),
    llm_weight: Optional[float] = typer.Option(None, "--llm-weight", min=0.0,
                                               help="semantic+rag+llm: weight of the LM sentence log-prob "
                                                    "(default: tuned on --llm-val-items val sentences)."),
    llm_val_items: int = typer.Option(50, "--llm-val-items", min=1,
                                      help="semantic+rag+llm: val sentences that tune the LM weight."),
    global_size: int = typer.Option(5000, help="Global base: train sentences per corpus (web, kjv)."),
    hybrid_rehearsal: int = typer.Option(8, "--hybrid-rehearsal", min=0,
                                         help="hybrid: twin draws per message of the TX rehearsal predicting "
                                              "the semantic codec's outcome (0: one val expectation for all)."),
    hybrid_margin: float = typer.Option(0.06, "--hybrid-margin", min=0.0,
                                        help="hybrid: similarity a message must gain to leave the scheme its "
                                             "SNR favours (0: the larger expectation wins per message)."),
    card: Path = typer.Option(Path("models/text_semantic.yaml"), help="Model card of the text codec."),
    rag_card: Path = typer.Option(Path("models/text_rag.yaml"), help="RAG thresholds (tuned on val)."),
    seed: int = typer.Option(0),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write result rows here."),
) -> None:
    """Evaluate text schemes; prints a table and writes DESIGN §2 rows with --json."""
    from semcom_ota.eval.text import SCHEME_ALIASES, SCHEMES, TextEvalConfig, default_schemes, evaluate_text
    from semcom_ota.results import format_table, write_rows

    sch = list(default_schemes(llm)) if schemes == "default" else [s.strip() for s in schemes.split(",") if s.strip()]
    bad = [s for s in sch if s not in SCHEMES and s not in SCHEME_ALIASES]
    if bad:
        raise typer.BadParameter(f"--schemes {bad}: expected some of {list(SCHEMES)}")
    cfg = TextEvalConfig(corpus=corpus, snrs_db=_floats(snr_db, "--snr-db"), channel=channel, link=link,
                         budget=budget, n_items=n_items, schemes=sch, global_size=global_size, seed=seed,
                         llm=llm, card=card, rag_card=rag_card, llm_weight=llm_weight, llm_val_items=llm_val_items,
                         hybrid_rehearsal=hybrid_rehearsal, hybrid_margin=hybrid_margin)
    from semcom_ota.semantic.llm.gemma import LlmUnavailable

    try:
        rows = evaluate_text(cfg)
    except LlmUnavailable as err:
        raise typer.BadParameter(str(err), param_hint="--schemes/--llm") from err
    typer.echo(format_table(rows))
    if json_out:
        write_rows(json_out, rows, {"corpus": corpus, "split": "test", "link": link, "n_items": n_items, "llm": llm})
        typer.echo(f"wrote {json_out}")
