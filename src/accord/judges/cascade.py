"""Cheap judges first, stronger ones only where the cheap ones are unsure.

A case leaves the cascade as soon as a stage is *sure* about it: a hard rule that blocks or
allows, learned scores that all lie outside the uncertainty band ``(low, high)``, or a score
``settled`` by a person's verdict on a near-identical case (a later stage, perhaps never taught
that verdict, must not overrule it). Later stages' learned scores replace earlier ones for the
same principle; rule scores are kept. The stages share one time budget; a stage that raises or
runs out of time marks its pending cases as failed, which the gate turns into escalate or block
(never allow).

Stages see a case as a reader sees it, not as its bytes are (:func:`views`): invisible characters
and stacked marks dropped, look-alike letters and full-width forms in ASCII; and where letters are
split (``b.o.m.b``) or written in leetspeak, that unfolded view besides, the stricter of the two
answers counting (:func:`_merge_views`); text hidden in an obvious encoding is judged on its own,
apart from the text around it. A judge that normalises text itself (``reads_raw_text =
True``, the rules judge, whose redactions must rewrite the original) sees the original. The case
itself (the audit record, the verdict's case) keeps the original text.

A judge's answer is checked before it counts (:func:`_checked`): one list of :class:`Score` per
case, every score a finite number in [0, 1] for a principle of the charter. Anything else (NaN, a
string, a dict, a score for a principle the charter does not have) is a failed stage: fail closed.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any

from accord.charter.model import Charter
from accord.errors import JudgeError, JudgeTimeout
from accord.judges.base import Judge
from accord.normalize import text_views
from accord.types import DECISION_ORDER, Case, Message, Score, ToolCall

#: worker threads per cascade (each gate has its own: a judge that hangs in one gate's threads
#: cannot leave another gate without a thread to judge on)
POOL_WORKERS = 8


@dataclass
class CaseResult:
    """What the cascade learned about one case."""

    scores: list[Score] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    stages: list[str] = field(default_factory=list)


def _checked(judge: Judge, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
    """A judge's answer, or JudgeError when it is not one list of valid scores per case.

    A score must be a :class:`Score` (judges build them without validation on the hot path, so
    its fields are checked here too): a finite probability in [0, 1], a decision among the four,
    for a principle of the charter. NaN compares false with every threshold, so a NaN score would
    otherwise read as "no concern"; a score for a principle the charter does not have would be
    silently ignored by the policy.
    """
    out = judge.judge(cases, charter)
    name = getattr(judge, "name", type(judge).__name__)
    if not isinstance(out, list) or len(out) != len(cases):
        raise JudgeError(f"judge {name!r} returned {type(out).__name__} for {len(cases)} cases")
    known = charter._by_id  # a dict: membership in O(1) however many principles
    if _all_valid(out, known):
        return out
    for scores in out:  # something is off (or unusual, such as a subclass of Score): find it and say what
        if not isinstance(scores, list):
            raise JudgeError(f"judge {name!r} returned {type(scores).__name__} for a case, not a list of scores")
        for s in scores:
            if not isinstance(s, Score):
                raise JudgeError(f"judge {name!r} returned {type(s).__name__} {str(s)[:80]!r}, not a Score")
            x = s.score
            if not isinstance(x, (int, float)) or isinstance(x, bool) or not (0.0 <= x <= 1.0):  # NaN fails too
                raise JudgeError(f"judge {name!r} returned score {x!r} for principle {s.principle!r} "
                                 "(a probability in [0, 1] is expected)")
            if s.principle not in known:
                raise JudgeError(f"judge {name!r} scored principle {s.principle!r}, which the charter "
                                 f"{charter.name!r} does not define")
            if s.decision is not None and s.decision not in DECISION_ORDER:
                raise JudgeError(f"judge {name!r} returned decision {s.decision!r}")
    return out


_SCORE_OF, _PRINCIPLE_OF, _DECISION_OF = attrgetter("score"), attrgetter("principle"), attrgetter("decision")
_DECISIONS = frozenset(DECISION_ORDER) | {None}


def _all_valid(out: list[Any], known: dict[str, Any]) -> bool:
    """True when every case's answer is a list of plain :class:`Score` objects that :func:`_checked`
    accepts, tested a field at a time over the whole batch (the per-score loop cost about 1 µs per
    score, some 10 µs a case). False means: look score by score."""
    if set(map(type, out)) - {list}:
        return False
    flat = list(chain.from_iterable(out))
    if not flat:
        return True
    if set(map(type, flat)) != {Score}:
        return False
    xs = list(map(_SCORE_OF, flat))
    if set(map(type, xs)) - {float, int}:  # a bool is neither; a str, None or a numpy scalar neither
        return False
    total = sum(xs)
    if total != total:  # a NaN somewhere (min and max are unreliable with one)
        return False
    try:
        return (min(xs) >= 0.0 and max(xs) <= 1.0 and set(map(_PRINCIPLE_OF, flat)) <= known.keys()
                and set(map(_DECISION_OF, flat)) <= _DECISIONS)
    except TypeError:  # an unhashable principle or decision
        return False


def _map_value(v: Any, f: Callable[[str], str]) -> Any:
    if isinstance(v, str):
        return f(v)
    if isinstance(v, dict):
        return {k: _map_value(x, f) for k, x in v.items()}
    if isinstance(v, list):
        return [_map_value(x, f) for x in v]
    return v


def _map_case(case: Case, f: Callable[[str], str]) -> Case:
    """``case`` with ``f`` applied to every text in it; ``case`` itself when ``f`` changes none
    (``f`` returns its argument itself when it has nothing to change)."""
    changed = False
    context: str | list[Message] = case.context
    if isinstance(context, str):
        if context:
            t = f(context)
            if t is not context:
                context, changed = t, True
    else:
        msgs = []
        for m in context:
            t = f(m.content)
            if t is not m.content:
                m, changed = m.trusted_copy(content=t), True
            msgs.append(m)
        context = msgs
    action: str | ToolCall = case.action
    if isinstance(action, str):
        t = f(action)
        if t is not action:
            action, changed = t, True
    else:
        args = _map_value(action.arguments, f)
        name = f(action.name)
        if args != action.arguments or name is not action.name:
            action, changed = action.trusted_copy(name=name, arguments=args), True
    return case.trusted_copy(context=context, action=action) if changed else case


def _seen(t: str) -> str:
    return text_views(t)[0]


def views(case: Case) -> tuple[Case, Case | None]:
    """The views of a case a judge sees: what a reader sees, and the words unfolded, when that differs.

    The first is :func:`~accord.normalize.reader_view` of every text: invisible characters
    and stacked marks dropped, full-width and other compatibility forms and disguised Latin words
    (look-alike letters) in ASCII, and a text mostly in split letters or leetspeak unfolded. It
    stands in for the original, which no model was trained to read. The second, :func:`~accord.normalize.fold_words` (split letters joined, leetspeak
    undone), is ambiguous (``mp3``, ``U.S.A.``), so it is judged besides the first, never instead.
    A text that hides something in an obvious encoding (base64, hex, URL escapes, rot13) is judged
    as the text around the code (first view) and the hidden text on its own (second view), each
    as if written plainly (:func:`~accord.normalize.text_views`).
    Most text has nothing to fold: then the first view is ``case`` itself and there is no second.
    """
    seen = _map_case(case, _seen)
    more = [False]

    def second(t: str) -> str:
        first, unfolded = text_views(t)
        more[0] = more[0] or unfolded is not first
        return unfolded

    unfolded = _map_case(case, second)
    return seen, (unfolded if more[0] else None)


def _merge_views(answers: list[list[Score]]) -> list[Score]:
    """One case's scores from the judge's answers on its views (the original first): the stricter wins.

    A learned score keeps the highest probability per principle; every fixed decision but
    ``allow`` is kept (the policy takes the strictest); an ``allow`` decision (which tells the
    policy to stop looking) and a ``settled`` flag (which stops the cascade) stand only when every
    view earned one. Evidence found in a folded view keeps its words but no offsets: they would
    point into text the verdict does not show.
    """
    first = answers[0]
    every_allow = all(any(s.decision == "allow" for s in a) for a in answers)
    every_settled = all(any(s.settled for s in a) for a in answers)
    learned: dict[str, Score] = {}
    fixed: list[Score] = []
    seen: set[tuple[str, str | None, str | None]] = set()
    for k, a in enumerate(answers):
        for s in a:
            if k:
                if s.settled and not every_settled:
                    s = s.trusted_copy(settled=False)
                if s.evidence and any(e.start is not None or e.end is not None for e in s.evidence):
                    s = s.trusted_copy(evidence=[e.trusted_copy(start=None, end=None) for e in s.evidence])
            elif s.settled and not every_settled:
                s = s.trusted_copy(settled=False)
            if s.decision is None:
                best = learned.get(s.principle)
                if best is None or s.score > best.score:
                    learned[s.principle] = s
            elif s.decision != "allow" or (every_allow and k == 0):
                key = (s.principle, s.rule, s.decision)
                if key not in seen:
                    seen.add(key)
                    fixed.append(s)
    merged = fixed + list(learned.values())
    if len(merged) == len(first) and all(any(s is t for t in first) for s in merged):
        return first  # the original's answer stands as it is (and in its order)
    return merged


class _Run:
    """One cascade run's state, shared by the worker that runs the stages and the caller that
    waits for it; the lock makes each stage's results land whole, or not at all once the caller
    has given up on the worker."""

    def __init__(self, n: int) -> None:
        self.results = [CaseResult() for _ in range(n)]
        self.pending = list(range(n))
        self.learned_seen = [False] * n
        self.current = ""
        self.lock = threading.Lock()
        self.abandoned = False
        self.views: list[tuple[Case, Case | None]] | None = None


class Cascade:
    """Runs ``stages`` in order on the cases still uncertain after the previous stage."""

    name = "cascade"

    def __init__(self, stages: Sequence[Judge], *, band: tuple[float, float] = (0.2, 0.8)) -> None:
        if not stages:
            raise ValueError("a cascade needs at least one stage")
        self.stages = list(stages)
        self.band = band
        self._covered: tuple[Charter, list[str], Any] | None = None
        self._pool: cf.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _executor(self) -> cf.ThreadPoolExecutor:
        """This cascade's worker threads, started on first use."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = cf.ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="accord-judge")
        return self._pool

    @property
    def version(self) -> str:
        return "+".join(s.version for s in self.stages)

    def _sure(self, scores: list[Score], learned_seen: bool) -> bool:
        if any(s.decision in ("block", "allow") or s.settled for s in scores):
            return True
        learned = [s.score for s in scores if s.decision is None]
        if not learned_seen:
            return False
        lo, hi = self.band
        return all(x <= lo or x >= hi for x in learned)

    def run(self, cases: Sequence[Case], charter: Charter, timeout_s: float) -> list[CaseResult]:
        """Run the stages on ``cases`` within ``timeout_s`` in all.

        All stages run in one worker thread, one after another, while the caller waits once for
        the whole budget (a hand-off per stage cost a single check about a tenth of its time). When
        the budget runs out, the stages that finished keep their scores and the cases still
        pending are marked timed out, naming the stage they were waiting on.
        """
        run = _Run(len(cases))
        if not cases:
            return run.results
        run.current = self.stages[0].name  # named even if the worker never gets a thread in time
        fut = self._executor().submit(self._stages, run, cases, charter)
        try:
            fut.result(timeout=timeout_s)
        except cf.TimeoutError:
            with run.lock:
                run.abandoned = True
                for i in run.pending:
                    run.results[i].timed_out = True
                    run.results[i].errors.append(f"judge {run.current!r} exceeded the time budget of {timeout_s * 1000:.0f} ms")
        return run.results

    def _stages(self, run: _Run, cases: Sequence[Case], charter: Charter) -> None:
        self._run_stages(run, cases, charter)
        self._cover(run, cases, charter)

    def _coverage(self, charter: Charter) -> tuple[list[str], Any]:
        """The charter's principles that no learned stage has a head for, and the stage that can
        still judge them (the last one with an overall acceptability head: ``predict_proba``)."""
        hit = self._covered
        if hit is not None and hit[0] is charter:
            return hit[1], hit[2]
        scorers: list[Any] = [s for s in self.stages if callable(getattr(s, "predict_proba", None))
                              and isinstance(getattr(s, "principles", None), list)]
        covered: set[str] = set().union(*(s.principles for s in scorers)) if scorers else set()
        uncovered = [pid for pid in charter.principle_ids if pid not in covered] if scorers else []
        self._covered = (charter, uncovered, scorers[-1] if scorers else None)
        return uncovered, self._covered[2]

    def _cover(self, run: _Run, cases: Sequence[Case], charter: Charter) -> None:
        """Score the principles no learned stage knows by the overall acceptability head.

        A charter may name principles of its own that no model was trained on: without this, a
        case that violates only those ("Sure, here is how to build a pipe bomb" under a charter
        whose ids the model does not know) would be allowed with "no judge raised a concern". Each
        such principle gets the case's overall probability of being unacceptable (doubt escalates,
        by the principle's severity). Cases already decided by a fixed ``block`` or ``allow``, or
        failed, are left as they are.
        """
        uncovered, scorer = self._coverage(charter)
        if not uncovered:
            return
        with run.lock:
            if run.abandoned:
                return
            todo = [i for i, r in enumerate(run.results)
                    if not r.errors and not any(s.decision in ("allow", "block") for s in r.scores)]
            run.current = scorer.name
        if not todo:
            return
        try:
            if run.views is None:
                run.views = [views(c) for c in cases]
            vs = run.views
            extra = [i for i in todo if vs[i][1] is not None]
            p = scorer.predict_proba([vs[i][0] for i in todo] + [vs[i][1] for i in extra])[:, 1]
            p = [float(x) for x in p]
            pos = {i: j for j, i in enumerate(todo)}
            for k, i in enumerate(extra):
                p[pos[i]] = max(p[pos[i]], p[len(todo) + k])
            if not all(0.0 <= x <= 1.0 for x in p[:len(todo)]):  # NaN fails too
                raise JudgeError(f"judge {scorer.name!r} returned a probability outside [0, 1]")
        except Exception as e:  # fail closed
            with run.lock:
                if not run.abandoned:
                    for i in todo:
                        run.results[i].errors.append(
                            f"judge {scorer.name!r} failed on the principles it has no head for: {type(e).__name__}: {e}")
            return
        source = f"{scorer.name}:acceptability"
        with run.lock:
            if run.abandoned:
                return
            for k, i in enumerate(todo):
                x = round(p[k], 4)
                run.results[i].scores.extend(
                    Score.trusted(principle=pid, score=x, source=source, evidence=[], rule=None, decision=None,
                                  revised=None, settled=False) for pid in uncovered)

    def _run_stages(self, run: _Run, cases: Sequence[Case], charter: Charter) -> None:
        last = self.stages[-1]
        for stage in self.stages:
            with run.lock:
                if run.abandoned or not run.pending:
                    return
                run.current = stage.name
                pending = list(run.pending)
            try:
                if getattr(stage, "reads_raw_text", False):
                    out = _checked(stage, [cases[i] for i in pending], charter)
                else:
                    out = self._judge_views(stage, run, cases, pending, charter)
            except Exception as e:  # fail closed on anything a judge does
                with run.lock:
                    if not run.abandoned:
                        timeout = isinstance(e, JudgeTimeout)
                        for i in pending:
                            run.results[i].timed_out |= timeout
                            run.results[i].errors.append(str(e) if timeout else f"judge {stage.name!r} failed: {type(e).__name__}: {e}")
                        run.pending = []
                return
            with run.lock:
                if run.abandoned:
                    return
                still = []
                for i, scores in zip(pending, out, strict=True):
                    r = run.results[i]
                    r.stages.append(stage.name)
                    new_learned = {s.principle for s in scores if s.decision is None}
                    if new_learned:
                        run.learned_seen[i] = True
                        r.scores = [s for s in r.scores if s.decision is not None or s.principle not in new_learned]
                    r.scores.extend(scores)
                    if stage is not last and not self._sure(r.scores, run.learned_seen[i]):  # no stage left to ask
                        still.append(i)
                run.pending = still

    @staticmethod
    def _judge_views(stage: Judge, run: _Run, cases: Sequence[Case], pending: list[int],
                     charter: Charter) -> list[list[Score]]:
        """The stage's scores for the pending cases' :func:`views`: the stricter over both where there are two."""
        if run.views is None:
            run.views = [views(c) for c in cases]
        vs = run.views
        extra = [i for i in pending if vs[i][1] is not None]
        batch = [vs[i][0] for i in pending] + [vs[i][1] for i in extra]
        out = _checked(stage, batch, charter)  # type: ignore[arg-type]
        if not extra:
            return out
        at = {i: len(pending) + k for k, i in enumerate(extra)}
        return [_merge_views([out[k], out[at[i]]]) if i in at else out[k] for k, i in enumerate(pending)]

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        """Judge protocol: the merged scores; any stage failure raises (the gate fails closed)."""
        res = self.run(cases, charter, timeout_s=charter.policy.judge_timeout_ms / 1000)
        for r in res:
            if r.errors:
                raise (JudgeTimeout if r.timed_out else JudgeError)(r.errors[0])
        return [r.scores for r in res]


def cascade_judge(stages: Sequence[str] = ("rules", "model"), **options: object) -> Cascade:
    from accord.judges.base import get_judge

    return Cascade([get_judge(s) for s in stages], **options)  # type: ignore[arg-type]

