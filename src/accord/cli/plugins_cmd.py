"""``accord plugins list``: the judges, encoders, mutations and targets installed, and where each comes from."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from accord.cli.common import cli_errors, console

plugins_app = typer.Typer(help="Plugins: judges, encoders, mutations and targets, accord's own and third-party.",
                          no_args_is_help=True)


def _registries() -> dict[str, object]:
    from accord.judges.base import JUDGES
    from accord.learning.encoders import ENCODERS
    from accord.suites.mutations import MUTATIONS
    from accord.suites.targets import TARGETS

    return {r.group: r for r in (JUDGES, ENCODERS, MUTATIONS, TARGETS)}


def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: group -> name -> {object, package}.")] = False,
) -> None:
    """Every plugin by entry-point group, with the ``module:attribute`` and the package that declares it."""
    from rich import box
    from rich.table import Table

    from accord.plugins import GROUPS, Registry

    regs = _registries()
    rows = []
    for group in GROUPS:
        reg = regs[group]
        assert isinstance(reg, Registry)
        rows += [(group, reg.kind, name, *reg.origin(name)) for name in reg.names()]
    if as_json:
        out: dict[str, dict[str, dict[str, str]]] = {g: {} for g in GROUPS}
        for group, _, name, value, package in rows:
            out[group][name] = {"object": value, "package": package}
        console.print_json(json.dumps(out))
        return
    table = Table(box=box.SIMPLE, caption="a package adds one with an entry point in group accord.<kind>s")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("object", overflow="fold")
    table.add_column("package")
    for _, kind, name, value, package in rows:
        table.add_row(kind, name, value, package)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``plugins`` to the ``accord`` app."""
    plugins_app.command("list")(cli_errors(list_cmd))
    app.add_typer(plugins_app, name="plugins")
