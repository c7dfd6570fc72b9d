"""The ``accord`` command: sub-commands live in modules that each define ``register(app)``.

Every command is wrapped in :func:`accord.cli.common.cli_errors`, so an
:class:`~accord.errors.AccordError` becomes a message for a person and its exit code; nothing a
user can get wrong prints a traceback.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="accord",
    help="Keep AI systems following human values: charter → judges → gate → review → learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that add commands; each defines register(app). Missing optional ones are skipped.
COMMAND_MODULES = (
    "accord.cli.core",
    "accord.cli.store_cmd",
    "accord.cli.suites_cmd",
    "accord.cli.serve_cmd",
    "accord.cli.review_cmd",
    "accord.cli.report_cmd",
    "accord.cli.monitor_cmd",
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show libraries' INFO and WARNING log lines "
                                                                "(HTTP requests, database migrations, server start-up)."),
) -> None:
    """Keep AI systems following human values: charter → judges → gate → review → learning."""
    from accord.cli.common import setup_logging

    setup_logging(verbose)


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(_name)
    except ModuleNotFoundError as _e:
        if _e.name != _name:
            raise
        continue
    _mod.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
