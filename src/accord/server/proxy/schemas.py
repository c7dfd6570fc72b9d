"""The HTTP bodies the proxy reads and writes, as pydantic models (they make the OpenAPI document).

The OpenAI-compatible models accept fields they do not name (``extra="allow"``): a proxy must pass
through whatever the client and the upstream agree on (``temperature``, ``response_format``,
vendor extensions). They only insist on what the proxy itself relies on. accord's own bodies
(``/v1/check``, errors) are strict.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from accord.types import Case, Decision, Verdict


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContentPart(_Open):
    """One part of a multi-part message (``{"type": "text", "text": ...}``, images, audio...)."""

    type: str
    text: str | None = None


class FunctionCall(_Open):
    """A function call's name and its arguments as a JSON string."""

    name: str
    arguments: str = ""


class ToolCallOut(_Open):
    """A tool call proposed by the assistant."""

    id: str
    type: str = "function"
    function: FunctionCall


class ChatMessage(_Open):
    """One chat message of a request."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallOut] | None = None
    tool_call_id: str | None = None


class ChatCompletionRequest(_Open):
    """An OpenAI chat completion request; unnamed fields are passed to the upstream unchanged."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False


class AccordTag(BaseModel):
    """accord's note on one choice (or, at the top level, on the whole response).

    ``verdict`` is present whenever the decision is not ``allow``; ``held`` says the output was
    withheld for a person's review, ``flagged`` that it was passed with a flag (escalation policy).
    """

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    trace_id: str
    held: bool = False
    flagged: bool = False
    stage: Literal["input", "output", "tool"] | None = None
    verdict: Verdict | None = None


class AssistantMessage(_Open):
    """The assistant's message in a completion."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class Choice(_Open):
    """One completion choice; ``accord`` says what the gate decided about it."""

    index: int
    message: AssistantMessage
    finish_reason: str | None = None
    accord: AccordTag | None = None


class ChatCompletion(_Open):
    """An OpenAI chat completion, after the gate (blocked output replaced, ``finish_reason: content_filter``)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: dict[str, Any] | None = None
    accord: AccordTag | None = None


class ModelCard(_Open):
    """One model the upstream serves."""

    id: str
    object: str = "model"


class ModelList(_Open):
    """The upstream's ``/models`` answer: each model's id, created and owned_by (identifiers only)."""

    object: str = "list"
    data: list[ModelCard]


class CheckRequest(Case):
    """A case to judge without any upstream; ``candidates`` are alternative actions to choose among."""

    candidates: list[str] | None = Field(default=None, max_length=32)


class ErrorDetail(BaseModel):
    """OpenAI's error object."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error the proxy returns, in OpenAI's format: ``{"error": {...}}``."""

    error: ErrorDetail


class Health(BaseModel):
    """Liveness and what the gate runs."""

    status: Literal["ok"] = "ok"
    judge_version: str
    charter: str
    upstream: str
    auth: bool
