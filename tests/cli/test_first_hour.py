"""What a new user meets in the first hour: quiet output, clear errors, contracts that hold."""

from __future__ import annotations

import logging
import os
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
    env["ACCORD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'b.db'}"
    r = subprocess.run([*ACCORD, "--verbose", "check", "--action", "hello there"], capture_output=True, text=True,
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
