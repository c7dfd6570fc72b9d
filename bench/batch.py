"""Batch audits: cases/s of ``accord audit batch`` with 1 and 2 workers, local and Ray, the cost
per million cases, and whether every engine's verdicts equal ``accord check --input``'s.

    python bench/batch.py                         # 2,048 cases (quick)
    python bench/batch.py --cases 200000          # the issue's figure (long: see below)
    python bench/batch.py --engines local --workers 1 --cases 8192
    python bench/batch.py --json out.json         # also save the figures

* **Cases**: the corpus's cases (``corpus/cases.jsonl``: agent tool calls, plans and replies in
  context), repeated to ``--cases``, each repeat's context marked with its index so that no text
  is seen twice (the encoder's text cache would otherwise make repeats free).
* **Gate**: the default gate (``rules,decision,model``, the packaged default charter), with the
  charter's judge time budget raised to 10 minutes: on a busy shared machine a 2 s budget is
  exceeded by load rather than by the case, and a timed-out verdict (escalate, fail-closed)
  differs from run to run in any engine. ``--budget-ms 2000`` measures with the default budget
  and counts the timed-out verdicts.
* **Reference**: the cases judged in this process exactly as ``accord check --input`` judges them
  (``Gate.check_many`` in chunks of 256, in order); every engine's verdicts are compared with it,
  trace id and latency aside. ``--check-cli`` runs the real ``accord check --input --json`` in a
  subprocess instead (slower: a second full pass).
* **cases/s**: cases / judging time (from handing out the first shard to the last verdict back:
  for worker processes and Ray this includes starting the workers and loading their models, and
  for Ray starting Ray itself), and end to end (also reading the input and writing the Parquet
  output).
* **Cost per million cases**: judging time for a million cases at the measured rate × the
  machine's vCPUs (all of them: one gate process already keeps every core busy through its BLAS
  threads, so more workers on the same machine buy no cores) × a vCPU-hour price (``--vcpu-hour-usd``, default $0.0446: AWS c7i.large
  on-demand in us-east-1, $0.0893 an hour for 2 vCPUs). Start-up is paid once per job, not per case.

When ``--cases`` is too large to run here, run a smaller size: the table also prints the time
that 200,000 cases would take at the measured rate, labelled as extrapolated. Figures only;
nothing asserts on time. On a shared machine expect ±30%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus" / "cases.jsonl"
C7I_LARGE_PER_VCPU = 0.0893 / 2
#: the machine's vCPUs: the cost basis (one gate process already uses every core through its BLAS threads)
VCPUS = os.cpu_count() or 1


def make_cases(n: int) -> list[dict]:
    base = []
    with open(CORPUS, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            base.append({k: r[k] for k in ("id", "context", "action") if k in r})
    out = []
    for i in range(n):
        c = dict(base[i % len(base)])
        rep = i // len(base)
        if rep:
            c["id"] = f"{c.get('id', 'case')}#{rep}"
            ctx = c.get("context", "")
            c["context"] = f"{ctx} [log {rep}]" if isinstance(ctx, str) else [*ctx, {"role": "user", "content": f"[log {rep}]"}]
        out.append(c)
    return out


class Ticker:
    """Progress of a long pass: a bar on a terminal; in a log (stdout not a terminal: nohup, CI) one
    line at each tenth, so a 200,000-case run does not sit silent for most of an hour."""

    def __init__(self, label: str, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.label, self.total, self.done, self.t0, self.next = label, total, 0, time.perf_counter(), total / 10
        self.log = not sys.stdout.isatty()
        self.bar = Progress(TextColumn(f"  {label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            transient=True, disable=self.log)
        self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> Ticker:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def advance(self, n: int) -> None:
        self.done += n
        self.bar.advance(self.task, n)
        if self.log and self.done >= self.next:
            el = time.perf_counter() - self.t0
            print(f"  {self.label}: {self.done:,} / {self.total:,} ({self.done / self.total:.0%}), "
                  f"{el / 60:.1f} min, {self.done / el:.0f} cases/s", flush=True)
            self.next += self.total / 10


def strip(v: dict) -> dict:
    v = dict(v)
    v.pop("trace_id", None)
    v.pop("latency_ms", None)
    return v


def reference(cases_path: Path, charter: Path, check_cli: bool) -> tuple[list[dict], float]:
    t0 = time.perf_counter()
    if check_cli:
        out = subprocess.run([str(Path(sys.executable).parent / "accord"), "check", "--input", str(cases_path), "--json",
                              "--no-record", "-c", str(charter)], capture_output=True, text=True, check=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()], time.perf_counter() - t0
    from accord.batch import GateSpec
    from accord.batch.inputs import read_items

    gate = GateSpec(charter=str(charter)).build()  # the gate every engine builds
    cases = [it.case for it in read_items(cases_path)]
    verdicts: list[dict] = []
    with Ticker("reference", len(cases)) as bar:
        for i in range(0, len(cases), 256):  # accord.cli.core._check_batch's chunks
            verdicts.extend(json.loads(v.model_dump_json()) for v in gate.check_many(cases[i:i + 256], record=False))
            bar.advance(min(256, len(cases) - i))
    return verdicts, time.perf_counter() - t0


def run_engine(engine: str, workers: int, cases_path: Path, charter: Path, out_dir: Path, shard: int) -> dict:
    from accord.batch import GateSpec, read_items, run_batch

    items = read_items(cases_path)
    out = out_dir / f"{engine}-{workers}.parquet"
    t0 = time.perf_counter()
    with Ticker(f"{engine}, {workers} worker(s)", len(items)) as bar:
        res = run_batch(items, out, GateSpec(charter=str(charter)), engine=engine, workers=workers, shard_size=shard,
                        restart=True, progress=bar.advance)
    wall = time.perf_counter() - t0
    import pyarrow.parquet as pq

    verdicts = [json.loads(v) for v in pq.read_table(out, columns=["verdict"]).column("verdict").to_pylist()]
    errors = [e for v in verdicts for e in v["errors"]]
    return {"engine": engine, "workers": workers, "cases": res.cases, "judge_s": res.timings["judge"], "wall_s": wall,
            "failed": res.summary.failed, "error_sample": sorted(set(errors))[:3], "verdicts": verdicts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2048)
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--shard-size", type=int, default=2048)
    ap.add_argument("--budget-ms", type=float, default=600_000, help="the charter's judge time budget (default 10 min)")
    ap.add_argument("--vcpu-hour-usd", type=float, default=C7I_LARGE_PER_VCPU)
    ap.add_argument("--check-cli", action="store_true", help="reference from a real `accord check --input` subprocess")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    con = Console(width=170)
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    workers = [int(w) for w in a.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="accord-bench-batch-") as tmp:
        d = Path(tmp)
        text = (ROOT / "src" / "accord" / "data" / "default_charter.yaml").read_text(encoding="utf-8")
        charter = d / "charter.yaml"
        charter.write_text(text.replace("judge_timeout_ms: 2000", f"judge_timeout_ms: {a.budget_ms:g}"), encoding="utf-8")
        cases_path = d / "cases.jsonl"
        cases_path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in make_cases(a.cases)),
                              encoding="utf-8")
        con.print(f"{a.cases} cases; reference: {'accord check --input' if a.check_cli else 'check_many in chunks of 256'}…")
        ref, ref_s = reference(cases_path, charter, a.check_cli)
        ref_stripped = [strip(v) for v in ref]
        rows = []
        for engine in engines:
            for w in workers:
                con.print(f"  {engine}, {w} worker(s)…")
                try:
                    r = run_engine(engine, w, cases_path, charter, d, a.shard_size)
                except Exception as e:  # e.g. Ray missing: report and go on
                    con.print(f"  [red]{engine} x{w} failed: {type(e).__name__}: {e}[/]")
                    continue
                versions = {v["judge_version"] for v in r["verdicts"]}
                if versions != {ref[0]["judge_version"]}:
                    con.print(f"  [yellow]the models changed during the run ({sorted(versions)} vs "
                              f"{ref[0]['judge_version']}): someone rewrote them; the identity count is void[/]")
                got = [strip(v) for v in r.pop("verdicts")]
                r["identical"] = sum(x == y for x, y in zip(got, ref_stripped, strict=True))
                rows.append(r)
    table = Table(title=f"accord audit batch, {a.cases:,} cases (default gate; judge budget {a.budget_ms:g} ms)",
                  header_style="bold")
    for col in ("engine", "workers", "cases/s (judging)", "cases/s (end to end)", "start-up + I/O s",
                "identical to check", "time-outs/errors", "200k cases, judging (h:mm)", "USD per 1M cases"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for r in rows:
        rate = r["cases"] / r["judge_s"]
        r["cases_per_s"] = rate
        r["cases_per_s_end_to_end"] = r["cases"] / r["wall_s"]
        r["usd_per_million"] = 1e6 / rate / 3600 * VCPUS * a.vcpu_hour_usd
        t200 = 200_000 / rate
        r["seconds_200k_extrapolated"] = t200 if a.cases < 200_000 else None
        label = f"{int(t200 // 3600)}:{int(t200 % 3600 // 60):02d}" + ("" if a.cases >= 200_000 else " (extrapolated)")
        table.add_row(r["engine"], str(r["workers"]), f"{rate:,.0f}", f"{r['cases_per_s_end_to_end']:,.0f}",
                      f"{r['wall_s'] - r['judge_s']:.1f}", f"{r['identical']:,}/{r['cases']:,}", str(r["failed"]),
                      label, f"{r['usd_per_million']:.3f}")
    con.print(table)
    for r in rows:
        if r["error_sample"]:
            con.print(f"{r['engine']} x{r['workers']}: judge errors, e.g. {r['error_sample']}", markup=False)
    con.print(f"reference pass: {a.cases / ref_s:,.0f} cases/s in one process. Cost: the judging time at the measured "
              f"rate × this machine's {VCPUS} vCPUs × ${a.vcpu_hour_usd:.4f} per vCPU-hour (AWS c7i.large on-demand, "
              "us-east-1, $0.0893/h for 2 vCPUs); start-up is paid once per job.")
    if a.json:
        a.json.write_text(json.dumps({"cases": a.cases, "budget_ms": a.budget_ms, "vcpu_hour_usd": a.vcpu_hour_usd,
                                      "reference_cases_per_s": a.cases / ref_s, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
