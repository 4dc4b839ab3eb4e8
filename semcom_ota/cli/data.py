"""`semcom data ...`: the offline data sets — availability, split sizes, examples, bundled samples."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Offline data sets: availability, split sizes, examples, bundled demo samples.", no_args_is_help=True)

DATASETS = ("web", "kjv", "fortunes", "shakespeare", "paraphrase", "fashion-mnist", "photos", "tuxpaint", "samples")


def _split_sizes(name: str, seed: int) -> tuple[dict[str, int], list[str]]:
    """Split sizes of data set ``name`` and a few printable test-split examples (loads the data)."""
    from semcom_ota import data

    if name in data.CORPORA:
        splits = {s: data.load_sentences(name, s, seed=seed) for s in data.SPLITS}
        return {s: len(v) for s, v in splits.items()}, splits["test"][:3]
    if name == "paraphrase":
        splits = {s: data.load_paraphrase_pairs(s, seed=seed) for s in data.SPLITS}
        return {s: len(v) for s, v in splits.items()}, [f"KJV: {k}\n      WEB: {w}" for k, w in splits["test"][:2]]
    if name == "fashion-mnist":
        sizes = {}
        for s in data.SPLITS:
            x, y = data.load_fashion_mnist(s)
            sizes[s] = len(y)
        x, y = data.load_fashion_mnist("test")
        return sizes, [f"image {x.shape[1:]} {x.dtype}, label {int(y[i])} ({data.FASHION_MNIST_CLASSES[int(y[i])]})" for i in range(3)]
    if name == "photos":
        splits = {s: data.load_photos(s) for s in data.SPLITS}
        return {s: len(v) for s, v in splits.items()}, [f"{p.name} {p.image.shape}" for p in splits["test"]]
    if name == "tuxpaint":
        splits = {s: data.load_tuxpaint(s, seed=seed) for s in data.SPLITS}
        return {s: len(v) for s, v in splits.items()}, [f"{it.caption!r} {it.image.shape}" for it in splits["test"][:3]]
    if name == "samples":
        smp = data.load_samples()
        return ({"photos": len(smp.photos), "fmnist": len(smp.fmnist[1]), "sentences": len(smp.sentences)},
                [f"{n} {p.shape}" for n, p in smp.photos] + smp.sentences[:3])
    raise typer.BadParameter(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}", param_hint="NAME")


@app.command("list")
def list_cmd() -> None:
    """Print each data set's availability (cheap: nothing is loaded) and the fix for a missing one."""
    from semcom_ota.data.registry import availability

    status = availability()
    width = max(map(len, status))
    for name, a in status.items():
        typer.echo(f"[{'ok  ' if a.ok else 'miss'}] {name.ljust(width)}  {a.detail}")
        if not a.ok:
            typer.echo(f"       {' ' * width}  fix: {a.fix}")
    if not all(a.ok for a in status.values()):
        raise typer.Exit(1)


@app.command("show")
def show_cmd(name: str = typer.Argument(..., help=f"one of: {', '.join(DATASETS)}"),
             seed: int = typer.Option(0, help="Split seed (0 is the project's fixed split).")) -> None:
    """Load data set NAME and print its split sizes and a few test-split examples."""
    from semcom_ota.data import DataUnavailable

    if name not in DATASETS:
        raise typer.BadParameter(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}", param_hint="NAME")
    try:
        sizes, examples = _split_sizes(name, seed)
    except DataUnavailable as err:
        typer.echo(f"{name}: unavailable: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + f" (total {sum(sizes.values())})")
    for ex in examples:
        typer.echo(f"  e.g. {ex}")


@app.command("build-samples")
def build_samples_cmd(out: Path = typer.Option(None, help="Output directory (default: the package's assets/samples).")) -> None:
    """Regenerate the bundled demo samples from the TEST splits (LICENSES.md is kept by hand)."""
    from semcom_ota.data import samples

    target = out if out is not None else Path(samples.__file__).resolve().parents[1] / "assets" / "samples"
    for p in samples.build_samples(target):
        typer.echo(f"wrote {p} ({p.stat().st_size} bytes)")
