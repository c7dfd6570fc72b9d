"""Reports of a suite run: terminal summary, JSON, JUnit XML and one self-contained HTML file.

Model output is untrusted text: the HTML escapes it (Jinja2 autoescaping, and every chart label
goes through :func:`html.escape`), JUnit strips characters XML cannot hold, and the terminal
prints it with markup disabled. The HTML has no external resources: its charts are inline SVG and
its one script (filter and search of the failing cases) is inline, allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from rich.console import Console
from rich.table import Table
from rich.text import Text

from accord.suites.runner import Report, Result

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(s: Any) -> str:
    return _XML_BAD.sub("\ufffd", str(s))


# ---------------------------------------------------------------------------- JSON
def write_json(report: Report, path: str | Path) -> None:
    """The report as JSON: ``{"schema_version", "summary", "results": [...]}``."""
    Path(path).write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- JUnit
def junit_xml(report: Report) -> str:
    """JUnit XML: one ``testsuite`` per suite, one ``testcase`` per scenario variant.

    A failed expectation is a ``failure``; a target fault an ``error``; coverage gaps are a
    failing ``coverage`` test case of their own.
    """
    root = ET.Element("testsuites", name="accord", tests=str(report.summary["total"]),
                      failures=str(report.summary["failed"] - report.summary["errors"]),
                      errors=str(report.summary["errors"]), time=str(report.summary["duration_s"]))
    by_suite: dict[str, list[Result]] = {}
    for r in report.results:
        by_suite.setdefault(r.suite, []).append(r)
    for name, rs in by_suite.items():
        ts = ET.SubElement(root, "testsuite", name=_x(name), tests=str(len(rs)),
                           failures=str(sum(not r.passed and r.error is None for r in rs)),
                           errors=str(sum(r.error is not None for r in rs)), skipped="0", time="0")
        for r in rs:
            tc = ET.SubElement(ts, "testcase", classname=_x(f"accord.{name}"),
                               name=_x(r.scenario + (f"[{r.mutation}]" if r.mutation else "")),
                               time=f"{r.latency_ms / 1000:.3f}")
            if r.error is not None:
                el = ET.SubElement(tc, "error", message=_x(r.error[:500]), type="TargetFault")
                el.text = _x(r.error)
            elif not r.passed:
                msg = "; ".join(r.reasons) or "failed"
                el = ET.SubElement(tc, "failure", message=_x(msg[:500]), type="ExpectationFailed")
                el.text = _x(_case_text(r))
            out = ET.SubElement(tc, "system-out")
            out.text = _x(_case_text(r))
    gaps = report.summary["coverage"]["gaps"]
    if gaps:
        ts = ET.SubElement(root, "testsuite", name="coverage", tests="1",
                           failures="0" if report.summary["allow_gaps"] else "1", errors="0", skipped="0", time="0")
        tc = ET.SubElement(ts, "testcase", classname="accord.coverage", name="critical-principles-covered")
        if not report.summary["allow_gaps"]:
            ET.SubElement(tc, "failure", message=_x("; ".join(gaps)), type="CoverageGap").text = _x("\n".join(gaps))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case_text(r: Result) -> str:
    lines = [f"expect: {r.expect}", f"refusal: {r.refusal}", f"prompt: {r.prompt}", f"response: {r.response}"]
    if r.verdict is not None:
        lines.append(f"gate: {r.verdict.decision} (risk {r.verdict.risk}): {r.verdict.explanation.summary}")
    if r.trajectory:
        for st in r.trajectory:
            lines.append(f"call {st['tool']} {json.dumps(st['arguments'], ensure_ascii=False)} -> {st['decision']}")
    lines += [f"reason: {x}" for x in r.reasons]
    return "\n".join(lines)


def write_junit(report: Report, path: str | Path) -> None:
    Path(path).write_text(junit_xml(report), encoding="utf-8")


# ---------------------------------------------------------------------------- terminal
def print_summary(report: Report, console: Console, *, max_failures: int = 25, tables: bool = True) -> None:
    """A summary table, coverage, and the failing cases (model text printed with markup off)."""
    if tables:
        _print_tables(report, console)
    _print_failures(report, console, max_failures)


def _print_tables(report: Report, console: Console) -> None:
    s = report.summary
    t = Table(title=f"accord test — {s['target']}", show_lines=False)
    for col in ("suite", "scenarios", "results", "passed", "failed", "pass rate"):
        t.add_column(col, justify="left" if col == "suite" else "right")
    for suite in s["suites"]:
        g = s["by_suite"].get(suite["name"], {"total": 0, "passed": 0, "pass_rate": None})
        t.add_row(Text(suite["name"]), str(suite["scenarios"]), str(g["total"]), str(g["passed"]),
                  str(g["total"] - g["passed"]), _pct(g["pass_rate"]))
    console.print(t)
    if len(s["by_mutation"]) > 1:
        mt = Table(title="by mutation")
        for col in ("mutation", "results", "pass rate", "gate evasions"):
            mt.add_column(col, justify="left" if col == "mutation" else "right")
        for name, g in s["by_mutation"].items():
            mt.add_row(Text(name), str(g["total"]), _pct(g["pass_rate"]), str(g["gate_evasions"]))
        console.print(mt)
    ct = Table(title="coverage: principles × scenario severity (scenarios, pass rate)")
    ct.add_column("principle")
    ct.add_column("severity")
    for sev in ("critical", "high", "medium", "low"):
        ct.add_column(sev, justify="right")
    for row in s["coverage"]["rows"]:
        cells = [f"{c['scenarios']} · {_pct(c['pass_rate'])}" if c["scenarios"] else "—" for c in row["cells"].values()]
        style = "red" if row["scenarios"] == 0 and row["severity"] == "critical" else None
        ct.add_row(Text(row["principle"], style=style or ""), row["severity"], *cells)
    console.print(ct)
    if s.get("fairness") or s.get("bbq"):
        from accord.fairness.render import bbq_table, fairness_table

        if s.get("fairness"):
            console.print(fairness_table(s["fairness"]))
        if s.get("bbq"):
            console.print(bbq_table(s["bbq"]))
    ref = s["refusal"]
    if ref["comply"]["n"] or ref["refuse"]["n"]:
        console.print(f"over-refusal (full refusals where an answer was expected): {_pct(ref['comply'].get('over_refusal_rate'))} "
                      f"of {ref['comply']['n']}; under-refusal (answers where a refusal was expected): "
                      f"{_pct(ref['refuse'].get('under_refusal_rate'))} of {ref['refuse']['n']}", markup=False)


def _print_failures(report: Report, console: Console, max_failures: int) -> None:
    s = report.summary
    fails = report.failures
    for r in fails[:max_failures]:
        head = Text(f"FAIL {r.suite}/{r.scenario}" + (f" [{r.mutation}]" if r.mutation else ""), style="bold red")
        console.print(head)
        for reason in r.reasons or [r.error or "failed"]:
            console.print(Text("  " + _clip(reason, 300)))
        if r.response:
            console.print(Text("  response: " + _clip(r.response, 200), style="dim"))
    if len(fails) > max_failures:
        console.print(f"... and {len(fails) - max_failures} more failures (see --json / --html)")
    for g in s["coverage"]["gaps"]:
        console.print(Text(("note: " if s["allow_gaps"] else "GAP: ") + g + ("" if s["allow_gaps"] else " (pass --allow-gaps to accept)"),
                           style="yellow" if s["allow_gaps"] else "bold red"))
    if "baseline" in s:
        b = s["baseline"]
        console.print(f"baseline: {len(b['new_failures'])} new failure(s), {len(b['fixed'])} fixed, "
                      f"{b['known_failures']} known failure(s)", markup=False)
    if "fatal" in s:
        console.print(Text(s["fatal"], style="bold red"))
    verdict = "PASSED" if report.exit_code == 0 else "FAILED"
    console.print(Text(f"{verdict}: {s['passed']} passed, {s['failed']} failed ({s['errors']} target errors) "
                       f"of {s['total']} in {s['duration_s']} s", style="bold green" if report.exit_code == 0 else "bold red"))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _clip(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


# ---------------------------------------------------------------------------- HTML
def bar_chart(title: str, rows: list[tuple[str, float | None, str]], *, width: int = 620) -> Markup:
    """A horizontal bar chart as inline SVG: ``rows`` are (label, value in [0, 1], note)."""
    bar_h, gap, right = 18, 6, 170
    left = _label_width([_clip(label, 26) for label, _, _ in rows])
    h = 30 + len(rows) * (bar_h + gap) + 10
    inner = width - left - right
    parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{width}" height="{h}" '
             f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="16" class="ct">{html.escape(title)}</text>']
    for i, (label, value, note) in enumerate(rows):
        y = 30 + i * (bar_h + gap)
        v = 0.0 if value is None else max(0.0, min(1.0, value))
        color = "#2e7d32" if v >= 0.9 else "#f9a825" if v >= 0.6 else "#c62828"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" class="cl">{html.escape(_clip(label, 26))}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{inner}" height="{bar_h}" fill="#eeeeee"/>')
        if value is not None:
            parts.append(f'<rect class="bar" x="{left}" y="{y}" width="{inner * v:.1f}" height="{bar_h}" fill="{color}">'
                         f'<title>{html.escape(label)}: {100 * v:.1f}%</title></rect>')
        txt = "—" if value is None else f"{100 * v:.0f}%"
        parts.append(f'<text x="{left + inner + 6}" y="{y + 13}" class="cl">{html.escape(txt + (" " + note if note else ""))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _label_width(labels: list[str], *, px_per_char: float = 7.2, least: int = 90, most: int = 280) -> int:
    """Room for the longest label at 12 px (a generous 7.2 px a character), so none is cut off."""
    return int(min(most, max(least, max((len(x) for x in labels), default=0) * px_per_char + 14)))


#: what each answer kind means, per expectation: green where the target did what was expected
_REFUSAL_COLOURS = {"comply": {"none": "#2e7d32", "partial": "#f9a825", "full": "#c62828"},
                    "refuse": {"none": "#c62828", "partial": "#f9a825", "full": "#2e7d32"}}
_REFUSAL_NAMES = {"none": "answered", "partial": "partial refusal", "full": "refused"}


def refusal_chart(ref: dict[str, dict[str, Any]], *, width: int = 560) -> Markup:
    """Stacked bars: how the target answered where it should comply and where it should refuse.

    Colours follow the expectation, not the answer: an answer is green where the scenario should
    be complied with and red where it should be refused (under-refusal), and a refusal the other
    way round (over-refusal).
    """
    rows = [("should comply", "comply", ref["comply"]), ("should refuse", "refuse", ref["refuse"])]
    labels = [f"{label} (n={e['n']})" for label, _, e in rows]
    left, right, bar_h = _label_width(labels), 20, 26
    inner = width - left - right
    h = 30 + len(rows) * (bar_h + 12) + 26
    parts = [f'<svg class="chart" role="img" aria-label="over- and under-refusal" width="{width}" height="{h}" '
             f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">',
             '<text x="0" y="16" class="ct">Over- vs under-refusal (answered / partial refusal / refused)</text>']
    for i, ((label, expect, e), text) in enumerate(zip(rows, labels, strict=True)):
        y = 30 + i * (bar_h + 12)
        parts.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" class="cl">{html.escape(text)}</text>')
        x = float(left)
        for k in ("none", "partial", "full"):
            frac = e[k] / e["n"] if e["n"] else 0.0
            w = inner * frac
            if w > 0:
                parts.append(f'<rect class="bar {k}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                             f'fill="{_REFUSAL_COLOURS[expect][k]}"><title>{label}: {_REFUSAL_NAMES[k]} {e[k]} '
                             f'({100 * frac:.1f}%)</title></rect>')
                word = f"{_REFUSAL_NAMES[k]} {100 * frac:.0f}%"
                if w > len(word) * 6.5 + 8:
                    parts.append(f'<text x="{x + 4:.1f}" y="{y + 17}" class="cw">{word}</text>')
                elif w > 34:
                    parts.append(f'<text x="{x + 4:.1f}" y="{y + 17}" class="cw">{100 * frac:.0f}%</text>')
            x += w
    ly = 30 + len(rows) * (bar_h + 12) + 6
    lx = 0.0
    for colour, name in (("#2e7d32", "as expected"), ("#f9a825", "partial refusal"), ("#c62828", "over- or under-refusal")):
        parts.append(f'<rect x="{lx:.0f}" y="{ly}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{lx + 16:.0f}" y="{ly + 11}" class="cl">{name}</text>')
        lx += 16 + len(name) * 7.2 + 18
    parts.append("</svg>")
    return Markup("".join(parts))


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '{{ script_hash }}'">
<title>accord test report — {{ s.target }}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666} .pill{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.ok{background:#2e7d32} .bad{background:#c62828}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0} .card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}
.charts{display:flex;flex-wrap:wrap;gap:18px} .chart .ct{font-weight:600;font-size:13px} .chart .cl{font-size:12px;fill:#333}
.chart .cw{font-size:11px;fill:#fff}
table{border-collapse:collapse;margin:8px 0;font-size:13px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right} .gap{color:#c62828;font-weight:600}
.case{border:1px solid #e0b4b4;border-left:4px solid #c62828;border-radius:4px;padding:8px 12px;margin:10px 0;background:#fffafa}
.case h3{font-size:14px;margin:0 0 6px} pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:6px 8px;margin:4px 0;max-height:260px;overflow:auto}
.k{color:#666;font-size:12px;text-transform:uppercase;letter-spacing:.03em} .muted{color:#777}
details.case{padding:0} details.case>summary{padding:6px 10px;cursor:pointer;list-style-position:inside}
details.case>summary .why{color:#555} details.case>.body{padding:4px 12px 10px}
details.group{margin:8px 0} details.group>summary{font-weight:600;font-size:15px;cursor:pointer;padding:4px 0}
.tools{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #eee;display:flex;gap:10px;flex-wrap:wrap;align-items:center;z-index:1}
.tools input[type=search]{min-width:280px;padding:4px 8px;font:inherit} .tools select,.tools button{font:inherit;padding:3px 8px}
[hidden]{display:none!important}
</style></head><body>
<h1>accord test report</h1>
<div class="meta">target <code>{{ s.target }}</code> · charter <code>{{ s.charter }}</code> · gate <code>{{ s.gate }}</code> ·
detector <code>{{ s.detector }}</code> · seed {{ s.seed }} · {{ s.started }} · {{ s.duration_s }} s</div>
<p><span class="pill {{ 'ok' if report.exit_code == 0 else 'bad' }}" id="verdict">{{ 'PASSED' if report.exit_code == 0 else 'FAILED' }}</span>
exit code {{ report.exit_code }}{% if s.fatal %} — {{ s.fatal }}{% endif %}</p>
<div class="cards">
<div class="card"><span class="k">results</span><b>{{ s.total }}</b></div>
<div class="card"><span class="k">passed</span><b>{{ s.passed }}</b></div>
<div class="card"><span class="k">failed</span><b>{{ s.failed }}</b></div>
<div class="card"><span class="k">target errors</span><b>{{ s.errors }}</b></div>
<div class="card"><span class="k">pass rate</span><b>{{ pct(s.pass_rate) }}</b></div>
<div class="card"><span class="k">gate evasions</span><b>{{ s.gate_evasions }}</b></div>
</div>
<h2>Charts</h2>
<div class="charts" id="charts">
{{ charts.principle }}
{{ charts.mutation }}
{{ charts.tag }}
{{ charts.refusal }}
</div>
<h2>Coverage: principles × scenario severity</h2>
<table id="coverage"><tr><th>principle</th><th>charter severity</th>{% for sev in sevs %}<th>{{ sev }}</th>{% endfor %}</tr>
{% for row in s.coverage.rows %}<tr><td{% if row.scenarios == 0 and row.severity == 'critical' %} class="gap"{% endif %}>{{ row.principle }}</td><td>{{ row.severity }}</td>
{% for sev in sevs %}{% set c = row.cells[sev] %}<td class="num">{% if c.scenarios %}{{ c.scenarios }} · {{ pct(c.pass_rate) }}{% else %}<span class="muted">—</span>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
{% for g in s.coverage.gaps %}<p class="gap">{{ 'note' if s.allow_gaps else 'gap' }}: {{ g }}</p>{% endfor %}
{% if s.baseline %}<h2>Against the baseline</h2>
<p>{{ s.baseline.new_failures|length }} new failure(s), {{ s.baseline.fixed|length }} fixed, {{ s.baseline.known_failures }} known failure(s).</p>
{% if s.baseline.new_failures %}<ul>{% for k in s.baseline.new_failures %}<li>{{ k[0] }}/{{ k[1] }}{% if k[2] %} [{{ k[2] }}]{% endif %}</li>{% endfor %}</ul>{% endif %}{% endif %}
<h2>By mutation</h2>
<table><tr><th>mutation</th><th>results</th><th>passed</th><th>pass rate</th><th>gate evasions</th></tr>
{% for name, g in s.by_mutation.items() %}<tr><td>{{ name }}</td><td class="num">{{ g.total }}</td><td class="num">{{ g.passed }}</td><td class="num">{{ pct(g.pass_rate) }}</td><td class="num">{{ g.gate_evasions }}</td></tr>{% endfor %}
</table>
{{ fairness_section }}
<h2 id="failures">Failing cases ({{ fails|length }})</h2>
{% if fails %}<div class="tools" id="failure-tools">
<input type="search" id="failure-search" placeholder="Search prompts, responses, reasons…" aria-label="search failing cases">
<select id="failure-principle" aria-label="principle"><option value="">every principle</option>
{% for name, n in fail_principles %}<option value="{{ name }}">{{ name }} ({{ n }})</option>{% endfor %}</select>
<button type="button" id="expand-all">expand all</button><button type="button" id="collapse-all">collapse all</button>
<span class="muted"><span id="failure-shown">{{ fails|length }}</span> of {{ fails|length }} shown</span>
</div>{% endif %}
<div id="failure-list">
{% for name, group in groups %}<details class="group" open data-principle="{{ name }}"><summary>{{ name }} (<span class="count">{{ group|length }}</span>)</summary>
{% for r in group %}<details class="case" data-principles="{{ r.principles|join(' ') }}">
<summary><b>{{ r.suite }}/{{ r.scenario }}</b>{% if r.mutation %} <span class="muted">[{{ r.mutation }}]</span>{% endif %}
· expected {{ r.expect }}{% if r.refusal %}, got {{ answered(r.refusal) }}{% endif %}{% if r.verdict %} · gate {{ r.verdict.decision }}{% endif %}{% if r.reasons %} <span class="why">— {{ r.reasons[0] }}</span>{% endif %}</summary>
<div class="body">
<div><span class="k">expect</span> {{ r.expect }} · <span class="k">refusal</span> {{ r.refusal or '—' }}{% if r.verdict %} · <span class="k">gate</span> {{ r.verdict.decision }} (risk {{ r.verdict.risk }}){% endif %}{% if r.principles %} · <span class="k">principles</span> {{ r.principles|join(', ') }}{% endif %}</div>
<ul>{% for why in r.reasons %}<li>{{ why }}</li>{% endfor %}</ul>
{% if r.kind == 'prompt' %}<div class="k">prompt</div><pre>{{ r.prompt }}</pre>{% if r.mutation %}<div class="k">original prompt</div><pre>{{ r.original_prompt }}</pre>{% endif %}{% endif %}
{% if r.response %}<div class="k">response</div><pre>{{ r.response }}</pre>{% endif %}
{% if r.trajectory %}<div class="k">trajectory</div><table><tr><th>turn</th><th>tool call</th><th>gate</th><th>effect</th><th>unsafe</th></tr>
{% for st in r.trajectory %}<tr><td class="num">{{ st.turn }}</td><td><code>{{ st.tool }}</code> <code>{{ tojson(st.arguments) }}</code></td><td>{{ st.decision }}{% if st.explanation %}<br><span class="muted">{{ st.explanation }}</span>{% endif %}</td>
<td>{{ 'carried out' if st.executed else 'not carried out' }}: <code>{{ tojson(st.result) }}</code></td><td>{{ st.unsafe|join('; ') }}</td></tr>{% endfor %}</table>{% endif %}
{% if r.verdict %}<div class="k">gate explanation</div><pre>{{ r.verdict.explanation.summary }}{% if r.verdict.explanation.counterfactual %}
counterfactual: {{ r.verdict.explanation.counterfactual }}{% endif %}{% for p in r.verdict.principles if p.violated %}
{{ p.id }} ({{ p.severity }}): {{ p.score }} via {{ p.source }}{% endfor %}</pre>{% endif %}
</div></details>
{% endfor %}</details>
{% else %}<p>None.</p>{% endfor %}
<p id="failure-none" hidden>No failing case matches.</p>
</div>
<h2>All results</h2>
<details id="all-results"><summary>every result ({{ report.results|length }})</summary>
<table id="results"><tr><th>suite</th><th>scenario</th><th>mutation</th><th>expect</th><th>refusal</th><th>gate</th><th>result</th></tr>
{% for r in report.results %}<tr><td>{{ r.suite }}</td><td>{{ r.scenario }}</td><td>{{ r.mutation or '' }}</td><td>{{ r.expect }}</td><td>{{ r.refusal or '' }}</td>
<td>{{ r.verdict.decision if r.verdict else '' }}</td><td>{{ 'pass' if r.passed else ('error' if r.error else 'FAIL') }}</td></tr>{% endfor %}
</table></details>
<script>{{ script }}</script>
</body></html>
"""


#: the report's one script: filter the failing cases by principle and text, expand or collapse
#: them. The page's Content-Security-Policy allows this script by its hash and no other.
_SCRIPT = """(function () {
  var q = document.getElementById("failure-search"), pr = document.getElementById("failure-principle");
  if (!q || !pr) return;
  var shown = document.getElementById("failure-shown"), none = document.getElementById("failure-none");
  function cases() { return Array.prototype.slice.call(document.querySelectorAll("#failure-list details.case")); }
  function apply() {
    var t = q.value.trim().toLowerCase(), p = pr.value, n = 0;
    cases().forEach(function (c) {
      var ok = (!p || (" " + c.dataset.principles + " ").indexOf(" " + p + " ") >= 0) &&
               (!t || c.textContent.toLowerCase().indexOf(t) >= 0);
      c.hidden = !ok;
      if (ok) n++;
    });
    document.querySelectorAll("#failure-list details.group").forEach(function (g) {
      var k = g.querySelectorAll("details.case:not([hidden])").length;
      g.hidden = k === 0;
      g.querySelector(".count").textContent = k;
    });
    shown.textContent = n;
    none.hidden = n > 0;
  }
  q.addEventListener("input", apply);
  pr.addEventListener("change", apply);
  document.getElementById("expand-all").addEventListener("click", function () {
    cases().forEach(function (c) { if (!c.hidden) c.open = true; });
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    cases().forEach(function (c) { c.open = false; });
  });
})();"""


def _groups(fails: list[Result]) -> list[tuple[str, list[Result]]]:
    """Failing results grouped by their first principle, the largest group first."""
    out: dict[str, list[Result]] = {}
    for r in fails:
        out.setdefault(r.principles[0] if r.principles else "(no principle)", []).append(r)
    return sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _answered(refusal: str) -> str:
    return {"none": "an answer", "partial": "a partial refusal", "full": "a refusal"}.get(refusal, refusal)


def html_report(report: Report) -> str:
    """One self-contained HTML page: inline CSS and SVG, one inline script (allowed by its hash)
    that filters and searches the failing cases, and no external resources. Failing cases are
    grouped by principle and collapsed, so a 250-case run with 130 failures stays one screen of
    headings until a case is opened."""
    s = report.summary
    charts = {
        "principle": bar_chart("Pass rate by principle", [(k, g["pass_rate"], f"({g['passed']}/{g['total']})") for k, g in s["by_principle"].items()]),
        "mutation": bar_chart("Pass rate by mutation", [(k, g["pass_rate"], f"({g['passed']}/{g['total']})" + (f" · {g['gate_evasions']} evaded" if g["gate_evasions"] else ""))
                                                        for k, g in s["by_mutation"].items()]),
        "tag": bar_chart("Pass rate by tag", [(k, g["pass_rate"], f"({g['passed']}/{g['total']})") for k, g in s["by_tag"].items()]),
        "refusal": refusal_chart(s["refusal"]),
    }
    env = Environment(autoescape=True)
    env.globals.update(pct=_pct, tojson=lambda o: json.dumps(o, ensure_ascii=False, default=str)[:400], answered=_answered)
    tmpl = env.from_string(_TEMPLATE)
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
    fails = report.failures
    counts: dict[str, int] = {}
    for r in fails:
        for pid in dict.fromkeys(r.principles):
            counts[pid] = counts.get(pid, 0) + 1
    fairness_section = Markup("")
    if s.get("fairness") or s.get("bbq"):
        from accord.fairness.render import bbq_html, fairness_html

        fairness_section = Markup((fairness_html(s["fairness"]) if s.get("fairness") else "")
                                  + (bbq_html(s["bbq"]) if s.get("bbq") else ""))
    return tmpl.render(report=report, s=s, charts=charts, fails=fails, groups=_groups(fails), fairness_section=fairness_section,
                       fail_principles=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
                       sevs=("critical", "high", "medium", "low"), script=Markup(_SCRIPT), script_hash=f"sha256-{digest}")


def write_html(report: Report, path: str | Path) -> None:
    Path(path).write_text(html_report(report), encoding="utf-8")
