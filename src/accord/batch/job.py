"""A resumable batch audit: shards on disk with atomic done-markers, then one merged output.

Layout of the work folder (default ``<out>.parts/``)::

    job.json               what the job is: its id, the cases' fingerprint, the gate, the shard size
    shard-000000.jsonl     the verdicts of shard 0, one Verdict JSON per line, in case order
    shard-000000.done      {"count", "sha256"} of that file: written last, by rename
    store.json             how far a write of the re-audit to the store got (informational)

A shard counts as finished only when its marker exists and the file's count and SHA-256 match
it; a shard file without a marker (the job was killed while writing it) or one that does not
match is judged again. A killed job run again with the same command skips every finished shard,
so every case gets exactly one verdict: none missing, none twice. The output file and the store
write come after all shards, and each is safe to repeat (the output is replaced atomically; a
re-audit's trace ids are fixed by the job, so rows already in the store are skipped).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.batch.engines import CHUNK, GateSpec, Shard, run_shards
from accord.batch.inputs import Item
from accord.batch.summary import Summary, summarise
from accord.errors import InputError

__all__ = ["BatchResult", "run_batch"]

MANIFEST_VERSION = 1
OUTPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
Progress = Callable[[int], None]


@dataclass
class BatchResult:
    """What a batch audit did."""

    out: Path
    work: Path
    job_id: str
    cases: int
    shards: int
    shards_skipped: int
    seconds: float
    judge_version: str
    summary: Summary
    stored: int = 0
    store_skipped: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (for ``--json``)."""
        return {"out": str(self.out), "work": str(self.work), "job_id": self.job_id, "cases": self.cases,
                "shards": self.shards, "shards_skipped": self.shards_skipped, "seconds": round(self.seconds, 3),
                "judge_version": self.judge_version, "stored": self.stored, "store_skipped": self.store_skipped,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}, "summary": self.summary.as_dict()}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _shard_path(work: Path, sid: int) -> Path:
    return work / f"shard-{sid:06d}.jsonl"


def _marker_path(work: Path, sid: int) -> Path:
    return work / f"shard-{sid:06d}.done"


def _shard_done(work: Path, sid: int, count: int) -> bool:
    """The marker exists and the shard file matches it (count and SHA-256)."""
    try:
        marker = json.loads(_marker_path(work, sid).read_text(encoding="utf-8"))
        data = _shard_path(work, sid).read_bytes()
    except (OSError, ValueError):
        return False
    return (marker.get("count") == count and data.count(b"\n") == count
            and marker.get("sha256") == hashlib.sha256(data).hexdigest())


def output_format(out: Path, fmt: str | None) -> str:
    """``jsonl`` or ``parquet`` from ``fmt`` or the output's suffix."""
    f = fmt or OUTPUT_FORMATS.get(out.suffix.lower())
    if f not in ("jsonl", "parquet"):
        raise InputError(f"cannot tell the output format of {out}", hint="name it .jsonl or .parquet, or pass --format")
    if f == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError("writing Parquet needs pyarrow", hint="pip install 'accord[scale]', or write .jsonl") from None
    return f


def _manifest(work: Path, want: dict[str, Any], restart: bool) -> str:
    """The job's id: from the work folder's manifest when it is this job, else a new one."""
    path = work / "job.json"
    if path.exists() and not restart:
        try:
            have = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            have = {}
        same = {k: have.get(k) for k in want} == want
        if not same:
            diff = [k for k in want if have.get(k) != want[k]]
            raise InputError(f"the work folder {work} holds another job (it differs in: {', '.join(diff)})",
                             hint="pass --restart to discard it and start again, or choose another --work folder")
        return str(have["job_id"])
    if path.exists() or restart:
        for p in work.glob("shard-*"):
            p.unlink()
        for name in ("job.json", "store.json"):
            (work / name).unlink(missing_ok=True)
    job_id = uuid.uuid4().hex
    _atomic_write(path, json.dumps({**want, "job_id": job_id, "created": time.time()}, indent=1).encode())
    return job_id


def run_batch(items: Sequence[Item], out: Path, spec: GateSpec, *, engine: str = "local", workers: int = 1,
              address: str | None = None, shard_size: int = 2048, work: Path | None = None, restart: bool = False,
              out_format: str | None = None, input_label: str = "", community: str | None = None,
              identity: dict[str, Any] | None = None,
              store_db: str | None = None, store_label: str | None = None, top: int = 10,
              progress: Progress | None = None, started: Callable[[int, int], None] | None = None,
              gate: Any = None) -> BatchResult:
    """Judge ``items`` with the gate ``spec`` describes; write the verdicts to ``out`` (and the store).

    Args:
        items: the cases, in the order the output keeps.
        out: ``.jsonl`` (one record per case: index, case id, original decision, verdict) or
            ``.parquet`` (one row per case, the verdict's main fields as columns and in full as JSON).
        spec: the gate configuration, built once per worker.
        engine: ``local`` or ``ray``; ``workers``: how many gates judge at once; ``address``: a Ray cluster.
        shard_size: cases per shard (a multiple of 256; the unit of resumption).
        work: the work folder (default ``<out>.parts``); ``restart`` discards what it holds.
        community: decide for this community where a case names none (as ``accord check --community``).
        identity: more of what makes the job this job, kept in its manifest (e.g. the store snapshot).
        store_db, store_label: also append the verdicts to this store as the re-audit ``store_label``
            (new rows with source ``reaudit:<label>``; history is never changed).
        progress: called with the number of cases each finished shard adds; ``started`` with
            (cases already done, all cases) before judging starts.
        gate: an already built gate for the one-worker local loop (saves loading the models twice).
    """
    t0 = time.perf_counter()
    if shard_size < CHUNK or shard_size % CHUNK:
        raise InputError(f"--shard-size must be a positive multiple of {CHUNK} (got {shard_size})",
                         hint=f"shards are whole chunks of {CHUNK} cases, the chunks accord check judges, so verdicts match it")
    if workers < 1:
        raise InputError(f"--workers must be at least 1 (got {workers})")
    if store_label is not None and (not store_label.strip() or len(store_label) > 55):
        raise InputError(f"--to-store label must be 1 to 55 characters (got {store_label!r})")
    fmt = output_format(out, out_format)
    if gate is None:
        gate = spec.build()
    if community is not None and community not in gate.charter.communities:
        raise InputError(f"unknown community {community!r}; the charter defines: {', '.join(gate.charter.communities) or 'none'}")
    cases = [it.case if it.case.community or community is None else it.case.model_copy(update={"community": community})
             for it in items]
    for n, c in enumerate(cases):
        if c.community is not None and c.community not in gate.charter.communities:
            raise InputError(f"case {n} ({c.id or 'no id'}): unknown community {c.community!r}; the charter defines: "
                             f"{', '.join(gate.charter.communities) or 'none'}")
    blobs = [c.model_dump_json() for c in cases]
    digest = hashlib.sha256()
    for b in blobs:
        digest.update(b.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    work = work or default_work(out)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot make the work folder {work}: {e.strerror or e}") from None
    want = {"version": MANIFEST_VERSION, "cases": len(cases), "cases_sha256": digest.hexdigest(),
            "judge_version": gate.version, "judges": spec.judges, "band": list(spec.band), "shard_size": shard_size,
            **(identity or {})}
    job_id = _manifest(work, want, restart)
    shards = [Shard(i // shard_size, i, tuple(blobs[i:i + shard_size])) for i in range(0, len(blobs), shard_size)]
    todo = [s for s in shards if not _shard_done(work, s.id, len(s.cases))]
    skipped = len(shards) - len(todo)
    if started is not None:
        started(sum(len(s.cases) for s in shards) - sum(len(s.cases) for s in todo), len(cases))

    sizes = {s.id: len(s.cases) for s in shards}

    def done(sid: int, lines: list[str]) -> None:
        if len(lines) != sizes[sid]:  # pragma: no cover - an engine bug, never written as done
            raise RuntimeError(f"shard {sid}: {len(lines)} verdicts for {sizes[sid]} cases")
        data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
        _atomic_write(_shard_path(work, sid), data)
        _atomic_write(_marker_path(work, sid), json.dumps(
            {"shard": sid, "count": len(lines), "sha256": hashlib.sha256(data).hexdigest()}).encode())
        if progress is not None:
            progress(len(lines))

    t_judge = time.perf_counter()
    run_shards(engine, spec, todo, job_id, done, workers=workers, address=address, gate=gate)
    t_merge = time.perf_counter()
    summary = _merge(work, shards, items, cases, out, fmt, top)
    result = BatchResult(out=out, work=work, job_id=job_id, cases=len(cases), shards=len(shards),
                         shards_skipped=skipped, seconds=0.0, judge_version=gate.version, summary=summary,
                         timings={"prepare": t_judge - t0, "judge": t_merge - t_judge,
                                  "merge": time.perf_counter() - t_merge})
    if store_label is not None:
        t_store = time.perf_counter()
        result.stored, result.store_skipped = _write_store(work, shards, items, cases, store_db, store_label, job_id)
        result.timings["store"] = time.perf_counter() - t_store
    result.seconds = time.perf_counter() - t0
    return result


def _read_shard(work: Path, s: Shard) -> list[str]:
    lines = _shard_path(work, s.id).read_text(encoding="utf-8").split("\n")
    return lines[:-1]


def _merge(work: Path, shards: Sequence[Shard], items: Sequence[Item], cases: Sequence[Any], out: Path, fmt: str,
           top: int) -> Summary:
    """Every shard's verdicts, in case order, into ``out`` (replaced atomically); the summary on the way."""
    verdicts: list[dict[str, Any]] = []
    raw: list[str] = []
    for s in shards:
        lines = _read_shard(work, s)
        raw.extend(lines)
        verdicts.extend(json.loads(line) for line in lines)
    if len(verdicts) != len(items):  # pragma: no cover - guarded by the markers
        raise RuntimeError(f"{len(verdicts)} verdicts for {len(items)} cases")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as f:
                for i, (it, c, line) in enumerate(zip(items, cases, raw, strict=True)):
                    head = json.dumps({"index": i, "case_id": c.id, "original_decision": it.original_decision,
                                       "original_trace_id": it.original_trace_id}, ensure_ascii=False)
                    f.write(head[:-1] + ', "verdict": ' + line + "}\n")
        else:
            _write_parquet(tmp, items, cases, verdicts, raw)
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {out}: {e.strerror or e}") from None
    return summarise(items, cases, verdicts, top=top)


def _write_parquet(path: Path, items: Sequence[Item], cases: Sequence[Any], verdicts: list[dict[str, Any]],
                   raw: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, list[Any]] = {
        "index": list(range(len(items))),
        "case_id": [c.id for c in cases],
        "community": [c.community for c in cases],
        "decision": [v["decision"] for v in verdicts],
        "risk": [float(v["risk"]) for v in verdicts],
        "violated": [[p["id"] for p in v["principles"] if p.get("violated")] for v in verdicts],
        "top_principle": [v["principles"][0]["id"] if v["principles"] else None for v in verdicts],
        "original_decision": [it.original_decision for it in items],
        "original_trace_id": [it.original_trace_id for it in items],
        "trace_id": [v["trace_id"] for v in verdicts],
        "judge_version": [v["judge_version"] for v in verdicts],
        "verdict": raw,
    }
    schema = pa.schema([("index", pa.int64()), ("case_id", pa.string()), ("community", pa.string()),
                        ("decision", pa.string()), ("risk", pa.float64()), ("violated", pa.list_(pa.string())),
                        ("top_principle", pa.string()), ("original_decision", pa.string()),
                        ("original_trace_id", pa.string()), ("trace_id", pa.string()), ("judge_version", pa.string()),
                        ("verdict", pa.large_string())])
    pq.write_table(pa.table(cols, schema=schema), path, compression="zstd")


def _write_store(work: Path, shards: Sequence[Shard], items: Sequence[Item], cases: Sequence[Any], db: str | None,
                 label: str, job_id: str) -> tuple[int, int]:
    """Append the verdicts to the store as the re-audit ``label``; returns (written, already there).

    Each case's ``meta`` records the re-audit (``reaudit``, ``reaudit_job``, and ``reaudit_of``:
    the trace id of the decision it re-judges, when it came from the store). Pages that a killed
    run already wrote are found by their trace ids and skipped.
    """
    from accord.store import Store
    from accord.types import Verdict

    written = skipped = 0
    page = 5000
    source = f"reaudit:{label}"
    with Store.open(db) as store:
        pairs: list[tuple[Any, Verdict]] = []
        idx = 0

        def flush() -> None:
            nonlocal written, skipped
            have = store.existing_trace_ids([v.trace_id for _, v in pairs])
            fresh = [(c, v) for c, v in pairs if v.trace_id not in have]
            skipped += len(pairs) - len(fresh)
            if fresh:
                written += store.record_decisions_bulk(fresh, source=source)
            _atomic_write(work / "store.json", json.dumps({"label": label, "written": written + skipped}).encode())
            pairs.clear()

        for s in shards:
            for line in _read_shard(work, s):
                it, c = items[idx], cases[idx]
                meta = {**c.meta, "reaudit": label, "reaudit_job": job_id}
                if it.original_trace_id:
                    meta["reaudit_of"] = it.original_trace_id
                pairs.append((c.model_copy(update={"meta": meta}), Verdict.model_validate_json(line)))
                idx += 1
                if len(pairs) >= page:
                    flush()
        if pairs:
            flush()
    return written, skipped


def peek_manifest(work: Path) -> dict[str, Any]:
    """The manifest of the job in ``work`` ({} when there is none or it cannot be read)."""
    try:
        out = json.loads((work / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def default_work(out: Path) -> Path:
    """The work folder of a job writing ``out``."""
    return out.with_name(out.name + ".parts")


def remove_work(work: Path) -> None:
    """Delete a finished job's work folder."""
    shutil.rmtree(work, ignore_errors=True)
