"""Helpers for the proxy tests (importable as ``proxy_helpers``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accord.charter import load_charter
from accord.charter.model import Charter
from accord.gate.gate import Gate
from accord.judges.rules import RuleJudge
from accord.server.proxy import MemorySinks


def rules_gate(charter: Charter | None = None) -> Gate:
    """The default charter's hard rules only: deterministic, independent of the value model."""
    return Gate(charter or load_charter(None), judges=[RuleJudge()])


def charter_with(**policy: Any) -> Charter:
    c = load_charter(None)
    return c.model_copy(update={"policy": c.policy.model_copy(update=policy)})


@dataclass
class Proxy:
    url: str  # base URL including /v1
    app: Any
    sinks: MemorySinks

    def flush(self) -> None:
        assert self.app.state.writer.flush(5)


