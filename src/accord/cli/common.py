"""Shared CLI pieces: the error boundary, consoles and options used by several commands."""

from __future__ import annotations

import functools
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from accord.errors import AccordError, InputError

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


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (Typer's test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _QuietThirdParty(logging.Filter):
    """Without ``--verbose``: accord's own warnings pass, other libraries only from ERROR up."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "accord" or record.name.startswith("accord."):
            return record.levelno >= logging.WARNING
        return record.levelno >= logging.ERROR


_HANDLER_NAME = "accord-cli"

#: the audit store's URL variable (accord.store.migrate.ENV_VAR; a test keeps the two equal)
DB_ENV_VAR = "ACCORD_DATABASE_URL"


def open_store(db: str | None) -> Any:
    """``Store.open(db)``, importing the store (SQLAlchemy, Alembic) only when a command needs it."""
    from accord.store import Store

    return Store.open(db)


def setup_logging(verbose: bool = False) -> None:
    """One logging setup for every command.

    Without ``verbose``, third-party INFO and WARNING lines (httpx's ``HTTP Request``, Alembic's
    migrations, uvicorn) are not shown; accord's own warnings are. With ``verbose`` everything
    from INFO up is shown, as ``LEVEL:logger:message``. The root logger gets a handler here, so a
    library that calls ``logging.basicConfig`` on import (wordllama does, at INFO) changes nothing.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == _HANDLER_NAME:
            root.removeHandler(h)
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    if verbose:
        handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        root.setLevel(logging.INFO)
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler.addFilter(_QuietThirdParty())
        root.setLevel(logging.WARNING)
    root.addHandler(handler)


def is_verbose() -> bool:
    """Whether ``--verbose`` was given (the root logger passes INFO)."""
    return logging.getLogger().getEffectiveLevel() <= logging.INFO


def bind_port(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or an InputError (exit 2) when the port is taken.

    Binding here, before uvicorn starts, turns a busy port into one sentence and exit 2 (uvicorn
    itself logs an ``ERROR:`` line and exits 3); the socket is then handed to uvicorn, so nothing
    can take the port in between.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror}", hint="give --host an address such as 127.0.0.1") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        if e.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise InputError(f"port {port} on {host} is already in use", hint=f"stop what listens there or pick another with --port (e.g. --port {port + 1})") from None
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(app: Any, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` with uvicorn on an already bound socket (see :func:`bind_port`)."""
    import uvicorn

    sock = bind_port(host, port)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
