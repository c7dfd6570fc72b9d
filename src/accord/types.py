"""The data that crosses accord's boundaries: cases, scores, verdicts and feedback.

All are pydantic models that reject unknown keys, so a typo in a JSON file or an HTTP body is an
error rather than a silently ignored field. ``Verdict`` carries ``schema_version``; change its
shape only with a version bump (see ``docs/verdict-schema.md``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accord.errors import InputError

SCHEMA_VERSION = 1
_T = TypeVar("_T", bound=BaseModel)

Decision = Literal["allow", "revise", "block", "escalate"]
Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
DECISION_ORDER: dict[str, int] = {"allow": 0, "revise": 1, "escalate": 2, "block": 3}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def trusted(cls, **values: Any) -> Any:
        """An instance from values the caller built and knows valid: see :func:`trusted_instance`."""
        return trusted_instance(cls, values)

    def trusted_copy(self, **changes: Any) -> Any:
        """A copy with some fields replaced by values the caller knows valid (no validation):
        ``model_copy(update=...)`` for the hot path, at a fifth of its cost."""
        m = self.trusted(**{**self.__dict__, **changes})
        if _FAST_PATH:  # (model_construct, the fallback, marks every field set)
            _set_fields_set(m, self.__pydantic_fields_set__ | set(changes))
        return m


def _slot_setter(name: str) -> Any:
    """The setter of one of pydantic's instance-state slots on ``BaseModel`` (None if it has no such slot)."""
    d = BaseModel.__dict__.get(name)
    return getattr(d, "__set__", None)


_new = object.__new__
_set_dict, _set_fields_set, _set_extra, _set_private = map(
    _slot_setter, ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))
_FAST_PATH = True  # cleared below when this pydantic keeps its state differently


def trusted_instance(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of ``cls`` from ``values`` (every field, owned by the instance from now on),
    which the caller built and knows valid: no validation, no defaults.

    The gate makes about thirty of these per case (scores, principle lines, precedents), and
    pydantic's ``model_construct`` costs 2–3 µs each for bookkeeping this path does not need; this
    sets the instance state directly, through pydantic's own slots (0.65 µs; hot loops pass a dict
    literal, which is cheaper than keyword arguments). When the installed pydantic keeps its state
    differently, the check below (``_trusted_works``) switches to ``model_construct``.
    """
    if not _FAST_PATH:  # pragma: no cover - depends on the installed pydantic
        return cls.model_construct(None, **values)
    m = _new(cls)
    _set_dict(m, values)
    _set_fields_set(m, set(values))
    _set_extra(m, None)
    _set_private(m, None)
    return m


class Message(_Strict):
    """One chat message of a context."""

    role: str
    content: str


class ToolCall(_Strict):
    """An agent action: a tool name with its arguments."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def as_text(self) -> str:
        """The text a text encoder and the rules see for this call."""
        args = json.dumps(self.arguments, sort_keys=True, ensure_ascii=False)
        return f"call tool {self.name} with {args}"

    @classmethod
    def from_text(cls, text: str) -> ToolCall | None:
        """The call that ``text`` writes out in :meth:`as_text`'s form (``call tool NAME with {...}``,
        the arguments a JSON object), else None. A call written as text is still a call: the
        charter's ``tool:`` rules and the redaction of addressing arguments apply to it as to the
        structured form."""
        if not text.startswith("call tool "):
            return None
        name, sep, args = text[len("call tool "):].partition(" with ")
        if not sep or not name or " " in name:
            return None
        try:
            parsed = json.loads(args)
        except ValueError:
            return None
        return cls(name=name, arguments=parsed) if isinstance(parsed, dict) else None

    @classmethod
    def parse(cls, obj: Any) -> ToolCall | None:
        """The call ``obj`` writes in a shape agent frameworks use, else None.

        Objects (or their JSON text): ``{name, arguments}``; OpenAI's ``{type: function, function:
        {name, arguments}}`` (arguments as a JSON string or an object); Anthropic's ``{type:
        tool_use, name, input}``; LangChain's ``{tool, tool_input}`` (also ``args`` or
        ``parameters``); an ``id`` or ``type`` beside them is dropped. Text: ``name(key=value, ...)``
        with keyword arguments only, each a Python literal, and ReAct's ``Action: name`` line
        followed by ``Action Input: {...}``. The learned judges were trained on
        calls as :meth:`as_text` writes them; a JSON or Python spelling of the same call read as
        prose cost 0.03-0.10 of macro-F1 on the dev set's tool calls.
        """
        if isinstance(obj, str):
            text = obj.strip()
            if text.startswith("{") and text.endswith("}"):
                try:
                    obj = json.loads(text)
                except ValueError:
                    return None
            elif text.endswith(")") and _PY_CALL_RX.match(text):
                return _python_call(text)
            elif (m := _REACT_RX.fullmatch(text)) is not None:
                return _call(m["name"], m["args"], set())
            else:
                return None
        if not isinstance(obj, dict):
            return None
        fn = obj.get("function")
        if isinstance(fn, dict) and set(obj) <= {"function", "type", "id", "index"}:
            return _call(fn.get("name"), fn.get("arguments", {}), set(fn) - {"name", "arguments"})
        for name_key, args_keys in (("name", ("arguments", "input", "args", "parameters")),
                                    ("tool", ("tool_input", "args", "arguments", "input", "parameters")),
                                    ("tool_name", ("tool_input", "args", "arguments", "input", "parameters"))):
            if name_key in obj:
                args = [k for k in args_keys if k in obj]
                if len(args) > 1:
                    return None
                return _call(obj[name_key], obj[args[0]] if args else {}, set(obj) - {name_key, *args, "type", "id", "log"})
        return None


#: a tool's name: OpenAI's rule (``[A-Za-z0-9_-]{1,64}``) with dots allowed, never a sentence; the
#: proxy checks a model's tool calls against it too
TOOL_NAME_RX = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_REACT_RX = re.compile(r"Action:[ \t]*(?P<name>\S+)[ \t]*\n[ \t]*Action Input:[ \t]*(?P<args>\{.*\})", re.S)
_PY_CALL_RX = re.compile(r"[A-Za-z_][\w.]{0,63}\(\s*[A-Za-z_]\w*\s*=")


def _call(name: Any, arguments: Any, extra: set[str]) -> ToolCall | None:
    """A :class:`ToolCall` when ``name`` is an identifier and ``arguments`` an object (or its JSON
    text) and nothing else is beside them."""
    if extra or not isinstance(name, str) or not TOOL_NAME_RX.fullmatch(name):
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return None
    return ToolCall(name=name, arguments=arguments) if isinstance(arguments, dict) else None


def _python_call(text: str) -> ToolCall | None:
    """``name(key=literal, ...)`` as a call (keyword arguments only, JSON-writable values)."""
    import ast

    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not isinstance(node, ast.Call) or node.args or not node.keywords or any(k.arg is None for k in node.keywords):
        return None
    name = ast.unparse(node.func)
    try:
        args = {str(k.arg): ast.literal_eval(k.value) for k in node.keywords}
        json.dumps(args)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    return _call(name, args, set())


class Case(_Strict):
    """One thing to judge: what the AI was asked or aiming at, and what it did or proposes."""

    context: str | list[Message] = ""
    action: str | ToolCall
    actor: str | None = None
    community: str | None = None
    id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("action", mode="before")
    @classmethod
    def _tool_call_shapes(cls, value: Any) -> Any:
        """A tool call written as JSON, as a Python call or in a provider's shape is a tool call
        (:meth:`ToolCall.parse`); ``call tool NAME with {...}`` text is left as written (the rules
        read it as a call, and it already is what the learned judges read)."""
        plain = isinstance(value, dict) and "name" in value and set(value) <= {"name", "arguments"} \
            and not isinstance(value.get("arguments"), str)
        if isinstance(value, dict) and not plain:
            return ToolCall.parse(value) or value
        if isinstance(value, str) and value[-1:] in ("}", ")"):
            return ToolCall.parse(value) or value
        return value

    def __init__(self, /, **data: Any) -> None:
        # a case is what users build by hand: a mistake is one accord error naming the field,
        # not pydantic's multi-line ValidationError
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise _case_error(e) from None

    # validation (model_validate, nested cases, JSON files) keeps pydantic's errors, which the
    # readers turn into file:line messages: pydantic calls a custom __init__ only without this mark
    # (RootModel uses the same mark)
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def coerce(cls, obj: Any) -> Case:
        """A :class:`Case` from a Case or a dict such as ``{"context": ..., "action": ...}``.

        Anything else, or a dict with a bad field, raises :class:`~accord.errors.InputError`.
        """
        if isinstance(obj, cls):
            return obj
        if not isinstance(obj, dict):
            raise InputError(f"a case must be an accord.Case or a dict with 'action' (got {type(obj).__name__})",
                             hint='e.g. {"context": "the request", "action": "the response"}')
        try:
            return cls.model_validate(obj)
        except ValidationError as e:
            raise _case_error(e) from None

    @property
    def context_text(self) -> str:
        if isinstance(self.context, str):
            return self.context
        return "\n".join(f"{m.role}: {m.content}" for m in self.context)

    @property
    def action_text(self) -> str:
        return self.action.as_text() if isinstance(self.action, ToolCall) else self.action


def _case_error(e: ValidationError) -> InputError:
    """One sentence per bad field of a case (union members collapsed to the field)."""
    seen: dict[str, str] = {}
    for err in e.errors():
        field = str(err["loc"][0]) if err["loc"] else "case"
        if field in seen:
            continue
        if err["type"] == "missing":
            seen[field] = "missing"
        elif err["type"] == "extra_forbidden":
            seen[field] = f"unknown field; a case has {', '.join(Case.model_fields)}"
        elif field == "context":
            seen[field] = f"must be text or a list of {{role, content}} messages (got {_short(err.get('input'))})"
        elif field == "action":
            seen[field] = (f"must be text or a tool call {{name, arguments}} (also OpenAI's {{function: {{name, arguments}}}}, "
                           f"Anthropic's {{name, input}} or {{tool, tool_input}}; got {_short(err.get('input'))})")
        else:
            seen[field] = f"{err['msg']} (got {_short(err.get('input'))})"
    return InputError("invalid case: " + "; ".join(f"{k}: {v}" for k, v in seen.items()),
                      hint='a case is {"context": text or messages, "action": text or {"name", "arguments"}}')


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Evidence(_Strict):
    """Where a score came from: a rule match or the words that moved the model most."""

    text: str
    start: int | None = None
    end: int | None = None
    field: Literal["context", "action"] = "action"


class Score(_Strict):
    """One judge's probability that a case violates one principle."""

    principle: str
    score: float = Field(ge=0.0, le=1.0)
    source: str
    evidence: list[Evidence] = Field(default_factory=list)
    rule: str | None = None
    decision: Decision | None = None  # fixed decision of a hard rule
    revised: str | None = None  # the action after a redacting rule
    settled: bool = False  # a person's verdict on a near-identical case set it: a cascade stops here


class PrincipleResult(_Strict):
    """A principle's line in a verdict."""

    id: str
    score: float
    violated: bool
    severity: Severity
    evidence: list[Evidence] = Field(default_factory=list)
    source: str


class Precedent(_Strict):
    """A similar case that people judged, which the model learned from."""

    context: str
    action: str
    verdict: Literal["acceptable", "unacceptable"]
    principle: str | None = None
    similarity: float
    source: str


class Explanation(_Strict):
    """Why the gate decided as it did."""

    summary: str
    decisive: list[str] = Field(default_factory=list)
    rule: str | None = None
    precedents: list[Precedent] = Field(default_factory=list)
    counterfactual: str = ""


class Verdict(_Strict):
    """The gate's answer for one case (Verdict JSON, ``schema_version`` 1)."""

    schema_version: int = SCHEMA_VERSION
    trace_id: str
    case_id: str | None = None
    decision: Decision
    risk: float = Field(ge=0.0, le=1.0)
    principles: list[PrincipleResult]
    explanation: Explanation
    communities: dict[str, Decision] = Field(default_factory=dict)
    contested: bool = False
    revised: str | None = None
    chosen: int | None = None
    judge_version: str
    errors: list[str] = Field(default_factory=list)
    latency_ms: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.decision in ("allow", "revise")


class Label(_Strict):
    """A person's verdict on one case."""

    kind: Literal["label"] = "label"
    context: str = ""
    action: str
    verdict: Literal["acceptable", "unacceptable"]
    principle: str | None = None
    source: str | None = None
    weight: float = Field(default=1.0, gt=0)


class Escalation(_Strict):
    """People said a case is not theirs to settle alone: a person must decide such cases.

    Made from review answers, not read from feedback files: ``reason`` is ``depends`` (acceptable
    for the communities in ``acceptable_for``, not for the charter's others) or ``discuss``
    (needs discussion). Learning teaches the decision model ``escalate`` for it, so similar cases
    go to people; the value model, which scores acceptability for everyone, learns nothing from it.
    """

    kind: Literal["escalation"] = "escalation"
    context: str = ""
    action: str
    reason: Literal["depends", "discuss"]
    acceptable_for: list[str] = Field(default_factory=list)
    principle: str | None = None
    source: str | None = None
    weight: float = Field(default=1.0, gt=0)


class Preference(_Strict):
    """A person preferred ``chosen`` over ``rejected`` in one context."""

    kind: Literal["preference"] = "preference"
    context: str = ""
    chosen: str
    rejected: str
    source: str | None = None
    weight: float = Field(default=1.0, gt=0)


class Demonstration(_Strict):
    """What a person did in a context: acceptable, and preferred over what the model would rank higher."""

    kind: Literal["demonstration"] = "demonstration"
    context: str = ""
    action: str
    source: str | None = None
    weight: float = Field(default=1.0, gt=0)


Feedback = Annotated[Label | Preference | Demonstration, Field(discriminator="kind")]


def _trusted_works() -> bool:
    """Whether :meth:`_Strict.trusted` builds what ``model_construct`` builds, on this pydantic."""
    values: dict[str, Any] = {"text": "x", "start": 0, "end": 1, "field": "action"}
    try:  # a slot this path sets is missing: ``trusted`` raises TypeError ('NoneType' is not callable)
        a, b = Evidence.trusted(**dict(values)), Evidence.model_construct(**values)
        return a == b and a.model_dump() == b.model_dump() and a.model_copy(update={"start": 1}).start == 1
    except Exception:
        return False


if not _trusted_works():  # pragma: no cover - depends on the installed pydantic
    _FAST_PATH = False
