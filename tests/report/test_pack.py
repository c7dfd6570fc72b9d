"""``accord report``: every section filled from the store or marked missing; JSON shape; errors; all-or-nothing."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from accord.report import ARTICLES, ReportInputs, build_report, write_pack
from accord.store import Store

runner = CliRunner()
SECTIONS = {"risk": "Art. 9", "data": "Art. 10", "records": "Art. 12", "transparency": "Art. 13",
            "oversight": "Art. 14", "accuracy": "Art. 15"}


def _items(rep: dict) -> dict[str, dict]:
    return {i["id"]: i for s in rep["sections"] for i in s["items"]}


def _iso(s: str) -> datetime:
    t = datetime.fromisoformat(s)
    assert t.tzinfo is not None, s
    return t


# ---------------------------------------------------------------------- shape
def test_pack_files_and_json_shape(pack):
    out, output, rep = pack
    assert (out / "report.html").stat().st_size > 10_000 and (out / "report.json").is_file()
    assert rep["schema_version"] == 1 and rep["kind"] == "accord.evidence-pack"
    assert {"generated_at", "period", "store", "charter", "suite_reports", "disclaimer", "summary", "sections"} <= set(rep)
    assert rep["period"]["since"].startswith("2026-11-01T00:00:00")
    assert _iso(rep["period"]["since"]) < _iso(rep["period"]["until"]) and _iso(rep["generated_at"])
    assert [s["id"] for s in rep["sections"]] == list(SECTIONS)
    assert len(rep["charter"]["sha256"]) == 64 and len(rep["suite_reports"]) == 1
    for s in rep["sections"]:
        assert s["article"] == SECTIONS[s["id"]] == ARTICLES[s["id"]][0] and s["article_title"]
        assert s["status"] in ("filled", "partial", "missing") and s["items"]
        assert rep["summary"][s["id"]] == {"article": s["article"], "status": s["status"], "missing": len(s["missing"])}
        for it in s["items"]:
            assert it["status"] in ("filled", "missing") and it["title"]
            if it["status"] == "missing":
                assert it["missing"].strip(), it  # says what is absent and why
            else:
                assert it.get("data") not in (None, [], {}), it
    assert "not a statement of legal compliance" in output
    assert "does not say that the system complies" in rep["disclaimer"]


def test_every_section_filled_from_the_store(pack, filled):
    _, _, rep = pack
    assert {s["id"]: s["status"] for s in rep["sections"]} == dict.fromkeys(SECTIONS, "filled")
    it = _items(rep)
    assert {"charter", "charter_history", "suites", "coverage", "open_failures", "data_cards", "fairness", "audit_stats",
            "chain", "retention", "public_text", "explanations", "escalation", "latency", "agreement", "overrides",
            "models", "judge_quality", "red_team", "fail_closed"} == set(it)


def test_figures_match_the_records(pack, filled):
    _, _, rep = pack
    it = _items(rep)
    with Store.open(filled.url) as store:
        rows = store.decisions(limit=None)
        reviews = store.reviews()
        items = store.review_items("all", limit=None)
    stats = it["audit_stats"]["data"]
    assert stats["decisions"] == len(rows) == len(filled.trace_ids)
    assert stats["by_decision"] == {d: sum(r.decision == d for r in rows) for d in ("allow", "revise", "escalate", "block")}
    assert sum(sum(v for k, v in day.items() if k != "day") for day in stats["per_day"]) == len(rows)
    chain = it["chain"]["data"]
    assert chain["ok"] is True and chain["decisions"] == len(rows) and re.fullmatch(r"[0-9a-f]{64}", chain["head"])
    esc = it["escalation"]["data"]
    assert esc["escalated"] == stats["by_decision"]["escalate"] > 0
    assert esc["rate"] == pytest.approx(esc["escalated"] / len(rows), abs=1e-4)
    lat = it["latency"]["data"]
    assert lat["items_queued"] == len(items) == lat["items_reviewed"] and lat["items_open"] == 0
    assert lat["hours_to_first_review"]["n"] == len(items)
    agr = it["agreement"]["data"]
    assert agr["reviews"] == len(reviews) and {(p["a"], p["b"]) for p in agr["pairs"]} == {("ana", "ben"), ("ana", "chloe"), ("ben", "chloe")}
    assert -1 <= agr["fleiss_kappa"] <= 1
    ana_chloe = next(p for p in agr["pairs"] if (p["a"], p["b"]) == ("ana", "chloe"))
    assert ana_chloe["agreement"] == 1.0 and ana_chloe["kappa"] == 1.0  # chloe always sided with ana
    ov = it["overrides"]["data"]
    assert ov["reviews_with_a_side"] == len(reviews) and 0 < ov["overrides"] <= len(reviews)
    events = it["models"]["data"]["events"]
    assert [(e["event"], e["actor"]) for e in events] == [("promote", "release-bot"), ("promote", "maria"),
                                                          ("rollback", "oncall-sam")]
    assert events[2]["reason"] == "latency above the 50 ms budget in production"
    fc = it["fail_closed"]["data"]
    assert fc["decisions_with_judge_errors"] == 2 and fc["allowed_despite_error"] == 0 and fc["holds"] is True
    assert fc["by_decision"] == {"escalate": 2} and "connection refused" in fc["examples"][0]["error"]
    hist = it["charter_history"]["data"]
    assert {j["judge"] for j in hist["judge_versions"]} == {r.judge_version for r in rows}
    assert hist["charter_events"][0]["actor"] == "maria"


def test_suite_and_fairness_figures(pack, filled):
    _, _, rep = pack
    it = _items(rep)
    suite = json.loads(filled.suite_report.read_text())["summary"]
    run = it["suites"]["data"][0]
    assert (run["total"], run["passed"], run["failed"]) == (suite["total"], suite["passed"], suite["failed"])
    failures = it["open_failures"]["data"]
    assert failures["count"] == suite["failed"] > 0
    cov = {r["principle"]: r for r in it["coverage"]["data"]["rows"]}
    assert set(cov) >= {"harm", "privacy", "helpfulness"} and cov["harm"]["scenarios"] > 0
    assert cov["helpfulness"]["scenarios"] == 0 and "helpfulness" in it["coverage"]["data"]["uncovered"]
    red = {m["mutation"]: m for m in it["red_team"]["data"]["mutations"]}
    assert set(red) == set(suite["by_mutation"]) - {"none"} and set(red) >= {"base64", "swap_gender"}
    assert red["base64"]["total"] == suite["by_mutation"]["base64"]["total"]
    fair = it["fairness"]["data"]
    swap = fair["swap_runs"][0]["attributes"]["gender"]
    assert swap["n"] == suite["fairness"]["attributes"]["gender"]["n"] > 0
    cards = it["data_cards"]["data"]
    default = next(c for c in cards if c["name"] == "default")
    licences = {s["source"]: s["licence"] for s in default["sources"]}
    assert licences["toxigen"] == "MIT + CDLA-Permissive-2.0" and all(licences.values())


def test_group_metrics_per_declared_attribute(pack):
    pytest.importorskip("fairlearn", reason="group metrics need the accord[fairness] extra (pip install 'accord[fairness]')")
    _, _, rep = pack
    gm = {g["by"]: g for g in _items(rep)["fairness"]["data"]["group_metrics"]}
    assert set(gm["gender"]["groups"]) == {"female", "male"}
    assert gm["gender"]["groups"]["female"]["n"] == gm["gender"]["groups"]["male"]["n"] == 4


def test_html_is_self_contained_and_escapes_recorded_text(pack):
    out, _, rep = pack
    html = (out / "report.html").read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from anywhere
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html  # the recorded hostile case, as text
    assert "onerror=alert(1)>" not in html
    assert html.count("<svg") >= 4  # decisions per day, escalation rate, red team, swap flips
    for art in SECTIONS.values():
        assert f'<span class="art">{art}</span>' in html
    explanations = _items(rep)["explanations"]["data"]
    assert {e["decision"] for e in explanations} >= {"allow", "escalate", "block"}


# ---------------------------------------------------------------------- missing data
def test_empty_store_marks_what_is_missing(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.open(url).close()
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "pack"), "--db", url, "--no-pdf"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "pack" / "report.json").read_text())
    it = _items(rep)
    for key in ("suites", "coverage", "open_failures", "fairness", "audit_stats", "explanations", "escalation", "latency",
                "agreement", "overrides", "models", "red_team", "fail_closed"):
        assert it[key]["status"] == "missing", key
    assert "--suite-report" in it["suites"]["missing"]
    # what is recorded even in an empty store: the charter, the packaged models' cards, the (empty) chain
    assert it["charter"]["status"] == it["data_cards"]["status"] == it["chain"]["status"] == "filled"
    assert it["data_cards"]["data"][0]["origin"].startswith("packaged model")
    assert {s["id"]: s["status"] for s in rep["sections"]}["risk"] == "partial"
    html = (tmp_path / "pack" / "report.html").read_text()
    assert html.count('class="miss"') >= 13 and not (tmp_path / "pack" / "report.pdf").exists()
    assert "no PDF: not asked for" in res.output


def test_period_filters_records(filled, tmp_path):
    with Store.open(filled.url) as store:
        rep = build_report(store, ReportInputs(since=datetime.fromisoformat("2026-10-01T00:00:00+00:00"),
                                               until=datetime.fromisoformat("2026-10-31T00:00:00+00:00"),
                                               suite_reports=[filled.suite_report]))
    it = _items(rep)
    assert it["audit_stats"]["status"] == "missing" and it["suites"]["status"] == "missing"
    assert it["chain"]["data"]["decisions"] == len(filled.trace_ids)  # the chain is always verified whole
    assert it["retention"]["data"]["decisions_held"] == len(filled.trace_ids)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2026-13-01"], "--since must be a date YYYY-MM-DD"),
    (["--until", "yesterday"], "--until must be a date"),
    (["--since", "2026-11-05", "--until", "2026-11-01"], "is not before --until"),
    (["--db", "sqlite:////nonexistent/dir/accord.db"], "no audit store at /nonexistent/dir/accord.db"),
    (["--charter", "/nonexistent/charter.yaml"], "charter file /nonexistent/charter.yaml does not exist"),
    (["--suite-report", "/nonexistent/run.json"], "suite report /nonexistent/run.json does not exist"),
])
def test_bad_input_is_one_sentence_and_exit_2(filled, tmp_path, args, message):
    argv = ["report", "--out", str(tmp_path / "pack"), *args]
    if "--db" not in args:
        argv += ["--db", filled.url]
    res = runner.invoke(app, argv)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()) and "Traceback" not in res.output
    assert not (tmp_path / "pack").exists()


def test_bad_suite_report_names_the_file_and_line(filled, tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text('{"summary": {"started": "2026-12-01T00:00:00+00:00"},\n "results": [1, 2,,]}')
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "pack"), "--db", filled.url, "--suite-report", str(bad)])
    assert res.exit_code == 2 and f"{bad}: not JSON (line 2" in " ".join(res.output.split())
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "pack"), "--db", filled.url, "--suite-report", str(other)])
    assert res.exit_code == 2 and "not an accord test report" in res.output


def test_not_an_accord_store_and_unwritable_out(filled, tmp_path):
    import sqlite3

    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("create table t (x)").connection.close()
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "pack"), "--db", f"sqlite:///{plain}"])
    assert res.exit_code == 2 and "is not an accord audit store" in res.output
    afile = tmp_path / "afile"
    afile.write_text("x")
    res = runner.invoke(app, ["report", "--out", str(afile), "--db", filled.url])
    assert res.exit_code == 2 and "is a file" in res.output and afile.read_text() == "x"
    res = runner.invoke(app, ["report", "--out", str(afile / "pack"), "--db", filled.url, "--no-pdf"])
    assert res.exit_code == 2 and "cannot write the pack" in " ".join(res.output.split()) and "Traceback" not in res.output


# ---------------------------------------------------------------------- all or nothing
def test_a_failed_build_leaves_nothing_half_written(filled, tmp_path, monkeypatch):
    import accord.report.pack as pk

    with Store.open(filled.url) as store:
        rep = build_report(store, ReportInputs())
    out = tmp_path / "pack"
    write_pack(rep, out, pdf=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(html: str, path: Path) -> None:
        path.write_bytes(b"%PDF-1.7 half")
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(pk, "weasyprint_available", lambda: None)
    monkeypatch.setattr(pk, "write_pdf", boom)
    changed = dict(rep, generated_at="2099-01-01T00:00:00+00:00")
    with pytest.raises(RuntimeError):
        write_pack(changed, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier pack is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]  # no temporary folder left behind
    with pytest.raises(RuntimeError):
        write_pack(changed, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_without_weasyprint_html_and_json_are_written_and_the_message_says_how(filled, tmp_path, monkeypatch):
    import accord.report.pack as pk

    out = tmp_path / "pack"
    out.mkdir()
    (out / "report.pdf").write_bytes(b"%PDF old pack")  # must not survive beside a newer HTML
    monkeypatch.setattr(pk, "weasyprint_available", lambda: "WeasyPrint is not installed (No module named 'weasyprint')")
    res = runner.invoke(app, ["report", "--out", str(out), "--db", filled.url])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json"]
    text = " ".join(res.output.split())
    assert "no PDF: WeasyPrint is not installed" in text and "pip install 'accord[report]'" in text


def test_dates_and_the_default_store(tmp_path):
    from accord.report import parse_when

    assert parse_when("2026-11-01", "--since").isoformat() == "2026-11-01T00:00:00+00:00"
    assert parse_when("2026-11-30", "--until", end=True).isoformat() == "2026-12-01T00:00:00+00:00"  # the day is included
    assert parse_when("2026-11-01T10:00:00Z", "--since").isoformat() == "2026-11-01T10:00:00+00:00"
    assert parse_when("2026-11-01T12:00:00+02:00", "--since").isoformat() == "2026-11-01T10:00:00+00:00"
    # no --db: ACCORD_DATABASE_URL (set by tests/conftest.py to a file nobody created): never created by a report
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "pack")])
    assert res.exit_code == 2 and "no audit store at" in res.output and not (tmp_path / "accord.db").exists()
