"""``accord review``, ``accord ui``, ``accord users`` and ``accord models``: people in the loop.

* ``accord users add NAME --role reviewer|admin`` asks for a password (or reads it from stdin
  with ``--password-stdin``); ``users list``; ``users set`` changes role, communities, password
  or disables someone.
* ``accord review`` walks the queue in the terminal: allow / block / depends on the community
  (with the communities it is acceptable for) / needs discussion, principle tags, an optional
  corrected response and a comment. Model text is printed with markup off and control
  characters escaped.
* ``accord ui`` serves the review web app on 127.0.0.1.
* ``accord models list | promote | rollback``: the model registry, every change recorded with
  who, when and why.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from accord.cli.common import DB_ENV_VAR as ENV_VAR
from accord.cli.common import cli_errors, console, open_store
from accord.errors import InputError

users_app = typer.Typer(help="People who review: add, list, change.", no_args_is_help=True)
models_app = typer.Typer(help="Value model versions: list, promote, roll back.", no_args_is_help=True)

Db = Annotated[str | None, typer.Option(
    "--db", envvar=ENV_VAR, show_envvar=True, metavar="URL",
    help="Database URL (sqlite:///file.db, postgresql+psycopg://...); default .accord/accord.db.")]
CharterOpt = Annotated[Path | None, typer.Option("--charter", "-c", help="Charter YAML (default: the packaged default charter).")]
NameOpt = Annotated[str, typer.Option("--name", help="Model name in the registry.")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Who does this (default: your login name).")]


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _safe(value: object) -> Text:
    from accord.cli.store_cmd import safe

    return safe(value)


# ---------------------------------------------------------------------- users
def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    pw = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return str(pw)


@users_app.command("add")
@cli_errors
def users_add(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="reviewer or admin.")] = "reviewer",
    community: Annotated[list[str] | None, typer.Option(
        "--community", help="A community whose cases this person reviews (repeatable; none: all).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")] = False,
    charter: CharterOpt = None,
    db: Db = None,
    actor: ActorOpt = None,
) -> None:
    """Add a reviewer or admin (the password is stored as a salted scrypt hash)."""
    from accord.charter import load_charter
    from accord.review.users import Users

    comms = community or []
    if comms:
        known = load_charter(charter).communities
        bad = [c for c in comms if c not in known]
        if bad:
            raise InputError(f"unknown community {bad[0]!r}; the charter defines: {', '.join(known) or 'none'}")
    password = _read_password(password_stdin)
    with open_store(db) as store:
        u = Users(store).add(name, password, role=role, communities=comms, actor=_actor(actor))
    console.print("added ", _safe(u.name), f" ({u.role}", ", communities: " if u.communities else "",
                  _safe(", ".join(u.communities)), ")", sep="")


@users_app.command("set")
@cli_errors
def users_set(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str | None, typer.Option("--role", help="reviewer or admin.")] = None,
    community: Annotated[list[str] | None, typer.Option("--community", help="Replace the communities (repeatable).")] = None,
    password: Annotated[bool, typer.Option("--password", help="Set a new password (prompted).")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the new password from stdin.")] = False,
    disable: Annotated[bool, typer.Option("--disable", help="Stop this person from signing in.")] = False,
    enable: Annotated[bool, typer.Option("--enable", help="Let a disabled person sign in again.")] = False,
    db: Db = None,
    actor: ActorOpt = None,
) -> None:
    """Change a user: role, communities, password, disabled (a new row; the old one stays)."""
    from accord.review.users import Users

    if disable and enable:
        raise InputError("--disable and --enable contradict each other")
    pw = _read_password(password_stdin) if (password or password_stdin) else None
    with open_store(db) as store:
        u = Users(store).update(name, password=pw, role=role, communities=community,
                                active=False if disable else True if enable else None, actor=_actor(actor))
    console.print("updated ", _safe(u.name), f": {u.role}, {'active' if u.active else 'disabled'}", sep="")


@users_app.command("list")
@cli_errors
def users_list(db: Db = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List users as they are now."""
    from accord.review.users import Users

    with open_store(db) as store:
        users = Users(store).list()
    if as_json:
        typer.echo(json.dumps([{"name": u.name, "role": u.role, "communities": list(u.communities), "active": u.active,
                                "created_at": u.created_at.isoformat()} for u in users], indent=2))
        return
    if not users:
        console.print("no users yet — add one with: accord users add NAME --role admin")
        return
    t = Table(header_style="bold")
    for col in ("name", "role", "communities", "active", "since (UTC)"):
        t.add_column(col)
    for u in users:
        t.add_row(_safe(u.name), u.role, _safe(", ".join(u.communities) or "all"), "yes" if u.active else "no",
                  u.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(t)


# ---------------------------------------------------------------------- terminal review
def _show_item(item: Any, charter: Any) -> None:
    case, v = item.case, item.verdict
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("item", f"#{item.id}  priority {item.priority:.2f}  risk {v.risk:.2f}  gate: {v.decision}")
    if item.community:
        head.add_row("community", _safe(item.community))
    head.add_row("context", _safe(case.context_text or "(none)"))
    head.add_row("action", _safe(case.action_text))
    head.add_row("why", _safe(v.explanation.summary))
    top = [p for p in v.principles[:4]]
    if top:
        head.add_row("scores", _safe(", ".join(f"{p.id} {p.score:.2f}{' (violated)' if p.violated else ''}" for p in top)))
    for p in v.explanation.precedents[:3]:
        head.add_row("precedent", _safe(f"{p.verdict} (similarity {p.similarity:.2f}): {p.action}"))
    console.print(head)


def _check_teaching(every: int, teach: str) -> list[str]:
    """The model names of ``--teach``, after checking ``--retrain-every`` (before anything is opened)."""
    if every < 0:
        raise InputError("--retrain-every must be 0 (off) or a positive number of reviews")
    names = list(dict.fromkeys(n.strip() for n in teach.split(",") if n.strip()))
    if not names:
        raise InputError("--teach names no model", hint="e.g. --teach default or --teach default,strong")
    return names


def _learners(store: Any, charter: Any, models_dir: Path, every: int, names: list[str], model: Path | None, *,
              actor: str) -> list[Any]:
    """One incremental learner per registered model in ``names`` (none when ``every`` is 0).

    ``--model`` is the default model's starting point; every other name starts from its packaged
    model (``strong``: the stronger tier).
    """
    from accord.review.retrain import DEFAULT_NAME, IncrementalLearner

    return [IncrementalLearner(store, charter, models_dir, every=every, name=n, actor=actor,
                               base_model_dir=model if n == DEFAULT_NAME else None) for n in names] if every else []


def review(
    reviewer: Annotated[str | None, typer.Option("--reviewer", "-r", help="Your name (default: your login name).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Stop after this many cases.")] = 20,
    order: Annotated[str, typer.Option("--order", help="priority (uncertainty × severity), active, oldest or random.")] = "priority",
    double_share: Annotated[float, typer.Option("--double-share", help="Share of items sent to two reviewers.")] = 0.1,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model for the active-learning order (default: the one in use).")] = None,
    retrain_every: Annotated[int, typer.Option("--retrain-every", help="partial_fit a new model version after every N reviews (0: off).")] = 0,
    models_dir: Annotated[Path, typer.Option("--models-dir", help="Where incremental versions are saved.")] = Path(".accord/models"),
    teach: Annotated[str, typer.Option("--teach", help="With --retrain-every: the registered models to update, comma-separated "
                                                   "(default; add strong when the gate runs --judges rules,model,strong).")] = "default",
    charter: CharterOpt = None,
    db: Db = None,
) -> None:
    """Review escalated cases in the terminal: allow (a), block (b), depends on the community (d),
    needs discussion (t), skip (s) or quit (q)."""
    from accord.charter import load_charter
    from accord.judges.value_model import ValueModel
    from accord.review.queue import QueueConfig, next_item
    from accord.review.retrain import current_model_path
    from accord.review.users import Users

    taught = _check_teaching(retrain_every, teach)
    ch = load_charter(charter)
    cfg = QueueConfig(double_share=double_share, order=order)  # type: ignore[arg-type]
    who = _actor(reviewer)
    done = 0
    skipped: list[int] = []
    with open_store(db) as store:
        u = Users(store).get(who)
        communities = u.communities if u is not None else ()
        learners = _learners(store, ch, models_dir, retrain_every, taught, model, actor=f"incremental:{who}")
        vm = None
        if order == "active":
            path = model or current_model_path(store)
            vm = ValueModel.load(path) if path else None
            if vm is None:
                from accord.learning.models import load_model

                vm = load_model(None)
        while done < limit:
            item = next_item(store, cfg, reviewer=who, communities=communities, model=vm, skip=skipped)
            if item is None:
                console.print("the queue is empty — thank you!")
                break
            console.rule()
            _show_item(item, ch)
            menu = "[a]llow, [b]lock, " + ("[d]epends on the community, " if ch.communities else "") + \
                "needs [t]alk (discussion), [s]kip, [q]uit"
            choice = typer.prompt(menu, default="s").strip().lower()[:1]
            if choice == "q":
                break
            if choice not in ("a", "b", "t") and not (choice == "d" and ch.communities):
                skipped.append(item.id)
                continue
            decision = {"a": "allow", "b": "block", "d": "depends", "t": "discuss"}[choice]
            acceptable: list[str] = []
            while decision == "depends" and not acceptable:
                raw = typer.prompt(f"acceptable for which communities ({', '.join(ch.communities)}; comma-separated)",
                                   default="", show_default=False)
                acceptable = [c.strip() for c in raw.split(",") if c.strip()]
                strange = [c for c in acceptable if c not in ch.communities]
                if strange:
                    console.print("unknown community: ", _safe(strange[0]), sep="")
                    acceptable = []
            ids = ch.principle_ids
            tags_raw = typer.prompt(f"principles ({', '.join(ids)}; comma-separated, empty for none)", default="",
                                    show_default=False)
            tags = [t.strip() for t in tags_raw.split(",") if t.strip()]
            bad = [t for t in tags if t not in ids]
            while bad:
                console.print("unknown principle: ", _safe(bad[0]), sep="")
                tags_raw = typer.prompt("principles", default="", show_default=False)
                tags = [t.strip() for t in tags_raw.split(",") if t.strip()]
                bad = [t for t in tags if t not in ids]
            correction = typer.prompt("corrected response (empty: none)", default="", show_default=False).strip() or None
            comment = typer.prompt("comment (empty: none)", default="", show_default=False).strip() or None
            store.add_review(item.id, who, decision, principles=tags, correction=correction, comment=comment,
                             communities=acceptable)
            done += 1
            console.print(f"recorded: {decision}" + (f" (acceptable for {', '.join(acceptable)})" if acceptable else "")
                          + (f" ({', '.join(tags)})" if tags else ""), markup=False)
            for learner in learners:
                if (res := learner.maybe_update()) is not None:
                    console.print(f"model update ({learner.name}): ", _safe(res.reason), sep="")
    console.print(f"{done} reviewed")


# ---------------------------------------------------------------------- models
@models_app.command("list")
@cli_errors
def models_list(
    db: Db = None,
    name: Annotated[str | None, typer.Option("--name", help="Only this model name.")] = None,
    events: Annotated[bool, typer.Option("--events", help="Also list promotions, rollbacks and refusals.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Registered model versions with their status (current, superseded, rolled back, registered)."""
    with open_store(db) as store:
        versions = store.model_versions(name)
        evs = store.model_events()
        refused = store.audit_events("model.refused", limit=None)
    if as_json:
        typer.echo(json.dumps({"versions": [m.as_dict() for m in versions], "events": [e.as_dict() for e in evs],
                               "refused": [e.as_dict() for e in refused]}, indent=2, default=str))
        return
    if not versions:
        console.print("no model versions registered yet")
        return
    t = Table(header_style="bold")
    for col in ("id", "name", "version", "status", "by", "created (UTC)", "held-out agreement"):
        t.add_column(col, overflow="fold", no_wrap=col == "version")
    for m in versions:
        cmp = (m.metrics or {}).get("comparison") or []
        agree = ", ".join(f"{c['candidate'].get('accuracy', '—')}" for c in cmp) or "—"
        style = "bold green" if m.current else ""
        t.add_row(str(m.id), _safe(m.name), _safe(m.version), Text(m.status, style=style), _safe(m.actor or "—"),
                  m.created_at.strftime("%Y-%m-%d %H:%M"), agree)
    console.print(t)
    if events:
        et = Table(title="events", header_style="bold", title_justify="left")
        for col in ("time (UTC)", "event", "model", "by", "reason"):
            et.add_column(col, overflow="fold")
        rows = [(e.created_at, e.event, str(e.model_id), e.actor, e.reason or "") for e in evs]
        rows += [(e.created_at, "refused", str(e.payload.get("model_id", "")), e.actor, e.payload.get("reason", ""))
                 for e in refused]
        for when, ev, mid, who, why in sorted(rows, key=lambda r: r[0]):
            et.add_row(when.strftime("%Y-%m-%d %H:%M:%S"), ev, mid, _safe(who), _safe(why))
        console.print(et)


@models_app.command("promote")
@cli_errors
def models_promote(
    ref: Annotated[str, typer.Argument(help="Version id or version string (a unique prefix works).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "promoted by hand",
    db: Db = None,
    actor: ActorOpt = None,
) -> None:
    """Put a registered version in use (recorded with who, when and why)."""
    from accord.review.retrain import promote

    with open_store(db) as store:
        m = promote(store, ref, actor=_actor(actor), reason=reason)
    console.print(f"promoted {m.version} (#{m.id}) — now in use for ", _safe(m.name), sep="")


@models_app.command("rollback")
@cli_errors
def models_rollback(
    name: NameOpt = "default",
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "rolled back by hand",
    db: Db = None,
    actor: ActorOpt = None,
) -> None:
    """Withdraw the version in use; the one promoted before it is in use again."""
    from accord.review.retrain import rollback

    with open_store(db) as store:
        old, new = rollback(store, actor=_actor(actor), reason=reason, name=name)
    console.print(f"rolled back {old.version} (#{old.id}); {new.version} (#{new.id}) is in use again")


# ---------------------------------------------------------------------- web app
def _secret(path: Path) -> bytes:
    env = os.environ.get("ACCORD_UI_SECRET", "")
    if env:
        if len(env) < 16:
            raise InputError("ACCORD_UI_SECRET must be at least 16 characters")
        return env.encode()
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    db: Db = None,
    charter: CharterOpt = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model for live scores when the registry has none in use.")] = None,
    order: Annotated[str, typer.Option("--order", help="Queue order: priority, active, oldest or random.")] = "priority",
    double_share: Annotated[float, typer.Option("--double-share", help="Share of items sent to two reviewers.")] = 0.1,
    retrain_every: Annotated[int, typer.Option("--retrain-every", help="partial_fit a new model version after every N reviews (0: off).")] = 0,
    models_dir: Annotated[Path, typer.Option("--models-dir", help="Where incremental versions are saved.")] = Path(".accord/models"),
    secret_file: Annotated[Path, typer.Option("--secret-file", help="Session signing key (made on first run; or set ACCORD_UI_SECRET).")] = Path(".accord/ui-secret"),
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Mark the session cookie Secure (behind HTTPS).")] = False,
    teach: Annotated[str, typer.Option("--teach", help="With --retrain-every: the registered models to update, comma-separated "
                                                   "(default; add strong when the gate runs --judges rules,model,strong).")] = "default",
    drift_every: Annotated[str, typer.Option("--drift-every", metavar="DURATION", help="Run the drift monitor in the background "
                                             "this often (90m, 1h, 1d; 'off': never); the dashboard shows it, /metrics its gauges.")] = "1h",
    drift_webhook: Annotated[str | None, typer.Option("--drift-webhook", envvar="ACCORD_DRIFT_WEBHOOK", show_envvar=True, metavar="URL",
                                                      help="POST the drift report as JSON here when the alarms change.")] = None,
) -> None:
    """Serve the review web app (sign in with a user from `accord users add`)."""
    from accord.charter import load_charter
    from accord.cli.common import bind_port, is_verbose, run_server
    from accord.review.queue import QueueConfig
    from accord.review.users import Users
    from accord.server.review import create_app

    taught = _check_teaching(retrain_every, teach)
    ch = load_charter(charter)
    cfg = QueueConfig(double_share=double_share, order=order)  # type: ignore[arg-type]
    bind_port(host, port).close()  # a busy port: one sentence and exit 2
    store = open_store(db)
    if not Users(store).list():
        console.print("[yellow]no users yet[/] — add one first: accord users add NAME --role admin")
    inc = _learners(store, ch, models_dir, retrain_every, taught, model, actor="incremental")
    from accord.cli.monitor_cmd import start_drift

    drift = start_drift(store, drift_every, drift_webhook)
    app = create_app(store, ch, secret=_secret(secret_file), queue=cfg, model_dir=model, incremental=inc,
                     secure_cookies=secure_cookies, drift=drift)
    console.print(f"accord review on http://{host}:{port}  (store {store.url})")
    try:
        run_server(app, host, port, "info" if is_verbose() else "warning")
    finally:
        if drift is not None:
            drift.stop()
        store.close()


def register(app: typer.Typer) -> None:
    """Add ``review``, ``ui``, ``users`` and ``models`` to the ``accord`` app."""
    app.command("review")(cli_errors(review))
    app.command("ui")(cli_errors(ui))
    app.add_typer(users_app, name="users")
    app.add_typer(models_app, name="models")
