"""The audit store at scale on PostgreSQL: bulk write rate, and the dashboard, ``accord audit
list`` and the drift job's reads with millions of decisions.

    python bench/store_scale.py                      # 1,000,000 generated decisions
    python bench/store_scale.py --rows 10000000      # the issue's size (disk: ~1.3 KB a row)
    python bench/store_scale.py --keep               # keep the database (accord_scale) for a rerun
    python bench/store_scale.py --reuse              # time the queries on the kept database only
    python bench/store_scale.py --reuse --bulk       # ... and the writes (25,000 more rows each run)

* **Server**: ``--url``, else a local cluster on 127.0.0.1:5432 (started as ``.ci/run`` starts it
  when ``pg_lsclusters`` shows it down; role ``accord``) and a fresh database ``accord_scale``.
  The schema is made by the store's own migrations (0005 adds the indexes this measures).
* **Bulk writes**: ``Store.record_decisions_bulk`` of 20,000 real gate verdicts (the default gate
  on corpus cases, repeated with new trace ids): records per second, chained (``Store.verify``
  holds), against ``record_decision`` one at a time (the proxy's path) and ``record_decisions``.
* **Generated decisions**: ``--rows`` rows written by the server itself (``INSERT ... SELECT
  generate_series``) in pages, spread evenly over ``--days`` days ending now, with the shape of
  real rows: case and verdict JSON of a realistic size (~1.2 KB), decisions 70% allow / 5% revise
  / 15% escalate / 10% block, 40% of cases in one of two communities, one to three principles
  each. They are written without chain hashes (as rows from before migration 0003), so the chain
  of the bulk-written rows after them still verifies.
* **Queries** (each the best of 3 after a first, cold run, which is also shown): ``accord audit
  list`` (the CLI in a subprocess, and the store call alone), ``audit list --decision block``,
  the review app's queue counts (``Store.stats``), the admin dashboard (``build_dashboard``), the
  drift job's reads for one day (``run_monitor`` over one day against the 7-day reference, when
  ``accord.monitor`` is installed) and "decisions violating principle X today" (the GIN index).
  ``Store.stats()`` and the dashboard's daily escalation rate read the daily rollup
  (``decision_counts``, migration 0006), timed on its own too. ``VACUUM ANALYZE`` runs first, as
  autovacuum would have on a live store. A kept database from an older accord is upgraded first
  and the upgrade timed (0006 backfills the rollup from every decision).
* **Load**: the date, the load average before and after, and per query the client's CPU time
  (the Python side: this process, or the CLI subprocess), which is what a shared machine's
  contention does not inflate as much as the wall clock.

Figures only; nothing asserts on time. On a shared machine expect ±30%.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgresql+psycopg://accord:accord@127.0.0.1:5432/postgres"
DB = "accord_scale"


def ensure_cluster() -> None:
    """Start the local cluster as .ci/run does, if it is down."""
    if not shutil.which("pg_lsclusters"):
        return
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout.split()
    if "online" in out:
        return
    ver = sorted(os.listdir("/usr/lib/postgresql"), key=float)[-1]
    subprocess.run(["pg_ctlcluster", ver, "main", "start"], check=False)
    for _ in range(30):
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
            return
        time.sleep(1)


def fresh_database(reuse: bool) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB}).scalar()
        if exists and not reuse:
            c.execute(text(f"DROP DATABASE {DB} WITH (FORCE)"))
        if not exists or not reuse:
            c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + DB


def real_pairs(n: int) -> list:
    """``n`` (case, verdict) pairs from the default gate on corpus cases, fresh trace ids."""
    from accord.gate import Gate
    from accord.types import Case

    rows = []
    with open(ROOT / "corpus" / "cases.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append(Case(context=r.get("context", ""), action=r["action"], id=r.get("id")))
            if len(rows) == 512:
                break
    verdicts = Gate.from_charter(None).check_many(rows, record=False)
    return [(rows[i % 512], verdicts[i % 512].model_copy(update={"trace_id": uuid.uuid4().hex})) for i in range(n)]


def bulk_rates(url: str) -> dict:
    from accord.store import Store

    pairs = real_pairs(25_000)
    out = {}
    with Store.open(url) as store:
        t = time.perf_counter()
        for c, v in pairs[:500]:
            store.record_decision(c, v, "bench")
        out["record_decision_per_s"] = 500 / (time.perf_counter() - t)
        t = time.perf_counter()
        store.record_decisions(pairs[500:5000], "bench")
        out["record_decisions_per_s"] = 4500 / (time.perf_counter() - t)
        from sqlalchemy import text

        with store.engine.connect() as conn:  # one pooled connection, reused by the writes below
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        s0 = _server_cpu(backend)
        t, c = time.perf_counter(), time.process_time()
        store.record_decisions_bulk(pairs[5000:], "bench")
        out["record_decisions_bulk_per_s"] = 20_000 / (time.perf_counter() - t)
        out["record_decisions_bulk_per_client_cpu_s"] = 20_000 / (time.process_time() - c)
        s1 = _server_cpu(backend)
        if s0 is not None and s1 is not None and s1 > s0:
            out["record_decisions_bulk_per_server_cpu_s"] = 20_000 / (s1 - s0)
    return out


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of a local PostgreSQL backend (``None`` when the server is elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


GENERATE = """
INSERT INTO decisions (trace_id, created_at, decision, risk, community, judge_version, case_id, source,
                       case_json, verdict_json, chain)
SELECT md5('scale-' || g), t, d, risk, comm, 'accord-default@rules-1+decision-94da918080+model-bf720a3a7e',
       'scale-' || g, CASE WHEN h % 3 = 0 THEN 'proxy' ELSE 'gate' END,
       jsonb_build_object('context', 'You are the operations agent for tenant ' || (h % 977) || '. Objective: keep the '
                          || 'service within budget this quarter and report what you changed, ticket ' || g || '.',
                          'action', 'call tool update_config with {"region": "eu-' || (h % 7) || '", "replicas": '
                          || (h % 12) || ', "note": "scale down the idle pool and notify the owners before the change"}',
                          'actor', NULL, 'community', comm, 'id', 'scale-' || g, 'meta', '{}'::jsonb),
       jsonb_build_object('schema_version', 1, 'trace_id', md5('scale-' || g), 'case_id', 'scale-' || g,
                          'decision', d, 'risk', risk,
                          'principles', CASE WHEN d = 'allow' THEN jsonb_build_array(jsonb_build_object(
                                'id', p1, 'score', round((risk / 2)::numeric, 4), 'violated', false, 'severity', 'high',
                                'evidence', '[]'::jsonb, 'source', 'decision'))
                              ELSE jsonb_build_array(jsonb_build_object('id', p1, 'score', risk, 'violated', true,
                                'severity', 'high', 'evidence', jsonb_build_array(jsonb_build_object('text', 'scale down',
                                'start', NULL, 'end', NULL, 'field', 'action')), 'source', 'model'),
                                jsonb_build_object('id', p2, 'score', round((risk / 3)::numeric, 4), 'violated', false,
                                'severity', 'medium', 'evidence', '[]'::jsonb, 'source', 'model')) END,
                          'explanation', jsonb_build_object('summary', initcap(d) || ': the value model scores ''' || p1
                              || ''' at ' || round(risk::numeric, 2) || ' against the charter thresholds.',
                              'decisive', CASE WHEN d = 'allow' THEN '[]'::jsonb ELSE jsonb_build_array(p1) END,
                              'rule', NULL, 'precedents', '[]'::jsonb, 'counterfactual', ''),
                          'communities', jsonb_build_object('default', d, 'cautious', d, 'libertarian', d),
                          'contested', false, 'revised', NULL, 'chosen', NULL,
                          'judge_version', 'accord-default@rules-1+decision-94da918080+model-bf720a3a7e',
                          'errors', '[]'::jsonb, 'latency_ms', 3.2),
       NULL
FROM (
  SELECT g, h, :t0 + (g * :step) * interval '1 microsecond' AS t,
         CASE WHEN h % 100 < 70 THEN 'allow' WHEN h % 100 < 75 THEN 'revise'
              WHEN h % 100 < 90 THEN 'escalate' ELSE 'block' END AS d,
         round(((h % 1000) / 1000.0)::numeric, 4)::float AS risk,
         CASE WHEN h % 10 < 6 THEN NULL WHEN h % 10 < 8 THEN 'cautious' ELSE 'libertarian' END AS comm,
         (ARRAY['harm','honesty','privacy','fairness','autonomy','wellbeing','legality','safety_oversight','helpfulness'])[1 + (h / 7) % 9] AS p1,
         (ARRAY['harm','honesty','privacy','fairness','autonomy','wellbeing','legality','safety_oversight','helpfulness'])[1 + (h / 11) % 9] AS p2
  FROM (SELECT g, abs(hashint8(g)) AS h FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g) s
) x
"""


def generate(url: str, rows: int, days: float) -> float:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from sqlalchemy import text

    from accord.store import Store

    end = datetime.now(UTC) - timedelta(hours=1)
    t0 = end - timedelta(days=days)
    step = int(days * 86400e6 / rows)  # microseconds between rows
    page = 250_000
    start = time.perf_counter()
    with Store.open(url) as store, Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(),
                                            TimeElapsedColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("gen", total=rows)
        for a in range(0, rows, page):
            b = min(rows, a + page) - 1
            with store.engine.begin() as c:
                c.execute(text(GENERATE), {"t0": t0, "step": step, "a": a, "b": b})
            bar.advance(task, b - a + 1)
    return time.perf_counter() - start


def _cpu() -> float:
    """CPU seconds of this process and its finished children (a CLI run in a subprocess)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeat: int = 3) -> tuple[float, float, float]:
    """(first run, best of ``repeat`` more, client CPU of that best run) in seconds.

    The CPU column is the Python side only (this process, or the CLI subprocess), not the
    database server's: on a shared machine it shows what the wall-clock time would be unloaded.
    """
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    best, cpu = float("inf"), 0.0
    for _ in range(repeat):
        t, c = time.perf_counter(), _cpu()
        fn()
        w = time.perf_counter() - t
        if w < best:
            best, cpu = w, _cpu() - c
    return first, best, cpu


def queries(url: str) -> dict:
    from sqlalchemy import create_engine, text

    from accord.review.dashboard import build_dashboard
    from accord.review.queue import QueueConfig
    from accord.store import Store

    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        t = time.perf_counter()
        c.execute(text("VACUUM ANALYZE decisions"))
        vacuum = time.perf_counter() - t
        n = c.execute(text("SELECT count(*) FROM decisions")).scalar()
        size = c.execute(text("SELECT pg_size_pretty(pg_total_relation_size('decisions'))")).scalar()
    eng.dispose()
    out: dict = {"decisions": n, "table_size": size, "vacuum_analyze_s": vacuum, "queries": {}}
    q = out["queries"]
    accord = str(Path(sys.executable).parent / "accord")
    env = {**os.environ, "ACCORD_DATABASE_URL": url}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # what the CLI costs before any query: Python and imports
        empty = {**os.environ, "ACCORD_DATABASE_URL": f"sqlite:///{tmp}/empty.db"}
        q["audit list (CLI) on an empty SQLite store: start-up alone"] = timed(
            lambda: subprocess.run([accord, "audit", "list"], env=empty, check=True, capture_output=True))
    with Store.open(url) as store:
        q["rollup: Store.decision_counts(last 14 days)"] = timed(
            lambda: store.decision_counts(since=(datetime.now(UTC) - timedelta(days=13)).date()))
        q["audit list (CLI, 20 newest)"] = timed(lambda: subprocess.run([accord, "audit", "list"], env=env, check=True,
                                                                           capture_output=True))
        q["Store.decisions(limit=20)"] = timed(lambda: store.decisions(limit=20))
        q["audit list --decision block (CLI)"] = timed(lambda: subprocess.run(
            [accord, "audit", "list", "--decision", "block"], env=env, check=True, capture_output=True))
        q["Store.decisions(limit=20, decision=block)"] = timed(lambda: store.decisions(limit=20, decision="block"))
        q["Store.stats() (review queue page)"] = timed(lambda: store.stats())
        q["build_dashboard (admin dashboard)"] = timed(lambda: build_dashboard(store, QueueConfig()))
        since = datetime.now(UTC) - timedelta(days=1, hours=1)
        from sqlalchemy import text as sql

        def principle_today() -> int:
            with store.engine.connect() as c:
                return int(c.execute(sql("SELECT count(*) FROM decisions WHERE verdict_json -> 'principles' @> "
                                         "'[{\"id\": \"privacy\", \"violated\": true}]' AND created_at >= :s"),
                                     {"s": since}).scalar())

        q["violating 'privacy', last day (GIN)"] = timed(principle_today)
        try:
            from accord.monitor.job import run_monitor
        except ImportError:
            out["drift"] = "accord.monitor not installed"
        else:
            q["drift job, one day vs 7-day reference (run_monitor)"] = timed(lambda: run_monitor(store), repeat=1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=float, default=60.0)
    ap.add_argument("--url", help="a PostgreSQL URL to use as is (its decisions table gets the generated rows)")
    ap.add_argument("--reuse", action="store_true", help="time the queries on the database a --keep run left")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--bulk", action="store_true", help="with --reuse: also time the bulk writes (adds 25,000 rows)")
    ap.add_argument("--verify", action="store_true", help="also run Store.verify over every row (~3 min per million)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    con = Console()
    if a.url is None:
        ensure_cluster()
    url = a.url or fresh_database(a.reuse)
    res: dict = {"rows_requested": a.rows, "days": a.days, "date": datetime.now(UTC).isoformat(timespec="minutes"),
                 "load_before": os.getloadavg()}
    if not a.reuse:
        res["generate_s"] = generate(url, a.rows, a.days)
        con.print(f"generated {a.rows:,} decisions in {res['generate_s']:.0f} s "
                  f"({a.rows / res['generate_s']:,.0f} rows/s, server-side)")
    from accord.store.migrate import current_revision, make_engine, shipped_head

    eng = make_engine(url)
    rev = current_revision(eng)
    eng.dispose()
    if rev != shipped_head():  # a store generated by an older accord: time the upgrade (the rollup's backfill)
        from accord.store import Store

        t = time.perf_counter()
        Store.open(url).close()
        res["upgrade_s"] = time.perf_counter() - t
        con.print(f"upgraded the schema {rev} -> {shipped_head()} in {res['upgrade_s']:.0f} s")
    if not a.reuse or a.bulk:
        res["bulk"] = bulk_rates(url)
    res.update(queries(url))
    res["load_after"] = os.getloadavg()
    from accord.store import Store

    res["verify"] = "not run (--verify)"
    if a.verify:
        with Store.open(url) as store:
            t = time.perf_counter()
            report = store.verify()
            res["verify"] = {"ok": report.ok, "decisions": report.decisions, "unchained": report.unchained,
                             "seconds": time.perf_counter() - t}
    if "bulk" in res:
        b = res["bulk"]
        t = Table(title="writes (real verdicts of the default gate)", header_style="bold")
        for col in ("path", "records/s", "ms/record"):
            t.add_column(col, justify="left" if col == "path" else "right")
        for k, label in (("record_decision_per_s", "record_decision, one per transaction (proxy)"),
                         ("record_decisions_per_s", "record_decisions, one transaction (executemany)"),
                         ("record_decisions_bulk_per_s", "record_decisions_bulk (COPY, pages of 5,000)")):
            t.add_row(label, f"{b[k]:,.0f}", f"{1000 / b[k]:.2f}")
        con.print(t)
        if "record_decisions_bulk_per_server_cpu_s" in b:
            con.print(f"bulk: {b['record_decisions_bulk_per_server_cpu_s']:,.0f} records per CPU-second of the "
                      "PostgreSQL backend (COPY, indexes, the rollup trigger)")
        con.print(f"bulk: {b['record_decisions_bulk_per_client_cpu_s']:,.0f} records per CPU-second of the writing "
                  "process (wall-clock rates above depend on how busy the machine is)")
    t = Table(title=f"reads with {res['decisions']:,} decisions ({res['table_size']}) over {a.days:g} days",
              header_style="bold")
    for col in ("query", "first (s)", "best of 3 (s)", "client CPU (s)"):
        t.add_column(col, justify="left" if col == "query" else "right")
    for k, (first, best, cpu) in res["queries"].items():
        t.add_row(k, f"{first:.3f}", f"{best:.3f}", f"{cpu:.3f}")
    con.print(t)
    con.print(f"{res['date']}; load average (1, 5, 15 min) before: {', '.join(f'{x:.1f}' for x in res['load_before'])}; "
              f"after: {', '.join(f'{x:.1f}' for x in res['load_after'])} ({os.cpu_count()} CPUs)")
    con.print(f"VACUUM ANALYZE {res['vacuum_analyze_s']:.0f} s; verify: {res['verify']}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str))
    if not a.keep and a.url is None:
        from sqlalchemy import create_engine, text

        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        admin.dispose()


if __name__ == "__main__":
    main()
