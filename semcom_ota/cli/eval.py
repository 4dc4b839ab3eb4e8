"""`semcom eval ...`: evaluations that write DESIGN §2 result rows. Each codec area adds its command here."""

from __future__ import annotations

import typer

app = typer.Typer(help="Evaluate schemes over a channel or link; writes JSON result rows.", no_args_is_help=True)

from semcom_ota.cli.eval_text import eval_text  # noqa: E402

app.command("text", help="Text: semantic (+RAG) vs digital at equal channel uses.")(eval_text)
