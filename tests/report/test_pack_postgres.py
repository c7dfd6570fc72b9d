"""The evidence pack from a PostgreSQL store: the same figures as from SQLite (marked ``postgres``)."""

from __future__ import annotations

import os
import uuid

import pytest

from accord.report import ReportInputs, build_report, write_pack
from accord.store import Store
from accord.types import Case, Explanation, PrincipleResult, Verdict

pytestmark = pytest.mark.postgres
PG_ENV = "ACCORD_TEST_POSTGRES_URL"


@pytest.fixture
def pg_url():
    from sqlalchemy import text

    from accord.store.migrate import make_engine, parse_url

    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"accord_report_{uuid.uuid4().hex[:12]}"
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield parse_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def _verdict(decision: str, risk: float, errors: list[str] | None = None) -> Verdict:
    return Verdict(trace_id=uuid.uuid4().hex, decision=decision, risk=risk,  # type: ignore[arg-type]
                   principles=[PrincipleResult(id="harm", score=risk, violated=decision == "block", severity="critical",
                                               source="model")],
                   explanation=Explanation(summary=f"{decision} because of the score"), judge_version="accord-default@rules-1",
                   errors=errors or [])


def test_pack_from_postgres(pg_url, tmp_path):
    with Store.open(pg_url) as store:
        rows = [("allow", 0.05, None), ("block", 0.97, None), ("escalate", 0.5, None), ("escalate", 0.6, ["judge 'x' failed: timeout"])]
        for i, (d, r, e) in enumerate(rows):
            store.record_decision(Case(context=f"case {i}", action="do it", meta={"subject": {"gender": "female" if i % 2 else "male"}}),
                                  _verdict(d, r, e), "proxy", review=d == "escalate")
        for it in store.review_items("all", limit=None):
            store.add_review(it.id, "ana", "block")
            store.add_review(it.id, "ben", "block")
        rep = build_report(store, ReportInputs())
        pack = write_pack(rep, tmp_path / "pack", pdf=False)
    items = {i["id"]: i for s in rep["sections"] for i in s["items"]}
    assert items["audit_stats"]["data"]["by_decision"] == {"allow": 1, "revise": 0, "escalate": 2, "block": 1}
    assert items["chain"]["data"]["ok"] is True and items["chain"]["data"]["decisions"] == 4
    assert items["fail_closed"]["data"]["by_decision"] == {"escalate": 1}
    assert items["latency"]["data"]["items_reviewed"] == 2
    assert items["agreement"]["data"]["pairs"][0]["agreement"] == 1.0
    assert items["retention"]["data"]["decisions_held"] == 4
    assert pack.html.is_file() and pack.pdf is None
    # as in tests/report/test_pack.py: a checkout with only accord[dev] (the README's install) has no Fairlearn
    pytest.importorskip("fairlearn", reason="group metrics need the accord[fairness] extra (pip install 'accord[fairness]')")
    gm = items["fairness"]["data"]["group_metrics"][0]
    assert gm["by"] == "gender" and gm["groups"]["male"]["n"] == 2
