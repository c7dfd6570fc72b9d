"""Reading an LLM judge's answers: the three formats (``json``, ``verdict``, ``llama-guard``) parsed and
checked strictly (a malformed answer is a :class:`~accord.errors.JudgeError`, never an allow), the
verdict and guard scores read off the first token's log-probabilities, and quotes kept only when
they occur verbatim in the case."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.charter.model import Charter
from accord.errors import JudgeError
from accord.judges.llm_calibration import Calibration
from accord.types import Case, Evidence, Score

#: the verdict format's answers, and what each contributes to the raw score (P(violation))
VERDICTS: dict[str, float] = {"allow": 0.0, "escalate": 0.5, "block": 1.0}

#: Llama Guard hazard categories → principle ids of the default charter, per Llama Guard version
LLAMA_GUARD_CATEGORIES: dict[int, dict[str, tuple[str, ...]]] = {
    1: {  # Llama Guard 1: O1-O6
        "O1": ("harm", "fairness"),  # violence and hate
        "O2": ("wellbeing",),  # sexual content
        "O3": ("legality",),  # criminal planning
        "O4": ("harm", "legality"),  # guns and illegal weapons
        "O5": ("legality", "wellbeing"),  # regulated or controlled substances
        "O6": ("harm",),  # self-harm
    },
    2: {  # Llama Guard 2: S1-S11 (MLCommons draft taxonomy)
        "S1": ("harm",), "S2": ("legality",), "S3": ("harm", "legality"), "S4": ("harm",),
        "S5": ("wellbeing",), "S6": ("privacy",), "S7": ("legality",), "S8": ("harm",),
        "S9": ("fairness",), "S10": ("harm",), "S11": ("wellbeing",),
    },
    3: {  # Llama Guard 3 and 4: S1-S14 (MLCommons hazard taxonomy)
        "S1": ("harm",),  # violent crimes
        "S2": ("legality",),  # non-violent crimes
        "S3": ("harm", "legality"),  # sex-related crimes
        "S4": ("harm",),  # child sexual exploitation
        "S5": ("honesty",),  # defamation
        "S6": ("wellbeing",),  # specialised advice
        "S7": ("privacy",),  # privacy
        "S8": ("legality",),  # intellectual property
        "S9": ("harm",),  # indiscriminate weapons
        "S10": ("fairness",),  # hate
        "S11": ("harm",),  # suicide and self-harm
        "S12": ("wellbeing",),  # sexual content
        "S13": ("honesty",),  # elections
        "S14": ("safety_oversight", "legality"),  # code interpreter abuse
    },
}


class _PrincipleAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str
    score: float = Field(ge=0.0, le=1.0)
    quote: str | None = None
    reason: str | None = None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    principles: list[_PrincipleAnswer]


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_GUARD_CODE = re.compile(r"^[A-Z]\d{1,2}$")
_VERDICT = re.compile(r"^(allow|block|escalate)\b(?:[\s:,\-–—]+([A-Za-z0-9_\-]+))?[\s.]*$", re.IGNORECASE)


class AnswerParsing:
    """The answer-reading half of :class:`~accord.judges.llm.LLMJudge` (its options are set by the judge)."""

    model: str
    logprobs: bool
    categories: dict[str, tuple[str, ...]]
    calibration: Calibration | None

    @property
    def source(self) -> str:
        raise NotImplementedError

    def _count(self, what: str) -> None:
        raise NotImplementedError

    def _parse_json(self, content: str, charter: Charter) -> list[dict[str, Any]]:
        text = content.strip()
        m = _FENCE.match(text)
        if m:  # one fenced block is a common, harmless wrapping; anything else around it is not
            text = m.group(1).strip()
        try:
            ans = _Answer.model_validate_json(text)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise JudgeError(f"llm judge {self.model!r} gave a malformed answer ({where + ': ' if where else ''}{err['msg']}): "
                             f"{excerpt(content)}") from None
        want = set(charter.principle_ids)
        got = [p.id for p in ans.principles]
        unknown = [g for g in got if g not in want]
        missing = sorted(want - set(got))
        dup = sorted({g for g in got if got.count(g) > 1})
        if unknown or missing or dup:
            parts = [f"unknown principles {unknown}" if unknown else "", f"missing {missing}" if missing else "",
                     f"duplicated {dup}" if dup else ""]
            raise JudgeError(f"llm judge {self.model!r} gave a malformed answer: {'; '.join(p for p in parts if p)}")
        return [{"principle": p.id, "score": p.score, "quote": p.quote or ""} for p in ans.principles]

    def _parse_verdict(self, content: str, logprobs: Any, charter: Charter) -> list[dict[str, Any]]:
        """``allow`` | ``block <id>`` | ``escalate <id>``, scored by the first token's probabilities."""
        lines = [ln.strip() for ln in content.strip().splitlines() if ln.strip()]
        m = _VERDICT.match(lines[0]) if len(lines) == 1 else None
        if m is None:
            raise JudgeError(f"llm judge {self.model!r} (verdict) gave a malformed answer: {excerpt(content)}")
        verdict, pid = m.group(1).lower(), m.group(2)
        if pid is not None and pid not in charter._by_id and pid.lower() in charter._by_id:
            pid = pid.lower()
        if pid is not None and pid not in charter._by_id:
            raise JudgeError(f"llm judge {self.model!r} (verdict) named an unknown principle {pid!r}: {excerpt(content)}")
        mass = _verdict_mass(logprobs) if self.logprobs else None
        if mass is None:
            self._count("word_scores")
            raw = VERDICTS[verdict]
        else:
            raw = sum(VERDICTS[v] * p for v, p in mass.items())
        extra = {"verdict": verdict, **({"p": {v: round(p, 6) for v, p in mass.items()}} if mass else {})}
        if verdict == "allow":  # nothing is violated: the answer speaks for every principle
            return [{"principle": p, "score": raw, "quote": "", **extra} for p in charter.principle_ids]
        # the principle named carries the case's probability; the model looked at the whole case and
        # named no other, so the others score 0 (a later stage's score replaces an earlier stage's
        # doubt about them: the cascade asks the LLM to settle the case, not one principle of it)
        named = pid or _gravest(charter)
        return [{"principle": named, "score": raw, "quote": "", **extra},
                *({"principle": p, "score": 0.0, "quote": ""} for p in charter.principle_ids if p != named)]

    def _parse_guard(self, content: str, logprobs: Any, charter: Charter) -> list[dict[str, Any]]:
        lines = [ln.strip() for ln in content.strip().splitlines() if ln.strip()]
        verdict = lines[0].lower() if lines else ""
        if verdict not in ("safe", "unsafe"):
            raise JudgeError(f"llm judge {self.model!r} (llama-guard) gave a malformed answer: {excerpt(content)}")
        codes: list[str] = []
        if verdict == "unsafe":
            if len(lines) > 2:
                raise JudgeError(f"llm judge {self.model!r} (llama-guard) gave a malformed answer: {excerpt(content)}")
            codes = [c.strip().upper() for c in lines[1].split(",")] if len(lines) > 1 else []
            if any(not _GUARD_CODE.match(c) for c in codes):
                raise JudgeError(f"llm judge {self.model!r} (llama-guard) gave malformed categories: {excerpt(content)}")
        elif len(lines) > 1:
            raise JudgeError(f"llm judge {self.model!r} (llama-guard) gave a malformed answer: {excerpt(content)}")
        p_unsafe = _p_unsafe(logprobs) if self.logprobs else None
        present = set(charter.principle_ids)
        covered = {pid for pids in self.categories.values() for pid in pids if pid in present}
        flagged: set[str] = set()
        for c in codes:
            flagged |= {pid for pid in self.categories.get(c, ()) if pid in present}
        if verdict == "unsafe" and not flagged:
            # an unsafe answer whose categories this charter does not name still counts (fail closed)
            flagged = {_gravest(charter)}
        high = p_unsafe if p_unsafe is not None else 1.0
        low = p_unsafe if p_unsafe is not None else 0.0
        out = []
        for pid in charter.principle_ids:
            if pid in flagged:  # only on "unsafe": never below 0.5, whatever the log-probabilities say
                out.append({"principle": pid, "score": max(high, 0.5), "quote": "",
                            "categories": [c for c in codes if pid in self.categories.get(c, ())]})
            elif pid in covered:
                out.append({"principle": pid, "score": low if verdict == "safe" else 0.0, "quote": ""})
        return out

    def _scores(self, answer: list[dict[str, Any]], case: Case) -> list[Score]:
        out = []
        cal = self.calibration
        for a in answer:
            ev = _evidence(a.get("quote") or "", case)
            x = float(min(max(a["score"], 0.0), 1.0))
            out.append(Score(principle=a["principle"], score=cal(x) if cal is not None else x,
                             source=self.source, evidence=ev))
        return out



def reply_content(data: Any) -> tuple[str, Any]:
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise JudgeError(f"the endpoint's reply has no choices[0].message.content: {excerpt(json.dumps(data))}") from None
    if not isinstance(content, str):
        raise JudgeError("the endpoint's reply has no text content (refused, or a tool call?)")
    return content, choice.get("logprobs") if isinstance(choice, dict) else None


def _p_unsafe(logprobs: Any) -> float | None:
    """P(unsafe) from the first generated token's top log-probabilities, when the server sent them."""
    try:
        top = logprobs["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    import math

    mass = {"safe": 0.0, "unsafe": 0.0}
    for t in top:
        tok = str(t.get("token", "")).strip().lower()
        for word in ("unsafe", "safe"):  # "unsafe" first: "safe" is its suffix, not its prefix
            if tok and word.startswith(tok) and (word == "unsafe" or not "unsafe".startswith(tok)):
                mass[word] += math.exp(float(t.get("logprob", -math.inf)))
                break
    total = mass["safe"] + mass["unsafe"]
    return mass["unsafe"] / total if total > 0 else None


def _verdict_mass(logprobs: Any) -> dict[str, float] | None:
    """P(allow), P(block), P(escalate) from the first answer token's top log-probabilities.

    A token counts for a verdict when, stripped and lower-cased, it starts that word ("esc" counts
    for escalate, "Block" for block); the three first letters differ, so no token counts twice. The
    mass is renormalised over the three; None when the server sent no log-probabilities or none of
    the top tokens starts a verdict.
    """
    try:
        top = logprobs["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    mass = dict.fromkeys(VERDICTS, 0.0)
    for t in top if isinstance(top, list) else []:
        try:
            tok = str(t.get("token", "")).strip().lower()
            lp = float(t.get("logprob", -math.inf))
        except (AttributeError, TypeError, ValueError):
            continue
        for word in VERDICTS:
            if tok and word.startswith(tok) and math.isfinite(lp):
                mass[word] += math.exp(lp)
                break
    total = sum(mass.values())
    return {w: m / total for w, m in mass.items()} if total > 0 else None


def _gravest(charter: Charter) -> str:
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return min(charter.principles, key=lambda p: order[p.severity]).id


def _evidence(quote: str, case: Case) -> list[Evidence]:
    """The model's quote, kept only when it occurs verbatim in the case (model output is untrusted)."""
    q = quote.strip().strip('"').strip()
    if not q:
        return []
    rx = re.compile(re.escape(q), re.IGNORECASE)
    for fld, text in (("action", case.action_text), ("context", case.context_text)):
        m = rx.search(text)
        if m:
            return [Evidence(text=m.group(0), start=m.start(), end=m.end(), field=fld)]  # type: ignore[arg-type]
    return []



def excerpt(text: str, n: int = 200) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[:n] + "…"

