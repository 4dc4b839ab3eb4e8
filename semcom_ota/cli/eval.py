"""`semcom eval ...`: evaluations that write DESIGN §2 result rows. Each codec area adds its command here."""

from __future__ import annotations

import typer

app = typer.Typer(help="Evaluate schemes over a channel or link; writes JSON result rows.", no_args_is_help=True)

from semcom_ota.cli.eval_text import eval_text  # noqa: E402

app.command("text", help="Text: semantic (+RAG) vs digital at equal channel uses.")(eval_text)

from semcom_ota.cli.eval_image import eval_image  # noqa: E402

app.command("image", help="Images: semantic, hybrid and separation baselines (PSNR, MS-SSIM) at equal channel uses.")(eval_image)

from semcom_ota.cli.eval_task import eval_task  # noqa: E402

app.command("task", help="Fashion-MNIST classification: task-fmnist student vs teacher-jscc vs digital at equal channel uses.")(eval_task)
