"""`semcom`: the command line entry point (register new commands in :mod:`semcom_ota.cli.app`). Run ``semcom --help``.

The commands live in :mod:`semcom_ota.cli.app`. ``semcom doctor`` is dispatched before that module
is imported, so that it still runs and names the fix when the environment is broken (for example
NumPy 2 in the venv, under which the other commands' imports fail).
"""

from __future__ import annotations

import sys

import typer

from semcom_ota.cli import doctor


def _doctor_only(argv: list[str]) -> None:
    solo = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    solo.command(help=doctor.doctor.__doc__)(doctor.doctor)
    solo(args=argv, prog_name="semcom doctor")


def __getattr__(name: str):
    """``from semcom_ota.cli.main import app`` keeps working (the app is imported on first use)."""
    if name == "app":
        from semcom_ota.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    if sys.argv[1:2] == ["doctor"]:
        _doctor_only(sys.argv[2:])
        return
    from semcom_ota.cli.app import app

    app()


if __name__ == "__main__":
    main()
