"""``accord report``: an evidence pack (HTML, PDF, JSON) for a period, from what accord recorded.

Reads only: the audit store (``--db``, as the ``audit`` commands take it), the charter and the
suite reports ``accord test --json`` wrote. Bad input (a date that is not one, a store that does
not exist, an output folder that cannot be written) is one sentence and exit 2.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from accord.cli.common import DB_ENV_VAR, cli_errors, console, err_console
from accord.errors import InputError


def _open_store_readonly(db: str | None) -> Any:
    """The store at ``db`` (or ``$ACCORD_DATABASE_URL``, else ``.accord/accord.db``), which must already exist.

    A report never creates a store: a SQLite file that is not there, or a database accord never
    migrated, is an InputError naming it. The schema is brought to the newest revision as every
    accord command does.
    """
    from accord.store import Store, migrate

    url = (db or os.environ.get(DB_ENV_VAR, "")).strip()
    if not url:
        path = Path.cwd() / migrate.DEFAULT_DIR / migrate.DEFAULT_FILE
        if not path.exists():
            raise InputError(f"no audit store at {path}", hint="pass --db URL (or set ACCORD_DATABASE_URL)")
        url = f"sqlite:///{path}"
    u = migrate.parse_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database in (None, "", ":memory:"):
            raise InputError("--db must name an existing audit store, not an in-memory database")
        if not Path(u.database).is_file():
            raise InputError(f"no audit store at {u.database}", hint="pass --db sqlite:///path/to/accord.db")
    engine = migrate.make_engine(u)
    try:
        rev = migrate.current_revision(engine)
    except Exception as e:
        raise InputError(f"cannot read the audit store {migrate.mask(u)}: {migrate.first_line(e)}") from None
    finally:
        engine.dispose()
    if rev is None:
        raise InputError(f"{migrate.mask(u)} is not an accord audit store (it has no accord schema)")
    return Store.open(url)


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.html, report.pdf and report.json.")],
    since: Annotated[str | None, typer.Option("--since", metavar="DATE", help="Start of the period: YYYY-MM-DD or an ISO time (UTC). Default: the first record.")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="DATE", help="End of the period (a date includes that day). Default: now.")] = None,
    db: Annotated[str | None, typer.Option("--db", "--store", metavar="URL", envvar=DB_ENV_VAR, show_envvar=True,
                                           help="Audit store URL (sqlite:///file.db, postgresql+psycopg://...); default .accord/accord.db.")] = None,
    charter: Annotated[Path | None, typer.Option("--charter", "-c", help="The charter in force (default: the packaged default charter).")] = None,
    suite_report: Annotated[list[Path] | None, typer.Option(
        "--suite-report", "-s", metavar="FILE|DIR", help="A JSON report from `accord test --json`, or a folder of them; repeatable. "
                                     "Runs that started in the period are used.")] = None,
    examples: Annotated[int, typer.Option("--examples", min=0, max=50, help="Example explanations to include.")] = 6,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print report.pdf (needs the accord[report] extra).")] = True,
) -> None:
    """Build an evidence pack for auditors: one section per EU AI Act article (9, 10, 12, 13, 14, 15).

    Every figure comes from what accord recorded; what was not recorded is marked missing. The pack is evidence, not a statement of legal compliance. See docs/regulation.md.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from accord.report import ReportInputs, build_report, parse_when, write_pack

    t_since = parse_when(since, "--since") if since else None
    t_until = parse_when(until, "--until", end=True) if until else None
    now = datetime.now(UTC)
    if t_since is not None and t_since >= (t_until or now):
        raise InputError(f"--since {since} is not before " + (f"--until {until}" if until else "now"))
    if charter is not None and not charter.is_file():
        raise InputError(f"charter file {charter} does not exist")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the pack")
    inputs = ReportInputs(since=t_since, until=t_until, charter_path=charter, suite_reports=suite_report or (),
                          examples=examples, now=now)
    with _open_store_readonly(db) as store, Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                                    console=err_console, disable=not err_console.is_terminal,
                                                    transient=True) as bar:
        task = bar.add_task("report", total=None)
        rep = build_report(store, inputs, progress=lambda s: bar.update(task, description=s))
        bar.update(task, description="writing the pack")
        pack = write_pack(rep, out, pdf=pdf)
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"evidence pack, {rep['period']['since'] or 'first record'} – {rep['period']['until']}",
              header_style="bold", title_justify="left")
    for col in ("article", "section", "status", "missing"):
        t.add_column(col, overflow="fold")
    style = {"filled": "green", "partial": "yellow", "missing": "red"}
    for s in rep["sections"]:
        t.add_row(s["article"], s["title"], Text(s["status"], style=style[s["status"]]),
                  Text("; ".join(i["title"] for i in s["items"] if i["status"] == "missing") or "—"))
    console.print(t)
    for p in (pack.html, pack.pdf, pack.json):
        if p is not None:
            console.print(Text(f"wrote {p}"))
    if pack.pdf is None:
        from accord.report.pack import PDF_HINT

        console.print(Text(f"no PDF: {pack.pdf_missing}" + ("" if not pdf else f"; to get one, {PDF_HINT}")))
    console.print(Text("This pack is evidence for an assessment, not a statement of legal compliance.", style="dim"))


def register(app: typer.Typer) -> None:
    """Add ``accord report``."""
    app.command("report")(cli_errors(report))
