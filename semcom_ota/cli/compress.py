"""`semcom compress`: adaptive model compression of the LAM encoder to a device budget."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer


def _row(m) -> str:
    return (f"{m.name:<18} {m.size_mb:>8.1f} {m.latency_ms_b1:>9.2f} {m.latency_ms_b32:>10.1f} "
            f"{m.cosine_to_fp32:>8.4f} {m.paraphrase_top1:>8.3f} {m.channel_similarity:>8.4f}  {m.provider}")


HEADER = (f"{'candidate':<18} {'size MB':>8} {'ms b=1':>9} {'ms b=32':>10} {'cos fp32':>8} {'para@1':>8} "
          f"{'sim@5dB':>8}  provider")


def compress(
    model: str = typer.Option("minilm", "--model", help="Encoder to compress: minilm (the LAM text encoder), image "
                              "(image-semantic codec), task (Fashion-MNIST student) or teacher (teacher-jscc)."),
    card: Path = typer.Option(None, "--card", help="Codec model card of an image/task/teacher encoder (default: the one in models/)."),
    budget_ms: float = typer.Option(None, "--budget-ms", help="Latency budget, ms per item at batch 1 (a 32-token sentence, a 128x128 image, a 28x28 image)."),
    budget_mb: float = typer.Option(None, "--budget-mb", help="Size budget of the model file, MB."),
    device: str = typer.Option("cpu", "--device", help="cpu, or cuda (needs the onnxruntime-gpu extra and a GPU)."),
    threads: int = typer.Option(1, "--threads", help="Intra-op threads for the latency measurement."),
    out: Path = typer.Option(Path("out/compress"), "--out", help="Directory for the chosen model and its card."),
    all_candidates: bool = typer.Option(False, "--all", help="Measure every candidate, not only up to the first that fits."),
    json_path: Path = typer.Option(None, "--json", help="Also write every measurement as JSON."),
    int8_recipe: str = typer.Option(None, "--int8-recipe", help="MiniLM int8 recipe (semantic/compress/quantize.py "
                                    "LAM_RECIPES; default fused+fast-gelu, 'float-residual' the previous "
                                    "default, 'legacy' the first QDQ path)."),
) -> None:
    """Measure candidates on this machine (fp32 → int8 → pruned+int8) and keep the least compression
    that meets the budget; writes the model and a model card with measured size, latency and quality."""
    from semcom_ota.semantic.compress import budget as B

    from semcom_ota.semantic.compress import conv_candidates as C

    if model != "minilm" and model not in C.CONV_MODELS:
        typer.echo(f"semcom compress: --model {model!r}: expected 'minilm' or one of {sorted(C.CONV_MODELS)}", err=True)
        raise typer.Exit(2)
    if device not in ("cpu", "cuda"):
        typer.echo(f"semcom compress: --device {device!r}: expected cpu or cuda", err=True)
        raise typer.Exit(2)
    conv = model != "minilm"
    if conv:
        builder = C.conv_candidates(model, out, card, device=device, threads=threads)
        typer.echo(C.HEADER)
        names, _row_fn = builder.names, C.row
    else:
        from semcom_ota.semantic.compress.quantize import DEFAULT_LAM_RECIPE, LAM_RECIPES

        recipe = int8_recipe or DEFAULT_LAM_RECIPE
        if recipe not in LAM_RECIPES:
            typer.echo(f"semcom compress: --int8-recipe {recipe!r}: expected one of {list(LAM_RECIPES)}", err=True)
            raise typer.Exit(2)
        builder = B.minilm_builder(out, device=device, threads=threads, int8_recipe=recipe)
        typer.echo(HEADER)
        names, _row_fn = B.CANDIDATES, _row
    if all_candidates:
        measured = []
        for n in names:
            m = builder.build(n)
            typer.echo(_row_fn(m))
            measured.append(m)
        chosen = next((m for m in measured if B.meets(m, budget_ms, budget_mb)), None)
    else:
        chosen, measured = B.pick_least_compression(builder, budget_ms, budget_mb, names, on_measured=lambda m: typer.echo(_row_fn(m)))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"candidates": [asdict(m) for m in measured], "chosen": chosen.name if chosen else None,
                                         "budget_ms": budget_ms, "budget_mb": budget_mb}, indent=1))
    if chosen is None:
        best = min(measured, key=lambda m: m.latency_ms_b1)
        typer.echo(f"\nno candidate meets the budget (latency <= {budget_ms} ms, size <= {budget_mb} MB); "
                   f"the fastest is {best.name}: {best.latency_ms_b1:.2f} ms, {best.size_mb:.1f} MB", err=True)
        raise typer.Exit(1)
    if conv:
        card_out = C.write_conv_card(chosen, out / f"{model}_compressed.yaml", model, budget_ms, budget_mb, threads,
                                     card or C.CONV_MODELS[model])
    else:
        card_out = B.write_card(chosen, out / f"{model}_compressed.yaml", model, budget_ms, budget_mb, threads)
    typer.echo(f"\nchosen: {chosen.name} (least compression meeting the budget) -> card {card_out}")
