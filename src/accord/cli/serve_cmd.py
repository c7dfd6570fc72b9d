"""``accord serve`` (the guard proxy) and ``accord keys`` (its client API keys)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.common import DB_ENV_VAR as ENV_VAR
from accord.cli.common import cli_errors, console, err_console
from accord.cli.core import DEFAULT_JUDGES, BandOpt, JudgesOpt
from accord.cli.monitor_cmd import DriftEveryOpt, DriftWebhookOpt, start_drift
from accord.errors import InputError

Db = Annotated[str | None, typer.Option(
    "--db", envvar=ENV_VAR, show_envvar=True, metavar="URL",
    help="Database URL (sqlite:///file.db, postgresql+psycopg://...); default .accord/accord.db.")]

keys_app = typer.Typer(help="Client API keys for `accord serve` (only a hash is stored).", no_args_is_help=True)


@cli_errors
def serve(
    upstream: Annotated[str, typer.Option("--upstream", "-u", envvar="ACCORD_UPSTREAM", show_envvar=True, metavar="URL",
                                          help="The upstream's OpenAI base URL, with /v1 (e.g. http://127.0.0.1:8000/v1).")],
    charter: Annotated[Path | None, typer.Option("--charter", "-c", help="Charter YAML (default: the packaged default charter).")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Value model directory (default: $ACCORD_MODEL or the packaged model).")] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="Judge with the charter's hard rules only (same as --judges rules).")] = False,
    judges: JudgesOpt = DEFAULT_JUDGES,
    band: BandOpt = "0.2,0.8",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8787,
    db: Db = None,
    stream_window: Annotated[int, typer.Option(
        min=0, help="Streaming: sentences per judgment; text is released only up to the last judged boundary. "
                    "Smaller: earlier text, more judging; 0: hold the whole response.")] = 1,
    stream_max_chars: Annotated[int, typer.Option(min=20, help="Streaming: judge held text at a space once it is this long without a sentence end.")] = 400,
    max_body: Annotated[int, typer.Option(min=1024, help="Largest request body in bytes (413 above).")] = 1 << 20,
    rate_limit: Annotated[float | None, typer.Option(help="Requests per minute per key (per address without keys); a key's own limit wins.")] = None,
    upstream_key_env: Annotated[str, typer.Option(help="Environment variable holding the upstream's API key.")] = "ACCORD_UPSTREAM_API_KEY",
    upstream_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds of upstream silence before 504 (or a stream error).")] = 120.0,
    connect_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to connect to the upstream before 504.")] = 5.0,
    judge_input: Annotated[bool, typer.Option("--judge-input/--no-judge-input", help="Judge user input before it goes upstream.")] = True,
    log_level: Annotated[str | None, typer.Option(help="uvicorn log level (default: warning; info with accord --verbose, "
                                                       "which logs every request).")] = None,
    drift_every: DriftEveryOpt = "1h",
    drift_webhook: DriftWebhookOpt = None,
) -> None:
    """Run the guard proxy: point any OpenAI client's base_url at http://HOST:PORT/v1."""
    from accord.cli.common import bind_port, is_verbose, run_server
    from accord.cli.core import make_gate
    from accord.server.proxy import KeyStore, ProxyConfig, StoreEventLog, StoreSinks, create_app
    from accord.store import Store

    try:
        config = ProxyConfig(upstream=upstream, upstream_api_key=os.environ.get(upstream_key_env) or None,
                             connect_timeout_s=connect_timeout, read_timeout_s=upstream_timeout, max_body_bytes=max_body,
                             rate_limit_per_min=rate_limit, stream_window=stream_window, stream_max_chars=stream_max_chars,
                             judge_input=judge_input)
    except ValueError as e:
        raise InputError(str(e)) from None
    if no_model:
        if model is not None:
            raise InputError("--model and --no-model exclude each other")
        judges = "rules"
    bind_port(host, port).close()  # a busy port: one sentence and exit 2 before the model loads
    gate = make_gate(charter, model, judges=judges, band=band)
    store = Store.open(db)
    keys = KeyStore(StoreEventLog(store))
    app = create_app(config, gate, sinks=StoreSinks(store), keys=keys)
    drift = start_drift(store, drift_every, drift_webhook)
    if drift is not None:
        from accord.monitor import register_drift_metrics

        register_drift_metrics(app.state.metrics.registry, drift)
    auth = f"{sum(not k.revoked for k in keys.list())} active key(s)" if keys.configured else "no keys (open; add one with `accord keys add NAME`)"
    err_console.print(f"accord proxy on http://{host}:{port}/v1 → {config.base} · judge {gate.version} · "
                      f"store {store.url} · {auth}", markup=False)
    try:
        run_server(app, host, port, log_level or ("info" if is_verbose() else "warning"))
    finally:
        if drift is not None:
            drift.stop()
        app.state.writer.close()
        store.close()


@keys_app.command("add")
@cli_errors
def keys_add(
    name: Annotated[str, typer.Argument(help="Who the key is for (a client, team or service).")],
    rate: Annotated[float | None, typer.Option(help="This key's requests per minute (default: the server's --rate-limit).")] = None,
    db: Db = None,
) -> None:
    """Make a key and print it once: only its SHA-256 is stored."""
    from accord.server.proxy import KeyStore, StoreEventLog
    from accord.store import Store

    with Store.open(db) as store:
        key = KeyStore(StoreEventLog(store)).add(name, rate_per_min=rate)
    typer.echo(key)
    err_console.print(f"key for {name!r} made; it is shown only now. Clients send it as 'Authorization: Bearer <key>'.",
                      markup=False)


@keys_app.command("list")
@cli_errors
def keys_list(
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (names, prefixes, limits; never the keys)."""
    from rich.table import Table

    from accord.server.proxy import KeyStore, StoreEventLog
    from accord.store import Store

    with Store.open(db) as store:
        keys = KeyStore(StoreEventLog(store)).list()
    if as_json:
        console.print_json(json.dumps([{"name": k.name, "prefix": k.prefix, "rate_per_min": k.rate_per_min,
                                        "revoked": k.revoked} for k in keys]))
        return
    t = Table("name", "prefix", "rate/min", "status")
    for k in keys:
        t.add_row(k.name, k.prefix + "…", "" if k.rate_per_min is None else f"{k.rate_per_min:g}",
                  "revoked" if k.revoked else "active")
    console.print(t)


@keys_app.command("revoke")
@cli_errors
def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    db: Db = None,
) -> None:
    """Revoke a key (a new audit row; the proxy notices within seconds)."""
    from accord.server.proxy import KeyStore, StoreEventLog
    from accord.store import Store

    with Store.open(db) as store:
        KeyStore(StoreEventLog(store)).revoke(name)
    console.print(f"revoked {name!r}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``keys`` group to the ``accord`` app."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
