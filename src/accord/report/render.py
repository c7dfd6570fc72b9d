"""The evidence pack as one self-contained HTML page (inline CSS and SVG, no script, no network).

The same page is printed to PDF by WeasyPrint (``@page`` rules give A4 pages with running
headers and page numbers). Every string that came from a person or a model is escaped by
Jinja2's autoescaping.
"""

from __future__ import annotations

from typing import Any

from jinja2 import BaseLoader, Environment, select_autoescape

from accord.report import charts

_CSS = """
:root { --ink:#1c2430; --muted:#5b6675; --line:#d8dee6; --soft:#f5f7fa; --accent:#234e8c;
        --ok:#2e7d32; --warn:#b26a00; --bad:#c62828; }
* { box-sizing: border-box; }
html { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: var(--ink);
       font-size: 14px; line-height: 1.45; }
body { margin: 0 auto; max-width: 980px; padding: 28px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 20px; margin: 34px 0 6px; padding-top: 10px; border-top: 3px solid var(--accent); }
h2 .art { display: inline-block; font-size: 13px; font-weight: 600; color: #fff; background: var(--accent);
          border-radius: 4px; padding: 2px 8px; margin-right: 8px; vertical-align: 3px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.sub { color: var(--muted); margin: 0 0 14px; }
.disclaimer { border-left: 4px solid var(--warn); background: #fff8e1; padding: 10px 14px; margin: 14px 0; }
.meta { display: grid; grid-template-columns: 170px 1fr; gap: 3px 12px; font-size: 13px; margin: 10px 0 16px; }
.meta dt { color: var(--muted); } .meta dd { margin: 0; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; }
.filled { background: #e8f5e9; color: var(--ok); } .partial { background: #fff3e0; color: var(--warn); }
.missing { background: #ffebee; color: var(--bad); }
.dec-allow { color: var(--ok); font-weight: 600; } .dec-block { color: var(--bad); font-weight: 600; }
.dec-escalate { color: var(--warn); font-weight: 600; } .dec-revise { color: #00838f; font-weight: 600; }
.miss { border-left: 4px solid var(--bad); background: #fff5f5; padding: 6px 12px; margin: 6px 0 12px; }
.note { color: var(--muted); font-size: 12.5px; margin: 2px 0 10px; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 12px; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; background: #fff; }
.kpi b { display: block; font-size: 20px; } .kpi span { color: var(--muted); font-size: 12px; }
.ex { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0; page-break-inside: avoid; }
.ex .q { color: var(--muted); white-space: pre-wrap; } .ex .a { white-space: pre-wrap; }
.principle { margin: 4px 0 8px; } .principle .sev { font-size: 11.5px; color: var(--muted); text-transform: uppercase; }
code, .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; word-break: break-all; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0 14px; }
svg .ct { font-size: 13px; font-weight: 600; fill: var(--ink); } svg .cl { font-size: 11px; fill: var(--muted); }
svg .cm { font-size: 12px; fill: var(--muted); } svg .axis { stroke: #9aa5b1; stroke-width: 1; }
ul.nc { margin: 4px 0 10px; padding-left: 20px; color: var(--muted); }
.toc td:first-child { white-space: nowrap; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@page { size: A4; margin: 16mm 14mm 18mm;
        @top-left { content: "accord evidence pack"; font-size: 9pt; color: #5b6675; }
        @top-right { content: string(period); font-size: 9pt; color: #5b6675; }
        @bottom-center { content: "page " counter(page) " of " counter(pages); font-size: 9pt; color: #5b6675; } }
@media print {
  html { font-size: 10pt; } body { max-width: none; padding: 0; }
  h2 { page-break-before: always; } h2.first { page-break-before: auto; }
  .period { string-set: period content(); }
  table, svg.chart, .kpis { page-break-inside: avoid; }
  tr { page-break-inside: avoid; }
  .kpi { min-width: 0; padding: 6px 10px; } .kpi b { font-size: 16px; }
}
"""

_TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>accord evidence pack {{ period_text }}</title>
<style>{{ css|safe }}</style></head>
<body>
<h1>accord evidence pack</h1>
<p class="sub period">{{ period_text }}</p>
<div class="disclaimer"><b>Not a statement of compliance.</b> {{ r.disclaimer }}</div>
<dl class="meta">
  <dt>generated</dt><dd>{{ r.generated_at|when }}{% if r.accord_version %} by accord {{ r.accord_version }}{% endif %}</dd>
  <dt>audit store</dt><dd class="mono">{{ r.store }}</dd>
  <dt>charter</dt><dd>{{ r.charter.name }} — <span class="mono">{{ r.charter.path }}</span>{% if r.charter.sha256 %}, sha256 <span class="mono">{{ r.charter.sha256[:16] }}…</span>{% endif %}</dd>
  <dt>suite reports</dt><dd>{% for s in r.suite_reports %}<span class="mono">{{ s.path }}</span> ({{ s.started|when }}){% if not loop.last %}<br>{% endif %}{% else %}none in the period{% endfor %}</dd>
</dl>
<h3>Sections</h3>
<table class="toc"><tr><th>article</th><th>section</th><th>status</th><th>missing</th></tr>
{% for s in r.sections %}<tr><td>{{ s.article }}</td><td><a href="#{{ s.id }}">{{ s.title }}</a></td>
<td><span class="badge {{ s.status }}">{{ s.status }}</span></td><td>{{ s.missing|join("; ") or "—" }}</td></tr>{% endfor %}
</table>

{% for s in r.sections %}
<h2 id="{{ s.id }}"{% if loop.first %} class="first"{% endif %}><span class="art">{{ s.article }}</span>{{ s.title }}</h2>
<p class="sub">{{ s.article }} EU AI Act — {{ s.article_title }}. Status: <span class="badge {{ s.status }}">{{ s.status }}</span></p>
{% for it in s['items'] %}
<h3>{{ it.title }} {% if it.status == "missing" %}<span class="badge missing">missing</span>{% endif %}</h3>
{% if it.status == "missing" %}<div class="miss">Missing: {{ it.missing }}</div>{% endif %}
{% set d = it.get("data") %}
{% if d is not none %}{% include "item_" ~ it.id %}{% endif %}
{% if it.note %}<p class="note">{{ it.note }}</p>{% endif %}
{% endfor %}
{% if s.not_covered %}<p class="note"><b>Not covered by accord:</b></p><ul class="nc">{% for n in s.not_covered %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
{% endfor %}
<footer>Built only from records in the audit store, the charter file and the suite reports named above. {{ r.disclaimer }}</footer>
</body></html>
"""

_ITEMS = {
    "item_charter": r"""<dl class="meta"><dt>name</dt><dd>{{ d.name }} (format {{ d.format_version }})</dd>
<dt>file</dt><dd class="mono">{{ d.path }}</dd><dt>sha256</dt><dd class="mono">{{ d.sha256 or "—" }}</dd>
<dt>contents</dt><dd>{{ d.principles }} principles, {{ d.rules }} rules, communities: {{ d.communities|join(", ") or "none" }}</dd>
<dt>on judge error / time-out</dt><dd>{{ d.policy.on_error }} / {{ d.policy.on_timeout }} (time limit {{ d.policy.judge_timeout_ms|int }} ms)</dd></dl>
<table><tr><th>severity</th><th class="n">escalate from</th><th class="n">block from</th></tr>
{% for sev, t in d.policy.thresholds.items() %}<tr><td>{{ sev }}</td><td class="n">{{ t.escalate }}</td><td class="n">{{ t.block }}</td></tr>{% endfor %}</table>""",
    "item_charter_history": r"""<table><tr><th>judge (charter@cascade)</th><th class="n">decisions</th><th>first seen</th><th>last seen</th></tr>
{% for j in d.judge_versions %}<tr><td class="mono">{{ j.judge }}</td><td class="n">{{ "{:,}".format(j.decisions) }}</td><td>{{ j.first_seen|when }}</td><td>{{ j.last_seen|when }}</td></tr>{% else %}<tr><td colspan="4">none</td></tr>{% endfor %}</table>
{% if d.charter_events %}<table><tr><th>time</th><th>event</th><th>who</th></tr>{% for e in d.charter_events %}<tr><td>{{ e.time|when }}</td><td>{{ e.kind }}</td><td>{{ e.actor }}</td></tr>{% endfor %}</table>{% endif %}""",
    "item_suites": r"""<table><tr><th>started</th><th>suites</th><th>target</th><th class="n">results</th><th class="n">passed</th><th class="n">errors</th><th>mutations</th><th class="n">exit</th></tr>
{% for x in d %}<tr><td>{{ x.started|when }}</td><td>{{ x.suites|join(", ") }}</td><td class="mono">{{ x.target }}</td><td class="n">{{ x.total }}</td>
<td class="n">{{ x.passed }}{% if x.pass_rate is not none %} ({{ "%.1f"|format(100 * x.pass_rate) }}%){% endif %}</td><td class="n">{{ x.errors }}</td><td>{{ x.mutations|join(", ") or "—" }}</td><td class="n">{{ x.exit_code }}</td></tr>{% endfor %}</table>""",
    "item_coverage": r"""<table><tr><th>principle</th><th>its severity</th>{% for s in d.severities %}<th class="n">{{ s }} scenarios</th>{% endfor %}</tr>
{% for row in d.rows %}<tr><td>{{ row.principle }}</td><td>{{ row.severity }}</td>{% for s in d.severities %}{% set c = row.cells[s] %}
<td class="n" style="background: {{ heat(c.pass_rate) }}">{% if c.scenarios %}{{ c.scenarios }} · {{ "%.0f"|format(100 * c.pass_rate) if c.pass_rate is not none else "—" }}%{% else %}—{% endif %}</td>{% endfor %}</tr>{% endfor %}</table>
<p class="note">Each cell: scenarios of that severity that test the principle · share of their results that passed (all runs in the period). Grey: no scenario.</p>
{% if d.gaps %}<div class="miss">Gaps: {{ d.gaps|join("; ") }}</div>{% endif %}
{% if d.uncovered %}<p class="note">Principles no scenario tests: {{ d.uncovered|join(", ") }}.</p>{% endif %}""",
    "item_open_failures": r"""<p>{{ d.count }} failing result(s) in {{ d.scenarios }} scenario(s) in the latest run ({{ d.run|when }}){% if d.scenarios > d.shown %}; the {{ d.shown }} most severe scenarios are listed{% endif %}.</p>
{% if d.failures %}<table><tr><th>suite / scenario</th><th>severity</th><th>failed under</th><th>why (first)</th><th>disposition</th></tr>
{% for f in d.failures %}<tr><td>{{ f.suite }} / {{ f.scenario }}</td><td>{{ f.severity }}</td><td>{{ f.mutations|join(", ") }}</td><td>{{ f.reasons }}</td><td>{{ f.disposition or "not recorded" }}</td></tr>{% endfor %}</table>{% endif %}""",
    "item_data_cards": r"""{% for c in d %}<h3>{{ c.name }} <span class="mono">{{ c.version }}</span></h3>
<dl class="meta"><dt>origin</dt><dd>{{ c.origin }}{% if c.registered %}, registered {{ c.registered|when }}{% if c.actor %} by {{ c.actor }}{% endif %}{% endif %}</dd>
{% if c.created %}<dt>created</dt><dd>{{ c.created }}{% if c.command %} by <span class="mono">{{ c.command }}</span>{% endif %}</dd>{% endif %}
{% if c.encoder %}<dt>encoder</dt><dd>{{ c.encoder }}</dd>{% endif %}{% if c.examples %}<dt>training examples</dt><dd>{{ "{:,}".format(c.examples) }}</dd>{% endif %}
{% if c.trained_on %}<dt>trained on</dt><dd>{{ c.trained_on if c.trained_on is string else c.trained_on|tojson }}</dd>{% endif %}
{% if c.never_trained_on %}<dt>never trained on</dt><dd>{{ c.never_trained_on if c.never_trained_on is string else c.never_trained_on|join(", ") if c.never_trained_on is sequence else c.never_trained_on|tojson }}</dd>{% endif %}</dl>
{% if c.sources %}<table><tr><th>source</th><th>licence</th><th class="n">acceptable</th><th class="n">unacceptable</th><th class="n">pairs</th></tr>
{% for s in c.sources %}<tr><td>{{ s.source }}</td><td>{{ s.licence or "not recorded" }}</td><td class="n">{{ s.acceptable if s.acceptable is not none else "—" }}</td><td class="n">{{ s.unacceptable if s.unacceptable is not none else "—" }}</td><td class="n">{{ s.pairs if s.pairs is not none else "—" }}</td></tr>{% endfor %}</table>
{% else %}<div class="miss">This card records no training sources or licences.</div>{% endif %}{% endfor %}""",
    "item_fairness": r"""{% for g in d.get("group_metrics", []) %}<p><b>Decision rates per {{ g.by }}</b> ({{ g.n }} decisions{% if g.undeclared %}, {{ g.undeclared }} without a declared {{ g.by }}{% endif %}; {{ g.library }})</p>
<table><tr><th>{{ g.by }}</th><th class="n">decisions</th><th class="n">allow</th><th class="n">revise</th><th class="n">escalate</th><th class="n">block</th></tr>
{% for name, x in g.groups.items() %}<tr><td>{{ name }}</td><td class="n">{{ x.n }}</td><td class="n">{{ pct(x.allow_rate) }}</td><td class="n">{{ pct(x.revise_rate) }}</td><td class="n">{{ pct(x.escalate_rate) }}</td><td class="n">{{ pct(x.block_rate) }}</td></tr>{% endfor %}
<tr><th>largest difference</th><td></td><td class="n">{{ pct(g.difference.allow_rate) }}</td><td class="n">{{ pct(g.difference.revise_rate) }}</td><td class="n">{{ pct(g.difference.escalate_rate) }}</td><td class="n">{{ pct(g.difference.block_rate) }}</td></tr></table>{% endfor %}
{% for s in d.get("swap_runs", []) %}<p><b>Demographic swaps</b> in the suite run of {{ s.run|when }}: {{ s.target_flips }} target flip(s), {{ s.gate_flips }} gate flip(s).</p>
{{ charts.hbar_chart("Target flip rate per attribute (lower is better)", flip_rows(s.attributes), good_high=False) }}
<table><tr><th>attribute</th><th class="n">swapped cases</th><th class="n">target flips</th><th class="n">rate (95% CI)</th><th class="n">gate flips</th><th class="n">gate rate (95% CI)</th></tr>
{% for a, c in s.attributes.items() %}<tr><td>{{ a }}</td><td class="n">{{ c.n }}</td><td class="n">{{ c.flips }}</td><td class="n">{{ ci(c.rate, c.ci) }}</td><td class="n">{{ c.gate_flips }}</td><td class="n">{{ ci(c.gate_rate, c.gate_ci) }}</td></tr>{% endfor %}</table>
{% if s.examples %}<table><tr><th>flipped scenario</th><th>attribute</th><th>original prompt</th><th>swapped prompt</th></tr>{% for x in s.examples %}<tr><td>{{ x.scenario }}</td><td>{{ x.attribute }}</td><td>{{ x.original_prompt }}</td><td>{{ x.prompt }}</td></tr>{% endfor %}</table>{% endif %}{% endfor %}""",
    "item_audit_stats": r"""<div class="kpis"><div class="kpi"><b>{{ "{:,}".format(d.decisions) }}</b><span>decisions</span></div>
{% for k, n in d.by_decision.items() %}<div class="kpi"><b class="dec-{{ k }}">{{ "{:,}".format(n) }}</b><span>{{ k }}</span></div>{% endfor %}</div>
{{ charts.decisions_chart(d.per_day) }}
<table><tr><th>recorded by (source)</th><th class="n">decisions</th></tr>{% for k, n in d.by_source.items() %}<tr><td>{{ k }}</td><td class="n">{{ "{:,}".format(n) }}</td></tr>{% endfor %}</table>
{% if d.principles_violated %}<table><tr><th>principle found violated</th><th class="n">verdicts</th></tr>{% for k, n in d.principles_violated.items() %}<tr><td>{{ k }}</td><td class="n">{{ "{:,}".format(n) }}</td></tr>{% endfor %}</table>{% endif %}
{% if d.audit_events %}<table><tr><th>other audit events</th><th class="n">count</th></tr>{% for k, n in d.audit_events.items() %}<tr><td>{{ k }}</td><td class="n">{{ n }}</td></tr>{% endfor %}</table>{% endif %}""",
    "item_chain": r"""<div class="kpis"><div class="kpi"><b class="{{ 'dec-allow' if d.ok else 'dec-block' }}">{{ "intact" if d.ok else "BROKEN" }}</b><span>decision hash chain</span></div>
<div class="kpi"><b>{{ "{:,}".format(d.decisions) }}</b><span>decisions verified</span></div>{% if d.unchained %}<div class="kpi"><b>{{ d.unchained }}</b><span>written before the chain</span></div>{% endif %}</div>
{% if not d.ok %}<div class="miss">First bad decision: {{ d.first_bad }} — {{ d.problem }}</div>{% endif %}
<dl class="meta"><dt>head hash</dt><dd class="mono">{{ d.head or "—" }}</dd><dt>verified at</dt><dd>{{ d.verified_at|when }}</dd></dl><p class="note">{{ d.how }}</p>""",
    "item_retention": r"""<dl class="meta"><dt>oldest decision held</dt><dd>{{ d.oldest_decision|when }}</dd><dt>newest decision</dt><dd>{{ d.newest_decision|when }}</dd>
<dt>decisions held</dt><dd>{{ "{:,}".format(d.decisions_held) }} (span {{ d.months_held if d.months_held is not none else "—" }} months)</dd>
<dt>span ≥ {{ d.minimum_months }} months</dt><dd>{{ "yes" if d.covers_minimum else ("no (the store is younger)" if d.covers_minimum is not none else "—") }}</dd>
<dt>also held</dt><dd>{{ d.store.review_items }} review items, {{ d.store.reviews }} reviews, {{ d.store.model_versions }} model versions, {{ d.store.audit_events }} audit events, feedback {% for k, n in d.store.feedback.items() %}{{ n }} {{ k }}{{ "s" if n != 1 }}{% if not loop.last %}, {% endif %}{% endfor %}</dd></dl>""",
    "item_public_text": r"""{% for p in d.principles %}<div class="principle"><b>{{ p.id }}</b> <span class="sev">{{ p.severity }}</span><br>{{ p.text }}</div>{% endfor %}
{% if d.rules %}<table><tr><th>hard rule</th><th>principle</th><th>decision</th><th>what it does</th></tr>{% for x in d.rules %}<tr><td>{{ x.id }}</td><td>{{ x.principle }}</td><td class="dec-{{ x.decision }}">{{ x.decision }}</td><td>{{ x.description }}</td></tr>{% endfor %}</table>{% endif %}
{% if d.communities %}<table><tr><th>community</th><th>description</th></tr>{% for k, v in d.communities.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>{% endif %}""",
    "item_explanations": r"""{% for e in d %}<div class="ex"><div><span class="dec-{{ e.decision }}">{{ e.decision }}</span> · risk {{ e.risk }} · {{ e.time|when }} · <span class="mono">{{ e.trace_id }}</span>{% if e.case_id %} · case {{ e.case_id }}{% endif %}</div>
{% if e.context %}<div class="q">{{ e.context }}</div>{% endif %}<div class="a">→ {{ e.action }}</div>
<div><b>Why:</b> {{ e.summary }}</div>{% if e.counterfactual %}<div class="note">Would change if: {{ e.counterfactual }}</div>{% endif %}</div>{% endfor %}""",
    "item_escalation": r"""<div class="kpis"><div class="kpi"><b>{{ "%.1f"|format(100 * d.rate) if d.rate is not none else "—" }}%</b><span>of decisions escalated</span></div>
<div class="kpi"><b>{{ "{:,}".format(d.escalated) }}</b><span>escalations</span></div></div>
{{ charts.rate_chart("Escalation rate per day", rate_points(d.per_day)) }}""",
    "item_latency": r"""<div class="kpis"><div class="kpi"><b>{{ d.items_queued }}</b><span>cases queued</span></div><div class="kpi"><b>{{ d.items_reviewed }}</b><span>reviewed</span></div>
<div class="kpi"><b>{{ d.items_open }}</b><span>still open</span></div>
<div class="kpi"><b>{{ hours(d.hours_to_first_review.median) }}</b><span>median time to first review</span></div>
<div class="kpi"><b>{{ hours(d.hours_to_first_review.p90) }}</b><span>90th percentile</span></div>
{% if d.oldest_open_hours is not none %}<div class="kpi"><b>{{ hours(d.oldest_open_hours) }}</b><span>oldest open case</span></div>{% endif %}</div>""",
    "item_agreement": r"""<div class="kpis"><div class="kpi"><b>{{ "%.2f"|format(d.fleiss_kappa) if d.fleiss_kappa is not none else "—" }}</b><span>Fleiss' κ ({{ d.items_with_two_or_more }} items)</span></div>
<div class="kpi"><b>{{ d.reviews }}</b><span>reviews in force</span></div></div>
{% if d.pairs %}<table><tr><th>reviewers</th><th class="n">shared items</th><th class="n">agreement</th><th class="n">Cohen's κ</th></tr>{% for p in d.pairs %}<tr><td>{{ p.a }} · {{ p.b }}</td><td class="n">{{ p['items'] }}</td><td class="n">{{ "%.2f"|format(p.agreement) }}</td><td class="n">{{ "%.2f"|format(p.kappa) }}</td></tr>{% endfor %}</table>{% endif %}
{% if d.reviewers %}<p class="note">Reviews per person: {% for k, n in d.reviewers.items() %}{{ k }} {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}</p>{% endif %}""",
    "item_overrides": r"""<div class="kpis"><div class="kpi"><b>{{ d.overrides }}</b><span>of {{ d.reviews_with_a_side }} allow/block reviews overrode the judge</span></div>
<div class="kpi"><b>{{ d.depends_or_discuss }}</b><span>"depends" or "discuss"</span></div><div class="kpi"><b>{{ d.amended_reviews }}</b><span>reviews amended</span></div></div>
{% if d.examples %}<table><tr><th>time</th><th>reviewer</th><th>gate</th><th>judge leaned</th><th>reviewer</th><th>comment</th></tr>{% for o in d.examples %}<tr><td>{{ o.time|when }}</td><td>{{ o.reviewer }}</td><td class="dec-{{ o.gate }}">{{ o.gate }}</td><td>{{ o.judge_leaning or "—" }}</td><td class="dec-{{ o.reviewer_decision }}">{{ o.reviewer_decision }}</td><td>{{ o.comment or "" }}</td></tr>{% endfor %}</table>{% endif %}""",
    "item_models": r"""{% if d.events %}<table><tr><th>time</th><th>event</th><th>model</th><th>who</th><th>why</th></tr>{% for e in d.events %}<tr><td>{{ e.time|when }}</td><td><b>{{ e.event }}</b></td><td>{{ e.name }} <span class="mono">{{ e.version }}</span></td><td>{{ e.actor }}</td><td>{{ e.reason or "—" }}</td></tr>{% endfor %}</table>{% endif %}
{% if d.registered %}<table><tr><th>registered model</th><th>version</th><th>status</th><th>registered</th><th>by</th></tr>{% for m in d.registered %}<tr><td>{{ m.name }}</td><td class="mono">{{ m.version }}</td><td>{{ m.status }}</td><td>{{ m.registered|when }}</td><td>{{ m.actor or "—" }}</td></tr>{% endfor %}</table>{% endif %}""",
    "item_judge_quality": r"""{% if d.judge_vs_reviewers %}<div class="kpis"><div class="kpi"><b>{{ "%.1f"|format(100 * d.judge_vs_reviewers.rate) }}%</b><span>judge's leaning agreed with reviewers ({{ d.judge_vs_reviewers.reviews }} reviews)</span></div></div>{% endif %}
{% if d.held_out_reviews %}<table><tr><th>model</th><th>evaluation set</th><th class="n">n</th><th class="n">accuracy (in use → candidate)</th><th class="n">F1</th><th class="n">AUPRC</th><th>worse?</th></tr>
{% for c in d.held_out_reviews %}<tr><td>{{ c.name }} <span class="mono">{{ c.version }}</span> ({{ c.status }})</td><td>{{ c.set }}</td><td class="n">{{ c.n }}</td><td class="n">{{ c.current.accuracy }} → {{ c.candidate.accuracy }}</td><td class="n">{{ c.current.f1 }} → {{ c.candidate.f1 }}</td><td class="n">{{ c.current.auprc }} → {{ c.candidate.auprc }}</td><td>{{ "yes" if c.worse else "no" }}</td></tr>{% endfor %}</table>{% endif %}
{% for v in d.data_card_validation %}{% set m = v.validation %}<p><b>{{ v.model }}</b>: its data card's held-out validation{% if m.about %} ({{ m.about }}){% endif %}</p>
{% if m.metrics %}<div class="kpis">{% for k, x in m.metrics.items() %}<div class="kpi"><b>{{ x }}</b><span>{{ k }}</span></div>{% endfor %}</div>{% endif %}
{% if m.by_source %}<table><tr><th>validation source</th><th class="n">n</th><th class="n">accuracy</th></tr>{% for x in m.by_source %}<tr><td>{{ x.source }}</td><td class="n">{{ x.n }}</td><td class="n">{{ x.accuracy }}</td></tr>{% endfor %}</table>{% endif %}{% endfor %}""",
    "item_red_team": r"""{{ charts.hbar_chart("Pass rate per mutation", mut_rows(d)) }}
<table><tr><th>mutation</th><th class="n">results</th><th class="n">passed</th><th class="n">gate evaded</th></tr>{% if d.baseline %}<tr><td>(none: the original prompts)</td><td class="n">{{ d.baseline.total }}</td><td class="n">{{ d.baseline.passed }}</td><td class="n">{{ d.baseline.gate_evasions }}</td></tr>{% endif %}
{% for m in d.mutations %}<tr><td>{{ m.mutation }}</td><td class="n">{{ m.total }}</td><td class="n">{{ m.passed }}</td><td class="n">{{ m.gate_evasions }}</td></tr>{% endfor %}</table>
<p class="note">Gate evaded: the mutated prompt got past the gate where the original was caught.</p>""",
    "item_fail_closed": r"""<div class="kpis"><div class="kpi"><b class="{{ 'dec-allow' if d.holds else 'dec-block' }}">{{ d.allowed_despite_error }}</b><span>allowed despite a judge error</span></div>
<div class="kpi"><b>{{ d.decisions_with_judge_errors }}</b><span>verdicts with judge errors</span></div>
<div class="kpi"><b>{{ d.policy.on_error }} / {{ d.policy.on_timeout }}</b><span>policy on error / time-out</span></div>
<div class="kpi"><b>{{ d.suite_target_errors }}</b><span>target errors in suite runs</span></div></div>
{% if d.by_decision %}<p>Verdicts with judge errors by decision: {% for k, n in d.by_decision.items() %}{{ k }} {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>{% endif %}
{% if d.examples %}<table><tr><th>time</th><th>trace id</th><th>decision</th><th>error</th></tr>{% for e in d.examples %}<tr><td>{{ e.time|when }}</td><td class="mono">{{ e.trace_id }}</td><td class="dec-{{ e.decision }}">{{ e.decision }}</td><td>{{ e.error }}</td></tr>{% endfor %}</table>{% endif %}""",
}


def _render_value(v: Any, depth: int = 0) -> Any:
    """Any JSON-like value as a small escaped table (for results whose shape this module does not know)."""
    from markupsafe import Markup, escape

    if isinstance(v, dict):
        if depth > 3:
            return escape(str(v)[:300])
        rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{_render_value(x, depth + 1)}</td></tr>" for k, x in v.items())
        return Markup(f"<table>{rows}</table>")
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v) and depth <= 3:
            keys = list(dict.fromkeys(k for x in v for k in x))[:10]
            head = "".join(f"<th>{escape(str(k))}</th>" for k in keys)
            body = "".join("<tr>" + "".join(f"<td>{_render_value(x.get(k), depth + 1)}</td>" for k in keys) + "</tr>"
                           for x in v[:40])
            return Markup(f"<table><tr>{head}</tr>{body}</table>")
        return escape(", ".join(str(x) for x in v[:60]))
    if isinstance(v, float):
        return escape(f"{v:.4g}")
    return escape("—" if v is None else str(v))


def _when(t: str | None) -> str:
    """``2026-12-03T05:54:49+00:00`` → ``2026-12-03 05:54 UTC``."""
    if not t:
        return "—"
    return t[:16].replace("T", " ") + " UTC" if len(t) >= 16 else t


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _ci(rate: float | None, ci: list[float] | None) -> str:
    if rate is None:
        return "—"
    return f"{100 * rate:.1f}%" + (f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else "")


def _flip_rows(attrs: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    return [(a, c.get("rate"), f"{c.get('flips')}/{c.get('n')}") for a, c in attrs.items()]


def _hours(h: float | None) -> str:
    if h is None:
        return "—"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} d"


def _mut_rows(d: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    rows = []
    if d.get("baseline"):
        b = d["baseline"]
        rows.append(("(original prompts)", b.get("pass_rate"), f"{b.get('passed')}/{b.get('total')}"))
    for m in d.get("mutations", []):
        note = f"{m['passed']}/{m['total']}" + (f", {m['gate_evasions']} evaded" if m.get("gate_evasions") else "")
        rows.append((m["mutation"], m.get("pass_rate"), note))
    return rows


def _env() -> Environment:
    templates = {"page": _TEMPLATE, **_ITEMS}

    class _Loader(BaseLoader):
        def get_source(self, environment: Environment, template: str) -> tuple[str, None, Any]:
            from jinja2 import TemplateNotFound

            if template not in templates:
                raise TemplateNotFound(template)
            return templates[template], None, lambda: True

    env = Environment(loader=_Loader(), autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.globals.update(pct=_pct, ci=_ci, flip_rows=_flip_rows)
    env.globals.update(charts=charts, heat=charts.heat, render_value=_render_value, hours=_hours, mut_rows=_mut_rows,
                       rate_points=lambda rows: [(r["day"], r["rate"]) for r in rows])
    return env


def period_text(r: dict[str, Any]) -> str:
    """The period for a person: ``2026-11-01 – 2026-12-03 (UTC)``."""
    since, until = r["period"]["since"], r["period"]["until"]
    return f"{since[:10] if since else 'from the first record'} – {until[:16].replace('T', ' ')} (UTC)"


def render_html(report: dict[str, Any]) -> str:
    """The evidence pack as one self-contained HTML page."""
    return _env().get_template("page").render(r=report, css=_CSS, period_text=period_text(report))
