"""Fixtures for the audit store: a fresh store per test on SQLite and, when
``ACCORD_TEST_POSTGRES_URL`` is set, on PostgreSQL (each test in its own schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from accord.store import Store
from accord.store.migrate import make_engine, parse_url
from accord.types import (
    Case,
    Evidence,
    Explanation,
    Precedent,
    PrincipleResult,
    ToolCall,
    Verdict,
)

PG_ENV = "ACCORD_TEST_POSTGRES_URL"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose ``search_path`` is a fresh schema, dropped after the test."""
    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"accord_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = parse_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The same tests on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def make_case(action: str | ToolCall = "Ban all private cars", **kw) -> Case:
    return Case(context=kw.pop("context", "Cut traffic deaths to zero"), action=action, **kw)


def make_verdict(decision: str = "block", *, trace_id: str | None = None, risk: float = 0.87,
                 case_id: str | None = None) -> Verdict:
    """A verdict with every part filled in (evidence, precedents, communities, odd text)."""
    return Verdict(
        trace_id=trace_id or uuid.uuid4().hex,
        case_id=case_id,
        decision=decision,  # type: ignore[arg-type]
        risk=risk,
        principles=[
            PrincipleResult(id="autonomy", score=0.8712345678901234, violated=True, severity="high",
                            evidence=[Evidence(text="Ban all", start=0, end=7)], source="model"),
            PrincipleResult(id="harm", score=0.1, violated=False, severity="critical", source="rules"),
        ],
        explanation=Explanation(
            summary="Blocked: violates 'autonomy' — «Überwachung» [bold]not markup[/bold] 🚗",
            decisive=["autonomy"],
            precedents=[Precedent(context="c", action="a", verdict="unacceptable", principle="autonomy",
                                  similarity=0.93, source="charter:autonomy")],
            counterfactual="Without “Ban all” it would be allowed.",
        ),
        communities={"default": decision, "libertarian": "block"},  # type: ignore[dict-item]
        contested=decision != "block",
        judge_version="accord-default@rules-1+model-abc",
        errors=[],
        latency_ms=1.25,
    )


@pytest.fixture
def pair() -> Callable[..., tuple[Case, Verdict]]:
    """A factory of (case, verdict) pairs: ``pair("allow", action=..., community=...)``."""

    def make(decision: str = "block", *, action: str | ToolCall = "Ban all private cars", trace_id: str | None = None,
             risk: float = 0.87, **case_kw) -> tuple[Case, Verdict]:
        case = make_case(action, **case_kw)
        return case, make_verdict(decision, trace_id=trace_id, risk=risk, case_id=case.id)

    return make

