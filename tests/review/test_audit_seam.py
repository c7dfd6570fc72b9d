"""One audit seam: the CLI, the library and the proxy record the same batch identically.

The same cases go through ``accord check --input --db`` (the command line), a library gate with
``escalation_recorder`` and the proxy's ``/v1/check`` over real HTTP into three SQLite stores; the
audit rows and review items must be the same, apart from what names the route (source, trace id,
time, the proxy's actor and trace metadata). In particular every escalation gets its review item
with priority uncertainty × severity on every route (the proxy used to queue by risk).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from accord.gate.gate import Gate
from accord.review.audit import MemorySinks, StoreSinks, escalation_priority, recorder
from accord.review.priority import review_priority
from accord.review.queue import escalation_recorder
from accord.store import Store
from accord.types import Case

JUDGES = "rules,model"  # the chat fast path: learned scores, so priorities are not all 1.0


def _cases() -> list[dict[str, Any]]:
    text = resources.files("accord.data").joinpath("demo", "cases.jsonl").read_text(encoding="utf-8")
    return [{"context": r["context"], "action": r["action"]} for r in map(json.loads, text.splitlines()) if r]


def _rows(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Decisions (oldest first) and review items, without what names the route."""
    drop = {"trace_id", "latency_ms"}
    decisions = [(d.case_json["context"], d.case_json["action"], d.decision, d.risk, d.community, d.judge_version,
                  json.dumps({k: v for k, v in d.verdict_json.items() if k not in drop}, sort_keys=True))
                 for d in reversed(store.decisions(limit=None))]
    items = sorted((i.case_json["context"], i.case_json["action"], i.priority, i.community,
                    i.verdict_json["decision"]) for i in store.review_items(status="all", limit=None))
    return decisions, items


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate.from_charter(None, judges=JUDGES)


def test_cli_library_and_proxy_record_the_same_rows(gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from accord.cli.main import app as cli
    from accord.server.proxy import ProxyConfig, create_app
    from accord.server.proxy.testing import serve_in_thread

    monkeypatch.chdir(tmp_path)  # no .accord/accord.db here: every route uses the packaged model
    monkeypatch.delenv("ACCORD_DATABASE_URL", raising=False)
    monkeypatch.delenv("ACCORD_MODEL", raising=False)
    cases = _cases()
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))

    # the command line
    r = CliRunner().invoke(cli, ["check", "--input", str(path), "--db", f"sqlite:///{tmp_path / 'cli.db'}",
                                 "--judges", JUDGES, "--json"])
    assert r.exit_code in (0, 1), r.output
    # the library
    lib = Store.open(f"sqlite:///{tmp_path / 'lib.db'}")
    Gate(gate.charter, list(gate.cascade.stages), recorder=escalation_recorder(lib, "app")).check_many(
        [Case.model_validate(c) for c in cases])
    # the proxy, over HTTP
    prox = Store.open(f"sqlite:///{tmp_path / 'proxy.db'}")
    app = create_app(ProxyConfig(upstream="http://127.0.0.1:9/v1"), gate, sinks=StoreSinks(prox))
    with serve_in_thread(app) as url:
        for c in cases:
            resp = httpx.post(url + "/v1/check", json=c, timeout=30)
            assert resp.status_code == 200, resp.text
    assert app.state.writer.flush(10)
    app.state.writer.close()
    app.state.guard.close()

    with Store.open(f"sqlite:///{tmp_path / 'cli.db'}") as cli_store:
        want = _rows(cli_store)
        sources = {d.source for d in cli_store.decisions(limit=None)}
    decisions, items = want
    assert len(decisions) == len(cases) and sources == {"cli"}
    escalated = [d for d in decisions if d[2] == "escalate"]
    assert escalated and len(items) == len(escalated)  # every escalation queued, nothing else
    assert len({i[2] for i in items}) > 1  # priorities vary with the model's uncertainty
    assert _rows(lib) == want
    assert _rows(prox) == want
    lib.close()
    prox.close()


def test_priority_is_uncertainty_times_severity(gate: Gate) -> None:
    vs = gate.check_many([Case.model_validate(c) for c in _cases()], record=False)
    for v in vs:
        assert escalation_priority(v) == (review_priority(v) if v.decision == "escalate" else None)
    sinks = MemorySinks()
    rec = recorder(sinks, "t")
    for c, v in zip(_cases(), vs, strict=True):
        rec(Case.model_validate(c), v)
    assert len(sinks.decisions) == len(vs)
    assert [p for _, _, p in sinks.reviews] == [review_priority(v) for v in vs if v.decision == "escalate"]
    assert any(p != v.risk for _, v, p in sinks.reviews)  # not the risk, which the proxy once used


def test_a_failed_write_raises_out_of_the_gate(gate: Gate) -> None:
    class Broken(MemorySinks):
        def record(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("disk full")

    g = Gate(gate.charter, list(gate.cascade.stages), recorder=recorder(Broken(), "t"))
    with pytest.raises(RuntimeError, match="disk full"):
        g.check(action="hello")
