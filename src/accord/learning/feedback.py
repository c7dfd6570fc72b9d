"""Feedback JSONL: reading it strictly, and turning it (plus the charter's examples) into training data.

One record per line: ``{"kind": "label" | "preference" | "demonstration", ...}``. A bad line is an
error naming the file and the line; nothing is trained on a half-read file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter, ValidationError

from accord.charter.model import Charter
from accord.errors import FeedbackError
from accord.jsonl import parse_jsonl
from accord.learning.value_model import Pairs, ValueModel
from accord.types import Case, Demonstration, Escalation, Feedback, Label, Preference

_FEEDBACK = TypeAdapter(Feedback)

#: how much one human feedback record weighs against one record of a bulk public dataset
FEEDBACK_WEIGHT = 5.0


def read_jsonl(path: str | Path, what: str = "record") -> list[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line; errors name file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FeedbackError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FeedbackError(f"{p}: cannot read: {e}") from None
    return parse_jsonl(text, str(p), what)


def _pydantic_message(p: Path, n: int, e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"] if x not in ("label", "preference", "demonstration"))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field; check the spelling"
    elif err["type"] == "union_tag_invalid":
        msg = "'kind' must be one of label, preference, demonstration"
    elif err["type"] == "union_tag_not_found":
        msg = "missing 'kind' (label, preference or demonstration)"
    return f"{p}:{n}: {loc + ': ' if loc else ''}{msg}"


def read_feedback(path: str | Path, charter: Charter | None = None) -> list[Label | Preference | Demonstration]:
    """Read a feedback JSONL file; any bad line raises :class:`FeedbackError` naming it.

    With ``charter``, a label's ``principle`` must be one of the charter's principles (a typo
    would otherwise teach a principle nobody judges, silently).
    """
    p = Path(path)
    out: list[Label | Preference | Demonstration] = []
    for n, obj in read_jsonl(p, "feedback record"):
        try:
            rec = _FEEDBACK.validate_python(obj)
        except ValidationError as e:
            raise FeedbackError(_pydantic_message(p, n, e)) from None
        if charter is not None:
            check_principle(rec, charter, f"{p}:{n}")
        out.append(rec)
    return out


def check_principle(rec: object, charter: Charter, where: str) -> None:
    """A :class:`FeedbackError` at ``where`` when ``rec`` names a principle the charter lacks."""
    pid = getattr(rec, "principle", None)
    if pid is not None and pid not in charter.principle_ids:
        close = difflib.get_close_matches(pid, charter.principle_ids, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        raise FeedbackError(f"{where}: principle: unknown principle {pid!r}{guess}; the charter "
                            f"{charter.name!r} defines: {', '.join(charter.principle_ids)}",
                            hint="fix the label, or pass the charter that defines it with --charter")


def read_cases(path: str | Path) -> list[Case]:
    """Read a cases JSONL file (``{"id"?, "context"?, "action", ...}`` per line)."""
    p = Path(path)
    out = []
    for n, obj in read_jsonl(p, "case"):
        try:
            out.append(Case.model_validate(obj))
        except ValidationError as e:
            raise FeedbackError(_pydantic_message(p, n, e)) from None
    return out


def read_labels(path: str | Path) -> list[Label]:
    """Read labelled cases (``{"context", "action", "verdict", "principle"?}``; ``kind`` optional)."""
    p = Path(path)
    out = []
    for n, obj in read_jsonl(p, "labelled case"):
        obj = {"kind": "label", **obj}
        obj.pop("id", None)
        try:
            out.append(Label.model_validate(obj))
        except ValidationError as e:
            raise FeedbackError(_pydantic_message(p, n, e)) from None
    if not out:
        raise FeedbackError(f"{p}: no labelled cases in the file")
    return out


def write_feedback(records: Iterable[Label | Preference | Demonstration], path: str | Path) -> int:
    """Write feedback as JSONL atomically; returns the count."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(r.model_dump_json(exclude_defaults=False, exclude_none=True) + "\n")
            n += 1
    tmp.replace(p)
    return n


@dataclass
class TrainingSet:
    """Arrays for :meth:`ValueModel.fit`: cases with labels, principle tags, weights, sources, pairs."""

    cases: list[tuple[str, str]] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    principle: list[str | None] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    memory: list[bool] = field(default_factory=list)
    pairs: Pairs = field(default_factory=Pairs)

    def add(self, context: str, action: str, unacceptable: bool, *, principle: str | None = None,
            weight: float = 1.0, source: str = "training", memory: bool = False) -> None:
        self.cases.append((context, action))
        self.y.append(int(unacceptable))
        self.principle.append(principle if unacceptable else None)
        self.weight.append(weight)
        self.source.append(source)
        self.memory.append(memory)

    def extend(self, other: TrainingSet) -> None:
        self.cases += other.cases
        self.y += other.y
        self.principle += other.principle
        self.weight += other.weight
        self.source += other.source
        self.memory += other.memory
        for c, a, b, w in zip(other.pairs.contexts, other.pairs.chosen, other.pairs.rejected, other.pairs.weights, strict=True):
            self.pairs.add(c, a, b, w)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: Sequence[int]) -> TrainingSet:
        t = TrainingSet()
        for i in idx:
            t.add(*self.cases[i], bool(self.y[i]), principle=self.principle[i], weight=self.weight[i],
                  source=self.source[i], memory=self.memory[i])
        return t

    def fit_kwargs(self) -> dict:
        return {"principle": self.principle, "sample_weight": np.asarray(self.weight), "sources": self.source,
                "pairs": self.pairs, "memory": self.memory}


def charter_examples(charter: Charter, weight: float = FEEDBACK_WEIGHT) -> TrainingSet:
    """The charter's examples: violates → unacceptable tagged with the principle; upholds → acceptable."""
    t = TrainingSet()
    for p in charter.principles:
        for ctx, act in p.examples.pairs("violates"):
            t.add(ctx, act, True, principle=p.id, weight=weight, source=f"charter:{p.id}", memory=True)
        for ctx, act in p.examples.pairs("upholds"):
            t.add(ctx, act, False, weight=weight, source=f"charter:{p.id}", memory=True)
        # within one context, upholding beats violating: pairs for the reward head
        ups = {c: a for c, a in p.examples.pairs("upholds") if c}
        for ctx, act in p.examples.pairs("violates"):
            if ctx in ups:
                t.pairs.add(ctx, ups[ctx], act, weight)
    return t


def feedback_to_training(
    records: Sequence[Label | Preference | Demonstration | Escalation],
    model: ValueModel | None = None,
    *,
    weight: float = FEEDBACK_WEIGHT,
    source: str = "feedback",
) -> TrainingSet:
    """Turn feedback into training data.

    * a label is a labelled case (tagged with its principle when given);
    * a preference is a reward pair, and its chosen action counts as acceptable;
    * a demonstration is acceptable, and preferred over every action known in the same context
      that was judged unacceptable or rejected, and over the precedents in similar contexts that
      the current model ranks higher;
    * an escalation (people said "it depends on the community" or "needs discussion") is no
      acceptability label for everyone: it teaches the decision model, not these heads.
    """
    t = TrainingSet()
    bad_by_context: dict[str, set[str]] = {}
    for r in records:
        w = weight * r.weight
        src = r.source or source
        if isinstance(r, Label):
            t.add(r.context, r.action, r.verdict == "unacceptable", principle=r.principle, weight=w, source=src, memory=True)
            if r.verdict == "unacceptable":
                bad_by_context.setdefault(r.context, set()).add(r.action)
        elif isinstance(r, Preference):
            t.pairs.add(r.context, r.chosen, r.rejected, w)
            t.add(r.context, r.chosen, False, weight=w * 0.5, source=src, memory=True)
            bad_by_context.setdefault(r.context, set()).add(r.rejected)
    for r in records:
        if not isinstance(r, Demonstration):
            continue
        w = weight * r.weight
        t.add(r.context, r.action, False, weight=w, source=r.source or source, memory=True)
        alternatives = set(bad_by_context.get(r.context, set()))
        if model is not None and hasattr(model, "coef_") and len(model.memory_):
            demo_case = Case(context=r.context, action=r.action)
            near = model.precedents(demo_case, k=5, min_similarity=0.6)
            if near:
                cands = [(r.context, p.action) for p in near if p.action != r.action]
                if cands:
                    rewards = model.reward([(r.context, r.action), *cands])
                    alternatives |= {a for (_, a), rv in zip(cands, rewards[1:], strict=True) if rv >= rewards[0]}
        for alt in sorted(alternatives):
            t.pairs.add(r.context, r.action, alt, w)
    return t
