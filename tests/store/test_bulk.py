"""Bulk writes (Store.record_decisions_bulk): COPY on PostgreSQL, one executemany per page on SQLite;
the decisions chain exactly as one-by-one writes do, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from accord.store import Store
from accord.store.chain import chain_hash, chain_parts


def _pairs(pair, n: int, start: int = 0) -> list:
    out = []
    for i in range(start, start + n):
        action = f"act {i} «Überwachung» 🚗" + ("\x00 nul" if i % 7 == 0 else "") + (" \\u0000 literal" if i % 11 == 0 else "")
        out.append(pair(["allow", "block", "escalate", "revise"][i % 4], action=action, id=f"c{i}",
                        community=None if i % 3 else "cautious", trace_id=uuid.uuid4().hex, risk=(i % 100) / 100))
    return out


def test_canonical_pieces_hash_as_chain_hash():
    row = {"trace_id": "t", "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "decision": "block",
           "risk": 0.8712345678901234, "community": None, "judge_version": "j", "case_id": "c\u2028", "source": "s",
           "case_json": {"b": [1, {"z": "ü", "a": None}], "a": "\ud83d\ude97 🚗"},
           "verdict_json": {"principles": [{"score": 1e-9, "id": "x"}], "decision": "block"}}
    digest, case_text, verdict_text = chain_parts("prev", row)
    assert digest == chain_hash("prev", row)
    import json

    assert json.loads(case_text) == row["case_json"] and json.loads(verdict_text) == row["verdict_json"]


def test_bulk_writes_chain_and_read_back(store: Store, pair):
    store.record_decision(*pair("allow", trace_id="first"))
    pairs = _pairs(pair, 1234)
    assert store.record_decisions_bulk(pairs, "batch", page=500) == 1234  # three pages
    store.record_decision(*pair("block", trace_id="after"))  # the one-by-one path extends the bulk chain
    store.record_decisions(_pairs(pair, 10, start=5000), "gate")
    report = store.verify()
    assert report.ok, report
    assert report.decisions == 1 + 1234 + 1 + 10 and report.unchained == 0
    rows = store.decisions(limit=None, source="batch")[::-1]
    assert [r.trace_id for r in rows] == [v.trace_id for _, v in pairs]
    for r, (c, v) in zip(rows, pairs, strict=True):
        assert r.decision == v.decision and r.risk == v.risk and r.community == c.community
        assert r.verdict_json == v.model_dump(mode="json")
        if "\x00" in c.action_text and store.engine.dialect.name == "postgresql":
            assert "\x00" not in r.case_json["action"] and "\ufffd nul" in r.case_json["action"]
        else:
            assert r.case_json == c.model_dump(mode="json")
    assert store.existing_trace_ids([pairs[0][1].trace_id, "nope", "after"]) == {pairs[0][1].trace_id, "after"}
    assert store.record_decisions_bulk([], "batch") == 0


def test_bulk_page_is_all_or_nothing(store: Store, pair):
    pairs = _pairs(pair, 30)
    store.record_decisions_bulk(pairs[:10], "batch")
    from accord.errors import StoreError

    with pytest.raises(StoreError):  # the second page repeats a trace id: refused whole
        store.record_decisions_bulk(pairs[10:20] + pairs[:1] + pairs[20:], "batch", page=11)
    n = store.stats().decisions_total
    assert n == 10 + 0  # the first page of 11 held the duplicate
    assert store.verify().ok
    with pytest.raises(Exception, match="page must be at least 1"):
        store.record_decisions_bulk(pairs, page=0)


def test_iter_decisions_pages_filters_and_snapshot(store: Store, pair):
    store.record_decisions_bulk(_pairs(pair, 25), "gate")
    store.record_decisions_bulk(_pairs(pair, 5, start=100), "reaudit:x")
    got = list(store.iter_decisions(batch=7))
    assert [r.id for r in got] == sorted(r.id for r in got) and len(got) == 30
    assert len(list(store.iter_decisions(exclude_source_prefix="reaudit:", batch=4))) == 25
    assert len(list(store.iter_decisions(source="reaudit:x"))) == 5
    top = got[19].id
    assert [r.id for r in store.iter_decisions(max_id=top, batch=6)] == [r.id for r in got[:20]]
    assert all(r.decision == "block" for r in store.iter_decisions(decision="block"))
    assert store.last_decision_id() == got[-1].id
    assert list(store.iter_decisions(since=datetime(2999, 1, 1, tzinfo=UTC))) == []


@pytest.mark.postgres
def test_scale_indexes_exist_on_postgresql(pg_url):
    with Store.open(pg_url) as store, store.engine.connect() as c:
        names = set(c.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'decisions'")).scalars())
    assert {"ix_decisions_created_at_decision_community", "ix_decisions_community_created_at",
            "ix_decisions_decision_id", "ix_decisions_source_id", "ix_decisions_principles"} <= names
    assert "ix_decisions_decision" not in names
