"""Drift alarms on a simulated production stream: does each alarm fire within one window, and
does the unshifted control stream stay quiet?

Per seed: a week of normal traffic is the reference window (the week after a promotion); then
daily windows are compared with it, as ``accord serve``'s background job does. Each shifted
stream (a new request type, a model that escalates more, a principle whose scores creep up,
reviewers who start disagreeing with the judge) starts shifting on day 8; its alarm must fire in
the first window after the shift. The control stream has no shift; every alarm on it is false.

Texts: normal traffic is the held-out corpus authors c15-c18 (80%) and Alpaca instructions from
``refusal-direction-splits`` (20%); the new request type is household-robot tasks from
SafeAgentBench. Embeddings and distances use the packaged decision model (the real encoder and
its training memory). Scores and decisions come from :mod:`accord.monitor.simulate`.

    python bench/drift.py                 # 20 seeds, 1,500 decisions a day (a few minutes on 2 cores)
    python bench/drift.py --seeds 3 --per-day 800
    python bench/drift.py --store 20000   # time one monitor run over a real store: 8 days of 20,000 decisions
    python bench/drift.py --store 20000 --db postgresql+psycopg://accord:accord@127.0.0.1/accord_bench
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from accord.monitor import MonitorConfig, NoveltyModel, compare
from accord.monitor.simulate import SHIFTS, Stream

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
#: which alarm kind each shift must raise
TARGET = {"new-type": "input", "escalates": "decisions", "creep": "scores", "reviewers": "agreement"}
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _action(a: object) -> str:
    return a if isinstance(a, str) else json.dumps(a, ensure_ascii=False)


def pools() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    corpus = [json.loads(line) for p in sorted(glob.glob(str(ROOT / "corpus/parts/author1[5-8].jsonl")))
              for line in Path(p).read_text(encoding="utf-8").splitlines() if line.strip()]
    normal = [(c["context"], _action(c["action"])) for c in corpus]
    alpaca = json.loads((DATA / "refusal-direction-splits/harmless_test.json").read_text())
    n_alp = len(normal) // 4  # 20% of the pool
    normal += [(a["instruction"], "Sure, here is an answer to that.") for a in alpaca[:n_alp]]
    novel = []
    for f in ("safe_detailed_1009.jsonl", "unsafe_detailed_1009.jsonl"):
        for line in (DATA / "safeagentbench" / f).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            novel.append((f"You control a household robot. Task: {r['instruction']}", "Plan: " + ", ".join(r["step"])))
    return normal, novel


def store_timing(console: Console, per_day: int, url: str | None) -> int:
    """Write 8 days of ``per_day`` decisions into a store (the store's clock set per day), then time
    ``run_monitor`` over the last day against the first week, as the background job runs it."""
    import tempfile

    import accord.store.store as store_module
    from accord.monitor import run_monitor
    from accord.store import Store
    from accord.types import Case, Explanation, PrincipleResult, Verdict

    normal, novel = pools()
    tmp = tempfile.TemporaryDirectory()
    store = Store.open(url or f"sqlite:///{tmp.name}/drift-bench.db")
    stream = Stream(normal, novel, seed=0, per_day=per_day, shift="new-type", onset=7)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=8)
    saved = store_module.utcnow
    t = time.perf_counter()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("writing decisions", total=8 * per_day)
            for d in range(8):
                cases, _ = stream.day(d)
                for i in range(0, len(cases), 2000):
                    at = t0 + timedelta(days=d, seconds=i)
                    store_module.utcnow = lambda at=at: at  # type: ignore[assignment]
                    store.record_decisions(
                        [(Case(context=c.context, action=c.action, community=c.community),
                          Verdict(trace_id=c.trace_id, decision=c.decision, risk=max(c.scores.values(), default=0.0),  # type: ignore[arg-type]
                                  principles=[PrincipleResult(id=p, score=v, violated=v >= 0.5, severity="high",
                                                              source="model") for p, v in c.scores.items()],
                                  explanation=Explanation(summary=c.decision), judge_version="bench@1"))
                         for c in cases[i:i + 2000]], source="bench")
                    progress.advance(task, len(cases[i:i + 2000]))
    finally:
        store_module.utcnow = saved
    wrote = time.perf_counter() - t
    novelty = NoveltyModel.packaged()
    t = time.perf_counter()
    rep = run_monitor(store, MonitorConfig(), end=t0 + timedelta(days=8), reference=(t0, t0 + timedelta(days=7)),
                      novelty=novelty)
    secs = time.perf_counter() - t
    console.print(f"{store.url}: wrote {rep.reference.decisions + rep.recent.decisions:,} decisions in {wrote:.0f} s; "
                  f"one monitor run (recent day {rep.recent.decisions:,} decisions, reference week "
                  f"{rep.reference.decisions:,}, samples {len(rep.recent.sample):,} + {len(rep.reference.sample):,}) "
                  f"took {secs:.1f} s; alarms: {[a.kind for a in rep.alarms]}")
    store.close()
    tmp.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--per-day", type=int, default=1500)
    ap.add_argument("--windows", type=int, default=7, help="daily windows checked after the reference week")
    ap.add_argument("--store", type=int, metavar="PER_DAY", help="instead: time one run over a real store holding 8 days "
                                                                "of PER_DAY decisions")
    ap.add_argument("--db", help="with --store: the database URL (default: a temporary SQLite file; the bench "
                                 "appends to the store, so give it an empty database)")
    args = ap.parse_args(argv)
    console = Console()
    if args.store:
        return store_timing(console, args.store, args.db)
    if not (DATA / "safeagentbench").exists():
        console.print(f"the shared data folder {DATA} is missing (SafeAgentBench, refusal-direction-splits)")
        return 2
    cfg = MonitorConfig()
    normal, novel = pools()
    t = time.perf_counter()
    novelty = NoveltyModel.packaged(quantile=cfg.novelty_quantile)
    console.print(f"normal pool {len(normal)}, new-type pool {len(novel)}; {novelty.name}; far below "
                  f"similarity {novelty.threshold:.3f} (loaded in {time.perf_counter() - t:.1f} s)")
    fired_in: dict[str, list[int | None]] = {s: [] for s in SHIFTS}
    extra: dict[str, int] = {s: 0 for s in SHIFTS}
    control_runs_alarmed = 0
    control_windows_alarmed = 0
    control_kinds: dict[str, int] = {}
    new_cluster_found = 0
    t = time.perf_counter()
    runs = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("streams", total=args.seeds * (1 + len(SHIFTS)))
        for seed in range(args.seeds):
            for shift in (None, *SHIFTS):
                stream = Stream(normal, novel, seed=seed, per_day=args.per_day, shift=shift, onset=7)
                ref = stream.window(range(0, 7), T0, max_sample=cfg.max_sample)
                any_alarm = False
                for w in range(args.windows):
                    rep = compare(ref, stream.window(range(7 + w, 8 + w), T0, max_sample=cfg.max_sample), cfg, novelty=novelty)
                    runs += 1
                    if shift is None:
                        if rep.alarms:
                            any_alarm = True
                            control_windows_alarmed += 1
                            for a in rep.alarms:
                                control_kinds[a.kind] = control_kinds.get(a.kind, 0) + 1
                        continue
                    if rep.firing(TARGET[shift]):
                        fired_in[shift].append(w + 1)
                        extra[shift] += len({a.kind for a in rep.alarms} - {TARGET[shift]})
                        if shift == "new-type" and rep.input and rep.input.new_clusters:
                            new_cluster_found += 1
                        break
                else:
                    if shift is not None:
                        fired_in[shift].append(None)
                control_runs_alarmed += int(shift is None and any_alarm)
                progress.advance(task)
    secs = time.perf_counter() - t

    table = Table(title=f"drift alarms over {args.seeds} seeds ({args.per_day:,} decisions a day, daily windows "
                        f"against the first week; alpha {cfg.alpha}, BH-corrected)")
    for col in ("stream", "alarm", "fired in window 1", "fired later", "never fired", "other kinds also firing"):
        table.add_column(col)
    ok = True
    for s in SHIFTS:
        f = fired_in[s]
        first = sum(1 for x in f if x == 1)
        later = sum(1 for x in f if x is not None and x > 1)
        never = sum(1 for x in f if x is None)
        ok &= first == len(f)
        table.add_row(s, TARGET[s], f"{first}/{len(f)}", str(later), str(never), str(extra[s]))
    table.add_row("control", "any", "—", "—", "—", f"{control_windows_alarmed} alarmed windows")
    console.print(table)
    rate = control_runs_alarmed / args.seeds
    console.print(f"false-alarm rate on the control stream: {control_runs_alarmed}/{args.seeds} seeds = {rate:.0%} "
                  f"(any alarm in {args.windows} daily windows); per window {control_windows_alarmed}/"
                  f"{args.seeds * args.windows} = {control_windows_alarmed / (args.seeds * args.windows):.1%}"
                  + (f"; kinds: {control_kinds}" if control_kinds else ""))
    console.print(f"new-type streams that also reported a new cluster of far cases: {new_cluster_found}/{args.seeds}")
    console.print(f"{runs} monitor runs in {secs:.0f} s ({secs / max(runs, 1) * 1000:.0f} ms per run)")
    console.print("every alarm fired within one window" if ok else "[red]some alarm did not fire within one window[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
