"""The `semcom` command line. Each area owns one module here that defines a typer app or command;
:mod:`semcom_ota.cli.app` wires them together; :mod:`semcom_ota.cli.main` is the entry point."""
