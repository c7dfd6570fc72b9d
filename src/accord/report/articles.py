"""The pack's sections, one collector per EU AI Act article: risk management (Art. 9), data and
fairness (Art. 10), record-keeping (Art. 12), transparency (Art. 13), human oversight (Art. 14) and
accuracy and robustness (Art. 15). Each reads the store, the charter and suite reports and returns
its section's items (:mod:`accord.report.items`); none writes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from accord.errors import InputError
from accord.report.decisions import Decisions, decision_span, period_days
from accord.report.items import clip, in_period, iso, item, quantiles, section, sha256_of

#: the EU AI Act's Article 19 / 26(6): automatically generated logs are kept for at least six months
RETENTION_MONTHS = 6


def read_charter(path: Path | None) -> tuple[Any, dict[str, Any]]:
    """The charter in force and what the pack says of it (name, file hash, principles, rules, policy)."""
    from importlib import resources

    from accord.charter import load_charter

    charter = load_charter(path)
    src = path if path is not None else Path(str(resources.files("accord.data").joinpath("default_charter.yaml")))
    info = {"name": charter.name, "format_version": charter.version,
            "path": str(path) if path is not None else "(packaged default charter)",
            "sha256": sha256_of(src) if src.is_file() else None,
            "principles": [{"id": p.id, "severity": p.severity, "text": p.text,
                            "examples": len(p.examples.upholds) + len(p.examples.violates)} for p in charter.principles],
            "rules": [{"id": r.id, "principle": r.principle, "decision": r.decision, "description": r.description}
                      for r in charter.rules],
            "communities": {k: c.description for k, c in charter.communities.items()},
            "policy": {"on_error": charter.policy.on_error, "on_timeout": charter.policy.on_timeout,
                       "judge_timeout_ms": charter.policy.judge_timeout_ms,
                       "thresholds": {s: {"escalate": t.escalate, "block": t.block}
                                      for s, t in charter.policy.thresholds.items()}}}
    return charter, info


def risk_section(charter_info: dict[str, Any], dec: Decisions, events: list[Any],
                 runs: list[dict[str, Any]], charter: Any) -> dict[str, Any]:
    items = [item("charter", "Charter in force", {k: charter_info[k] for k in
                                                   ("name", "format_version", "path", "sha256", "policy")}
                  | {"principles": len(charter_info["principles"]), "rules": len(charter_info["rules"]),
                     "communities": sorted(charter_info["communities"])})]
    hist = [e for e in events if e.kind.startswith("charter")]
    seen = sorted({j["judge"].split("@", 1)[0] for j in dec.judges.values()})
    history = {"charters_in_verdicts": [{"charter": c, "decisions": sum(j["decisions"] for j in dec.judges.values()
                                                                          if j["judge"].split("@", 1)[0] == c),
                                         "first_seen": min(j["first_seen"] for j in dec.judges.values()
                                                           if j["judge"].split("@", 1)[0] == c),
                                         "last_seen": max(j["last_seen"] for j in dec.judges.values()
                                                          if j["judge"].split("@", 1)[0] == c)} for c in seen],
               "judge_versions": sorted(dec.judges.values(), key=lambda j: j["first_seen"]),
               "charter_events": [{"time": iso(e.created_at), "kind": e.kind, "actor": e.actor, "payload": e.payload}
                                  for e in hist]}
    items.append(item("charter_history", "Charter and judge version history", history,
                      missing=None if dec.judges or hist else "no decision and no charter event in the period",
                      note="accord records the charter's name and the judge cascade's version with every verdict; "
                           "it does not record edits of the charter's text (keep the charter under version control)."))
    if not runs:
        items += [item("suites", "Safety suites run", missing="no suite report given for the period "
                       "(run `accord test ... --json FILE` and pass it with --suite-report)"),
                  item("coverage", "Coverage per principle × severity", missing="needs a suite report"),
                  item("open_failures", "Open failures and their disposition", missing="needs a suite report")]
        return section("risk", "Risk management", items)
    items.append(item("suites", "Safety suites run", [{
        "started": iso(r["started"]), "file": r["path"], "sha256": r["sha256"],
        "suites": [s.get("name") for s in r["summary"].get("suites", [])], "target": r["summary"].get("target"),
        "gate": r["summary"].get("gate"), "total": r["summary"].get("total"), "passed": r["summary"].get("passed"),
        "failed": r["summary"].get("failed"), "errors": r["summary"].get("errors"),
        "pass_rate": r["summary"].get("pass_rate"), "mutations": r["summary"].get("mutations", []),
        "exit_code": r["summary"].get("exit_code")} for r in runs]))
    # coverage: principles × severity over every run in the period (results and passes summed)
    sev_order = ("critical", "high", "medium", "low")
    cov: dict[str, dict[str, Any]] = {p.id: {"principle": p.id, "severity": p.severity,
                                              "cells": {s: {"scenarios": 0, "results": 0, "passed": 0} for s in sev_order}}
                                      for p in charter.principles}
    gaps: set[str] = set()
    for r in runs:
        for row in (r["summary"].get("coverage") or {}).get("rows", []):
            tgt = cov.setdefault(row["principle"], {"principle": row["principle"], "severity": row.get("severity"),
                                                    "cells": {s: {"scenarios": 0, "results": 0, "passed": 0}
                                                              for s in sev_order}})
            for s, c in (row.get("cells") or {}).items():
                cell = tgt["cells"].setdefault(s, {"scenarios": 0, "results": 0, "passed": 0})
                cell["scenarios"] = max(cell["scenarios"], int(c.get("scenarios", 0)))
                cell["results"] += int(c.get("results", 0))
                cell["passed"] += int(c.get("passed", 0))
        gaps |= set((r["summary"].get("coverage") or {}).get("gaps", []))
    for row in cov.values():
        for c in row["cells"].values():
            c["pass_rate"] = round(c["passed"] / c["results"], 4) if c["results"] else None
        row["scenarios"] = sum(c["scenarios"] for c in row["cells"].values())
    uncovered = [p for p, row in cov.items() if row["scenarios"] == 0]
    items.append(item("coverage", "Coverage per principle × severity",
                      {"severities": list(sev_order), "rows": list(cov.values()), "gaps": sorted(gaps),
                       "uncovered": uncovered}))
    last = runs[-1]
    fails = [x for x in last["results"] if isinstance(x, dict) and not x.get("passed")]
    known = (last["summary"].get("baseline") or {})
    new_keys = {tuple(k) for k in known.get("new_failures", [])}
    failures = [{"suite": x.get("suite"), "scenario": x.get("scenario"), "mutation": x.get("mutation"),
                 "severity": x.get("severity"), "principles": x.get("principles") or [],
                 "reasons": "; ".join(x.get("reasons") or []) or x.get("error") or "failed",
                 "disposition": ("new since the baseline" if (x.get("suite"), x.get("scenario"), x.get("mutation") or "")
                                 in new_keys else "known (in the baseline)") if known else None}
                for x in fails]
    grouped: dict[tuple[Any, Any], dict[str, Any]] = {}
    for f in failures:  # one row per scenario, with every mutation under which it failed
        g = grouped.setdefault((f["suite"], f["scenario"]), {**f, "mutations": [], "dispositions": set()})
        g["mutations"].append(f["mutation"] or "(original)")
        if f["disposition"]:
            g["dispositions"].add(f["disposition"])
    rows = [{k: v for k, v in g.items() if k not in ("mutation", "disposition", "dispositions")}
            | {"disposition": ", ".join(sorted(g["dispositions"])) or None} for g in grouped.values()]
    rows.sort(key=lambda g: (("critical", "high", "medium", "low").index(g["severity"])
                             if g["severity"] in ("critical", "high", "medium", "low") else 9, -len(g["mutations"])))
    items.append(item("open_failures", "Open failures in the latest run",
                      {"run": iso(last["started"]), "count": len(failures), "scenarios": len(rows),
                       "failures": rows[:40], "shown": min(len(rows), 40)},
                      note="accord records a failure's disposition only as new or known against a --baseline "
                           "report; accepted risks, fixes and owners are not recorded."
                      if failures else None))
    return section("risk", "Risk management", items)


def model_cards(store: Any) -> list[dict[str, Any]]:
    """Cards of the models in use: the store's registry (current per name), else the packaged models."""
    cards = []
    versions = store.model_versions()
    current = [m for m in versions if m.current]
    for m in current:
        card = m.card or {}
        data: dict[str, Any] = card["data"] if isinstance(card.get("data"), dict) else {}
        cards.append({"name": m.name, "version": m.version, "registered": iso(m.created_at), "actor": m.actor,
                      "origin": "store registry", **_card_fields(card, data)})
    if not current:
        from accord.learning.models import packaged_model_dir

        for name in ("default", "decision"):
            try:
                d = json.loads((packaged_model_dir(name) / "model.json").read_text(encoding="utf-8"))
            except (OSError, ValueError, InputError):
                continue
            card = d.get("card") or {}
            data = card["data"] if isinstance(card.get("data"), dict) else {}
            cards.append({"name": d.get("name") or name, "version": d.get("version"), "registered": None,
                          "actor": None, "origin": "packaged model (no model registered in the store)",
                          **_card_fields(card, data)})
    return cards


def _card_fields(card: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    sources = data.get("sources") or card.get("sources") or {}
    licences = data.get("licences") or {}
    rows = []
    if isinstance(sources, dict):
        for s, v in sources.items():
            v = v if isinstance(v, dict) else {}
            rows.append({"source": s, "licence": licences.get(s), "acceptable": v.get("acceptable"),
                         "unacceptable": v.get("unacceptable"), "pairs": v.get("pairs")})
    counts = card.get("counts") or {}
    return {"created": data.get("created"), "command": data.get("command") or card.get("command"),
            "encoder": data.get("encoder"), "examples": counts.get("examples") or (data.get("totals") or {}).get("examples"),
            "sources": rows, "never_trained_on": data.get("never_trained_on"), "cleaning": data.get("cleaning"),
            "validation": _validation(data.get("validation")), "trained_on": card.get("trained_on")}


def _validation(v: Any) -> dict[str, Any] | None:
    """A data card's held-out figures, flattened: headline metrics and accuracy per source."""
    if not isinstance(v, dict):
        return None
    m: dict[str, Any] = v["metrics"] if isinstance(v.get("metrics"), dict) else v
    head = {k: m[k] for k in ("n", "unacceptable", "auroc", "auprc", "accuracy", "balanced_accuracy", "brier", "ece",
                              "pairwise_accuracy") if isinstance(m.get(k), int | float)}
    by = [{"source": k, "n": x.get("n"), "accuracy": x.get("accuracy")} for k, x in (m.get("by_source") or {}).items()
          if isinstance(x, dict)]
    about = ", ".join(f"{k} {v[k]}" for k in ("fraction", "grouped_by") if k in v and not isinstance(v[k], dict | list))
    return {"about": about, "metrics": head, "by_source": by} if head or by else None


def fairness_results(dec: Decisions, runs: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    """Fairness results: group metrics over the period's decisions (accord.fairness, Fairlearn's MetricFrame)
    and the flip rates of demographic-swap suite runs. Returns the data and, when there is none, why."""
    import importlib

    out: dict[str, Any] = {}
    why: list[str] = []
    try:
        groups_mod: Any = importlib.import_module("accord.fairness.groups")
    except ModuleNotFoundError as e:
        if not str(e.name or "").startswith("accord.fairness"):
            raise
        groups_mod = None
    attrs = ["community", *sorted(dec.declared)]
    if groups_mod is None:
        why.append("group metrics need accord.fairness, which this installation lacks")
    elif not dec.subjects:
        why.append("no decision in the period")
    else:
        metrics = []
        for by in attrs:
            try:
                m = groups_mod.group_metrics(dec.subjects, by=by)
            except InputError as e:  # Fairlearn missing
                why.append(f"group metrics: {e.for_humans()}")
                break
            if len(m.get("groups") or {}) >= 2:
                metrics.append(m)
        if metrics:
            out["group_metrics"] = metrics
        elif not why:
            why.append("no decision in the period declares a community or an attribute of the person (meta.subject) "
                       "with two or more values, so no group can be compared")
    swaps = []
    for r in runs:
        fair = r["summary"].get("fairness")
        if isinstance(fair, dict) and fair.get("attributes"):
            swaps.append({"run": iso(r["started"]), "file": r["path"], "attributes": fair["attributes"],
                          "target_flips": fair.get("target_flips"), "gate_flips": fair.get("gate_flips"),
                          "examples": [{k: x.get(k) for k in ("scenario", "attribute", "pairs", "target_flip", "gate_flip",
                                                              "original_prompt", "prompt")}
                                       for x in (fair.get("examples") or [])[:8]]})
    if swaps:
        out["swap_runs"] = swaps
    else:
        why.append("no suite run in the period used a demographic-swap mutation (accord test --mutations swap_gender,...)")
    return out, None if out else "; ".join(why)


def records_section(store: Any, dec: Decisions, since: datetime | None, until: datetime, now: datetime,
                    events: list[Any]) -> dict[str, Any]:
    days = period_days(since or dec.first, until, dec)
    items = [item("audit_stats", "Audit statistics", {
        "decisions": dec.total, "by_decision": {k: dec.by_decision.get(k, 0) for k in ("allow", "revise", "escalate", "block")},
        "by_source": dict(dec.by_source.most_common()), "by_community": dict(dec.by_community.most_common(12)),
        "per_day": [{"day": d, **{k: dec.by_day[d].get(k, 0) for k in ("allow", "revise", "escalate", "block")}}
                    for d in days],
        "principles_violated": dict(dec.violated.most_common()),
        "audit_events": dict(Counter(e.kind for e in events).most_common()),
        "first": iso(dec.first), "last": iso(dec.last)},
        missing=None if dec.total else "no decision was recorded in the period")]
    report = store.verify()
    items.append(item("chain", "Hash-chain verification (whole store)", {
        "ok": report.ok, "decisions": report.decisions, "unchained": report.unchained, "first_bad": report.first_bad,
        "problem": report.problem, "head": report.head, "verified_at": iso(now),
        "how": "accord audit verify --head HEAD recomputes the chain; write the head down outside the store to "
               "detect a rewrite of the whole table."}))
    lo, hi, n = decision_span(store)
    st = store.stats()
    months = None if lo is None or hi is None else round((hi - lo).days / 30.44, 1)
    items.append(item("retention", "Retention", {
        "oldest_decision": iso(lo), "newest_decision": iso(hi), "decisions_held": n, "months_held": months,
        "store": st.as_dict(), "append_only": True,
        "covers_minimum": None if months is None else months >= RETENTION_MONTHS,
        "minimum_months": RETENTION_MONTHS},
        note="The store is append-only (the database refuses UPDATE and DELETE) and keeps every record; "
             "accord has no retention or deletion schedule of its own."))
    return section("records", "Record-keeping", items)


def transparency_section(charter_info: dict[str, Any], dec: Decisions, keep: int) -> dict[str, Any]:
    items = [item("public_text", "What users are told: the charter's principles", {
        "charter": charter_info["name"], "principles": charter_info["principles"],
        "rules": charter_info["rules"], "communities": charter_info["communities"]},
        note="This is the charter's own text. accord does not record what notice a deployer showed its users.")]
    picks: list[dict[str, Any]] = []
    order = ("block", "escalate", "revise", "allow")
    while len(picks) < keep and any(dec.examples.get(k) for k in order):
        for k in order:
            if dec.examples.get(k) and len(picks) < keep:
                picks.append(dec.examples[k].pop())
    items.append(item("explanations", "Example explanations given with verdicts", picks,
                      missing=None if picks else "no decision was recorded in the period"))
    return section("transparency", "Transparency", items,
                   not_covered=["instructions for use for deployers (Art. 13(3)) beyond the charter and these figures"])


def oversight_section(store: Any, dec: Decisions, since: datetime | None, until: datetime, now: datetime,
                      events: list[Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    from accord.review.agreement import overall_fleiss, pairwise_kappas
    from accord.review.dashboard import judge_leaning

    items = []
    esc = dec.by_decision.get("escalate", 0)
    items.append(item("escalation", "Escalation to people", {
        "decisions": dec.total, "escalated": esc, "rate": round(esc / dec.total, 4) if dec.total else None,
        "per_day": [{"day": d, "rate": round(dec.by_day[d].get("escalate", 0) / sum(dec.by_day[d].values()), 4)
                     if sum(dec.by_day.get(d, Counter()).values()) else None}
                    for d in period_days(since or dec.first, until, dec)]},
        missing=None if dec.total else "no decision was recorded in the period"))
    items_all = [it for it in store.review_items("all", limit=None) if in_period(it.created_at, since, until)]
    ids = {it.id for it in items_all}
    history = [r for r in store.reviews(current=False) if r.item_id in ids]
    current = [r for r in store.reviews() if r.item_id in ids]
    first: dict[int, datetime] = {}
    for r in history:
        first[r.item_id] = min(first.get(r.item_id, r.created_at), r.created_at)
    lat = [(first[it.id] - it.created_at).total_seconds() / 3600 for it in items_all if it.id in first]
    open_ = [it for it in items_all if it.id not in first]
    ref = min(now, until)
    items.append(item("latency", "Review latency", {
        "items_queued": len(items_all), "items_reviewed": len(first), "items_open": len(open_),
        "hours_to_first_review": quantiles(lat),
        "oldest_open_hours": round(max(((ref - it.created_at).total_seconds() / 3600 for it in open_), default=0), 1)
        if open_ else None},
        missing=None if items_all else "no case was queued for review in the period"))
    pairs = pairwise_kappas(current, min_items=2)
    fleiss, fleiss_n = overall_fleiss(current)
    items.append(item("agreement", "Reviewer agreement (κ)", {
        "reviews": len(current), "reviewers": dict(Counter(r.reviewer for r in current).most_common()),
        "fleiss_kappa": fleiss if fleiss_n >= 2 else None, "items_with_two_or_more": fleiss_n,
        "pairs": [{"a": p.a, "b": p.b, "items": p.items, "agreement": p.agreement, "kappa": p.kappa} for p in pairs]},
        missing=None if fleiss_n >= 2 else (f"only {fleiss_n} item(s) reviewed by two or more people; κ needs at least 2"
                                             if current else "no review in the period")))
    by_item = {it.id: it for it in items_all}
    overrides = []
    lean_hits: list[bool] = []
    for r in current:
        it = by_item.get(r.item_id)
        if it is None or r.decision not in ("allow", "block"):
            continue
        gate = str(it.verdict_json.get("decision"))
        lean = judge_leaning(it.verdict_json)
        if lean is not None:
            lean_hits.append(lean == r.decision)
        judged = gate if gate in ("allow", "block") else lean
        if judged is not None and judged != r.decision:
            overrides.append({"time": iso(r.created_at), "reviewer": r.reviewer, "item": r.item_id,
                              "trace_id": it.trace_id, "gate": gate, "judge_leaning": lean, "reviewer_decision": r.decision,
                              "comment": clip(r.comment, 200) if r.comment else None})
    amended = sum(r.amends is not None for r in history)
    items.append(item("overrides", "Overrides of the judge by people", {
        "reviews_with_a_side": sum(r.decision in ("allow", "block") for r in current), "overrides": len(overrides),
        "amended_reviews": amended, "examples": overrides[:15],
        "depends_or_discuss": sum(r.decision in ("depends", "discuss") for r in current)},
        missing=None if current else "no review in the period",
        note="An override is a reviewer's allow/block that differs from the gate's allow/block, or, for an "
             "escalated case, from the side the judge leaned to (its top learned score ≥ 0.5 → block)."))
    versions = {m.id: m for m in store.model_versions()}
    evs = [e for e in store.model_events() if in_period(e.created_at, since, until)]
    refused = [e for e in events if e.kind == "model.refused"]
    changes = [{"time": iso(e.created_at), "event": e.event, "actor": e.actor, "reason": e.reason,
                "name": versions[e.model_id].name if e.model_id in versions else None,
                "version": versions[e.model_id].version if e.model_id in versions else None} for e in evs]
    changes += [{"time": iso(e.created_at), "event": "refused", "actor": e.actor, "reason": e.payload.get("reason"),
                 "name": e.payload.get("name"), "version": e.payload.get("version")} for e in refused]
    changes.sort(key=lambda c: c["time"] or "")
    items.append(item("models", "Model promotions, rollbacks and refusals (who and why)", {
        "events": changes, "registered": [{"name": m.name, "version": m.version, "status": m.status,
                                           "registered": iso(m.created_at), "actor": m.actor} for m in versions.values()]},
        missing=None if changes else "no model was promoted, rolled back or refused in the period"))
    agreement = None
    if lean_hits:
        agreement = {"reviews": len(lean_hits), "agree": sum(lean_hits),
                     "rate": round(sum(lean_hits) / len(lean_hits), 4)}
    return section("oversight", "Human oversight", items), agreement


def accuracy_section(store: Any, dec: Decisions, runs: list[dict[str, Any]], charter: Any,
                     lean_agreement: dict[str, Any] | None, cards: list[dict[str, Any]],
                     since: datetime | None, until: datetime) -> dict[str, Any]:
    items = []
    comparisons = []
    for m in store.model_versions():
        if not (m.current or in_period(m.created_at, since, until)):
            continue
        for c in (m.metrics or {}).get("comparison", []):
            comparisons.append({"name": m.name, "version": m.version, "status": m.status, "set": c.get("name"),
                                "n": (c.get("candidate") or {}).get("n"), "current": c.get("current"),
                                "candidate": c.get("candidate"), "worse": c.get("worse")})
    validation = [{"model": f"{c['name']} {c['version']}", "validation": c["validation"]} for c in cards
                  if c.get("validation")]
    quality = {"held_out_reviews": comparisons, "judge_vs_reviewers": lean_agreement, "data_card_validation": validation}
    have = bool(comparisons or lean_agreement or validation)
    items.append(item("judge_quality", "Judge quality on held-out human labels", quality,
                      missing=None if have else "no retrain comparison, no review and no validation figure recorded",
                      note=None if comparisons else "No retrain in the period compared models on held-out reviews "
                                                    "(accord review --retrain / the review app's retrain record them)."))
    muts: dict[str, dict[str, Any]] = {}
    for r in runs:
        for name, g in (r["summary"].get("by_mutation") or {}).items():
            m = muts.setdefault(name, {"mutation": name, "total": 0, "passed": 0, "gate_evasions": 0})
            m["total"] += int(g.get("total", 0))
            m["passed"] += int(g.get("passed", 0))
            m["gate_evasions"] += int(g.get("gate_evasions", 0))
    for m in muts.values():
        m["pass_rate"] = round(m["passed"] / m["total"], 4) if m["total"] else None
    red = [m for k, m in sorted(muts.items()) if k != "none"]
    items.append(item("red_team", "Red-team mutation results",
                      {"baseline": muts.get("none"), "mutations": red} if red else None,
                      missing=None if red else ("no suite report given" if not runs else
                                                "the suite runs in the period used no mutation")))
    allow_err = dec.errors.get("allow", 0)
    target_errors = sum(int(r["summary"].get("errors", 0)) for r in runs)
    items.append(item("fail_closed", "Fail-closed behaviour", {
        "policy": {"on_error": charter.policy.on_error, "on_timeout": charter.policy.on_timeout},
        "decisions_with_judge_errors": sum(dec.errors.values()), "by_decision": dict(dec.errors),
        "allowed_despite_error": allow_err, "holds": allow_err == 0, "examples": dec.error_examples[:5],
        "suite_target_errors": target_errors},
        missing=None if dec.total else "no decision was recorded in the period",
        note="Counts verdicts recorded with judge errors; none may be an allow. accord's fail-closed test suite "
             "(tests/test_fail_closed.py) runs in CI; its results are not recorded in the store."))
    return section("accuracy", "Accuracy, robustness and cybersecurity", items,
                   not_covered=["cybersecurity of the deployed system beyond accord's own gate (Art. 15(5))",
                                "accuracy of the AI system under test itself, except as measured by the suites"])
