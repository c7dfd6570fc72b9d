"""Batch audits: judge a large input (JSONL, Parquet, CSV or the audit store) with any gate.

``accord audit batch`` is the command; this package is its library. The verdicts are the ones a
single-process ``accord check --input`` gives on the same cases (same chunks of 256 cases to
``Gate.check_many``, same order), whether the shards run in this process, in worker processes
(``engine="local"``) or on Ray Data (``engine="ray"``, the ``accord[scale]`` extra). Jobs are
resumable: see :mod:`accord.batch.job`.
"""

from accord.batch.engines import CHUNK, ENGINES, GateSpec
from accord.batch.inputs import Item, read_items, read_store_items
from accord.batch.job import BatchResult, run_batch
from accord.batch.summary import Summary, render_summary

__all__ = ["CHUNK", "ENGINES", "BatchResult", "GateSpec", "Item", "Summary", "read_items", "read_store_items",
           "render_summary", "run_batch"]
