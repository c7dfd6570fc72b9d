"""The ``accord`` command: sub-commands live in modules that each define ``register(app)``.

Every command is wrapped in :func:`accord.cli.common.cli_errors`, so an
:class:`~accord.errors.AccordError` becomes a message for a person and its exit code; nothing a
user can get wrong prints a traceback.

The command modules are imported when their command runs, not before: ``accord --help`` lists the
commands from :data:`COMMANDS` (a test keeps it equal to what the modules register) and draws the
page with rich directly, without Typer's help renderer (which imports a Markdown parser). Building
every command's options and importing every module cost about half of the old 0.75 s.
"""

from __future__ import annotations

import functools
import importlib
from difflib import get_close_matches
from typing import Any

import typer
from typer.core import TyperGroup

#: every top-level command, in the order ``accord --help`` lists them: name → (the module that
#: registers it, the first paragraph of its help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("accord.cli.core", "Write a commented starter charter."),
    "check": ("accord.cli.core", "Judge an action (or a file of cases) against the charter and explain the verdict."),
    "learn": ("accord.cli.core", "Teach the value model with human feedback; builds on the current model by default."),
    "eval": ("accord.cli.core", "Measure how well the gate agrees with human labels: precision, recall, F1, AUPRC per principle."),
    "demo": ("accord.cli.core", "Run the whole loop on built-in cases: judge, explain, learn from reviewers, judge again."),
    "test": ("accord.cli.suites_cmd", "Run safety suites against a target; exit 0 when every expectation holds, 1 when any fails, 2 on bad input."),
    "serve": ("accord.cli.serve_cmd", "Run the guard proxy: point any OpenAI client's base_url at http://HOST:PORT/v1."),
    "review": ("accord.cli.review_cmd", "Review escalated cases in the terminal: allow (a), block (b), depends on the community (d), "
                                        "needs discussion (t), skip (s) or quit (q)."),
    "ui": ("accord.cli.review_cmd", "Serve the review web app (sign in with a user from `accord users add`)."),
    "report": ("accord.cli.report_cmd", "Build an evidence pack for auditors: one section per EU AI Act article (9, 10, 12, 13, 14, 15)."),
    "monitor": ("accord.cli.monitor_cmd", "Compare a recent window of decisions with a reference window: decision mix, scores, inputs, agreement."),
    "charter": ("accord.cli.core", "Work with charters."),
    "feedback": ("accord.cli.store_cmd", "Import and export human feedback (labels, preferences, demonstrations)."),
    "audit": ("accord.cli.store_cmd", "Read the audit trail of gate decisions; re-judge it, or any large input, in batch."),
    "suites": ("accord.cli.suites_cmd", "Safety suites: list what is built in, preview mutations."),
    "keys": ("accord.cli.serve_cmd", "Client API keys for `accord serve` (only a hash is stored)."),
    "users": ("accord.cli.review_cmd", "People who review: add, list, change."),
    "models": ("accord.cli.review_cmd", "Value model versions: list, promote, roll back."),
    "plugins": ("accord.cli.plugins_cmd", "Plugins: judges, encoders, mutations and targets, accord's own and third-party."),
}

#: the modules that add commands, each with ``register(app)`` (missing optional ones are skipped)
COMMAND_MODULES = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


@functools.cache
def commands_of(module: str) -> dict[str, Any]:
    """The click commands ``module`` registers (imported and built once, on first use); empty
    when the module is not installed."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return {}
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    mod.register(sub)
    from typer.main import get_group

    return dict(get_group(sub).commands)


class LazyGroup(TyperGroup):
    """The root group: a command's module is imported when that command is looked up to run."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        return commands_of(entry[0]).get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer._click.exceptions.UsageError as e:
            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches and "Did you mean" not in e.message:
                e.message = e.message.rstrip(".") + ". Did you mean " + ", ".join(repr(m) for m in matches) + "?"
            raise

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """``accord --help``: usage, options and commands in rich panels, as Typer draws them."""
        from rich import box
        from rich.console import Console, Group
        from rich.padding import Padding
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        console = Console(highlight=False)
        console.print(Padding(Text.assemble(("Usage: ", "yellow"), (f"{ctx.command_path} ", "bold"),
                                            "[OPTIONS] COMMAND [ARGS]..."), 1))
        console.print(Padding(Text(" ".join((self.help or "").split())), (0, 1, 1, 1)))
        options = Table(highlight=False, show_header=False, expand=True, box=None, padding=(0, 1), pad_edge=False)
        options.add_column(style="bold cyan", no_wrap=True)
        options.add_column(style="bold green", no_wrap=True)
        options.add_column(ratio=10)
        for param in self.get_params(ctx):
            longs = [o for o in param.opts if o.startswith("--")]
            shorts = [o for o in param.opts if not o.startswith("--")]
            options.add_row(", ".join(longs), ", ".join(shorts), getattr(param, "help", None) or "")
        commands = Table(highlight=False, show_header=False, expand=True, box=None, padding=(0, 1), pad_edge=False)
        commands.add_column(style="bold cyan", no_wrap=True)
        commands.add_column(ratio=10)
        for name, (_, text) in COMMANDS.items():
            commands.add_row(name, text)
        for title, table in (("Options", options), ("Commands", commands)):
            console.print(Panel(Group(table), title=title, title_align="left", border_style="dim", box=box.ROUNDED))


app = typer.Typer(
    name="accord",
    help="Keep AI systems following human values: charter → judges → gate → review → learning.",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show libraries' INFO and WARNING log lines "
                                                                "(HTTP requests, database migrations, server start-up)."),
) -> None:
    """Keep AI systems following human values: charter → judges → gate → review → learning."""
    from accord.cli.common import setup_logging

    setup_logging(verbose)


def main() -> None:
    """Console-script entry point."""
    app()
