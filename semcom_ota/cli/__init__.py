"""The `semcom` command line. Each area owns one module here that defines a typer app or command;
:mod:`semcom_ota.cli.main` wires them together."""
