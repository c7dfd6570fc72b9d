"""Where a batch audit's shards are judged: in this process, in worker processes, or on Ray.

Every engine runs the same function on a shard (:func:`judge_shard`): ``Gate.check_many`` over
the shard's cases in chunks of :data:`CHUNK`, exactly the chunks ``accord check --input`` uses,
so the verdicts are identical to it (the value model's batch encoding rounds differently in
different batch shapes, so the chunks must match, not just the cases). Each worker builds its
gate once (models loaded once per worker) and judges shard after shard; the results go back to
the driver, which alone writes shard files and done-markers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accord.errors import AccordError, InputError

if TYPE_CHECKING:
    from accord.gate import Gate

__all__ = ["CHUNK", "ENGINES", "GateSpec", "Shard", "judge_shard", "run_shards", "trace_id_for"]

#: ``accord check --input`` judges in chunks of this many cases (accord.cli.core._check_batch);
#: shards are whole multiples of it so that every chunk is the same one check would judge
CHUNK = 256
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class GateSpec:
    """How to build the gate (picklable, so every worker builds its own)."""

    charter: str | None = None
    model: str | None = None
    judges: str = "rules,decision,model"
    band: tuple[float, float] = (0.2, 0.8)
    #: model directories of other registry judges (``(("strong", path),)``), resolved by the driver
    model_dirs: tuple[tuple[str, str], ...] = ()

    def build(self) -> Gate:
        """The gate, as ``accord check`` builds it (no recorder: the batch writes its own records).

        Workers never read the store: the command resolves the model in use (the one named,
        ``$ACCORD_MODEL``, the version promoted in the store, the packaged one) once, as
        ``accord check`` does, and every worker gets the directories.
        """
        from accord.gate import Gate

        return Gate.from_charter(self.charter, model=self.model, judges=self.judges, band=self.band,
                                 model_dirs=dict(self.model_dirs) or None)


@dataclass(frozen=True)
class Shard:
    """A run of consecutive cases: ``start`` is the index of the first, ``cases`` their JSON."""

    id: int
    start: int
    cases: tuple[str, ...]


def trace_id_for(job_id: str, index: int) -> str:
    """The verdict's trace id in a batch job: fixed by the job and the case's index.

    A resumed job gives a case the trace id it had before, so a re-audit written to the store
    twice is refused as a duplicate instead of being recorded twice.
    """
    return hashlib.sha256(f"accord-batch:{job_id}:{index}".encode()).hexdigest()[:32]


def judge_shard(gate: Gate, shard: Shard, job_id: str) -> list[str]:
    """The shard's verdicts as JSON lines, in case order."""
    from accord.types import Case

    cases = [Case.model_validate_json(c) for c in shard.cases]
    out: list[str] = []
    for i in range(0, len(cases), CHUNK):
        verdicts = gate.check_many(cases[i:i + CHUNK], record=False)
        for k, v in enumerate(verdicts):
            v = v.model_copy(update={"trace_id": trace_id_for(job_id, shard.start + i + k)})
            out.append(v.model_dump_json())
    return out


OnDone = Callable[[int, list[str]], None]


def run_shards(engine: str, spec: GateSpec, shards: Sequence[Shard], job_id: str, on_done: OnDone, *,
               workers: int = 1, address: str | None = None, gate: Gate | None = None) -> None:
    """Judge ``shards`` with ``engine``; ``on_done(shard_id, lines)`` is called in this process as each finishes.

    Args:
        engine: ``local`` (a plain loop with one worker, else worker processes) or ``ray``.
        spec: the gate every worker builds.
        shards: the shards still to judge.
        job_id: the job's id (fixes the trace ids).
        on_done: receives each finished shard (in completion order, not shard order).
        workers: worker processes (local) or Ray actors, one gate each.
        address: a Ray cluster to join (``ray://host:10001`` or ``host:6379``); ``None`` starts a local Ray.
        gate: an already built gate for the one-worker local loop.
    """
    if not shards:
        return
    if engine == "local":
        if workers <= 1:
            g = gate or spec.build()
            for s in shards:
                on_done(s.id, judge_shard(g, s, job_id))
        else:
            _local_pool(spec, shards, job_id, on_done, workers)
    elif engine == "ray":
        _ray(spec, shards, job_id, on_done, workers, address)
    else:
        raise InputError(f"unknown engine {engine!r}; expected one of: {', '.join(ENGINES)}")


# ---------------------------------------------------------------------- worker processes
_worker_gate: dict[str, Any] = {}


def _init_worker(spec: GateSpec) -> None:
    # an initializer that raises makes the pool start a new worker, forever: keep the error and
    # report it with the first shard instead
    try:
        _worker_gate["gate"] = spec.build()
    except Exception as e:
        _worker_gate["error"] = f"{type(e).__name__}: {e}"


def _work(args: tuple[Shard, str]) -> tuple[int, list[str]]:
    shard, job_id = args
    if "gate" not in _worker_gate:
        raise RuntimeError(f"a worker could not build the gate: {_worker_gate.get('error')}")
    return shard.id, judge_shard(_worker_gate["gate"], shard, job_id)


def _local_pool(spec: GateSpec, shards: Sequence[Shard], job_id: str, on_done: OnDone, workers: int) -> None:
    import multiprocessing as mp

    # spawn: each worker imports accord afresh and loads the models once (no fork of a process
    # that may hold threads); the pool is torn down with the job
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(workers, len(shards)), initializer=_init_worker, initargs=(spec,)) as pool:
        try:
            for sid, lines in pool.imap_unordered(_work, [(s, job_id) for s in shards]):
                on_done(sid, lines)
        except (AccordError, KeyboardInterrupt):
            raise
        except Exception as e:  # a worker's failure: say what failed, keep the finished shards
            raise AccordError(f"a worker failed: {type(e).__name__}: {e}",
                              hint="finished shards are kept; fix the cause and run the same command again") from None


# ---------------------------------------------------------------------- Ray
class _RayJudge:
    """A Ray Data actor: builds the gate once, then judges one shard per call."""

    def __init__(self, spec: GateSpec, job_id: str) -> None:
        self.gate = spec.build()
        self.job_id = job_id

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        ids, lines = [], []
        for sid, start, cases in zip(batch["shard"], batch["start"], batch["cases"], strict=True):
            shard = Shard(int(sid), int(start), tuple(str(cases).split("\n")))
            ids.append(int(sid))
            lines.append("\n".join(judge_shard(self.gate, shard, self.job_id)))
        return {"shard": np.array(ids, dtype=np.int64), "lines": np.array(lines, dtype=object)}


def _blas_threads() -> dict[str, str]:
    """The BLAS thread counts this process runs with, for the actors of a Ray started here. Ray gives
    an actor of one CPU ``OMP_NUM_THREADS=1``, so its OpenBLAS summed the large products on one thread
    where ``accord check`` sums them on all cores: scores then differed in the seventh decimal (18 of
    4,096 cases). With the same counts the actors give the same verdicts as this process."""
    import os

    from accord.speedups import blas_threads

    n = str(blas_threads() or os.cpu_count() or 1)
    return {v: os.environ.get(v) or n for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _ray(spec: GateSpec, shards: Sequence[Shard], job_id: str, on_done: OnDone, workers: int,
         address: str | None) -> None:
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError("--engine ray needs Ray", hint="pip install 'accord[scale]', or use --engine local") from None
    import logging
    import os

    started = False
    if address is not None and address != "auto" and not _reachable(address):
        raise InputError(f"cannot start the Ray cluster at {address}: nothing answers there",
                         hint="check --address (host:6379, or ray://host:10001 for Ray Client), or use --engine local")
    if not ray.is_initialized():
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        try:
            ray.init(address=address, num_cpus=None if address else max(workers, 1), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR, ignore_reinit_error=True,
                     runtime_env=None if address else {"env_vars": _blas_threads()})
        except Exception as e:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise InputError(f"cannot start {where}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                             hint="check --address, or use --engine local") from None
        started = True
    for name in ("ray", "ray.data"):  # the CLI shows its own progress; Ray's INFO lines would interleave with it
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the CLI shows its own bar
        with_progress = getattr(ctx, "print_on_execution_start", None)
        if with_progress is not None:
            ctx.print_on_execution_start = False
        rows = [{"shard": s.id, "start": s.start, "cases": "\n".join(s.cases)} for s in shards]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        out = ds.map_batches(_RayJudge, fn_constructor_kwargs={"spec": spec, "job_id": job_id}, batch_size=1,
                             compute=ray.data.ActorPoolStrategy(size=max(1, min(workers, len(rows)))), num_cpus=1)
        try:
            for row in _rows(out):
                on_done(int(row["shard"]), str(row["lines"]).split("\n"))
        except AccordError:
            raise
        except Exception as e:  # a worker's failure arrives wrapped in Ray's errors: say what failed
            cause = getattr(e, "cause", None) or e
            raise AccordError(f"a Ray worker failed: {type(cause).__name__}: {cause}",
                              hint="finished shards are kept; fix the cause and run the same command again") from None
    finally:
        if started:
            ray.shutdown()


def _reachable(address: str, timeout: float = 5.0) -> bool:
    """Whether something listens at a Ray address (Ray itself retries for many minutes)."""
    import socket

    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return True  # not host:port: let Ray parse it and say what is wrong
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def _rows(ds: Any) -> Iterator[dict[str, Any]]:
    yield from ds.iter_rows()
