"""Shared CLI pieces: the error boundary, consoles and options used by several commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from accord.errors import AccordError

P = ParamSpec("P")
R = TypeVar("R")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn an :class:`AccordError` into a one-line message and its exit code (no traceback).

    Every command is wrapped in this, so a user's mistake (exit 2) or a failed check (exit 1)
    reads as a sentence, also under Typer's test runner.
    """

    @functools.wraps(fn)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except AccordError as e:
            err_console.print("[bold red]error:[/] ", end="")
            err_console.print(e.for_humans(), markup=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return inner
