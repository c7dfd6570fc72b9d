"""Fairness sections of a suite report: terminal tables and HTML (inline SVG, escaped text).

Called by :mod:`accord.suites.report` when a run's summary has ``fairness`` (demographic swaps)
or ``bbq`` (the BBQ suite). Prompts are untrusted text: the HTML escapes every string and the
terminal tables print them as plain :class:`~rich.text.Text`.
"""

from __future__ import annotations

import html
from typing import Any

from markupsafe import Markup
from rich.table import Table
from rich.text import Text


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _ci(ci: list[float] | None) -> str:
    return "—" if not ci else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%"


def _rate_ci(rate: float | None, ci: list[float] | None) -> str:
    return "—" if rate is None else f"{_pct(rate)} [{_ci(ci)}]"


def fairness_table(f: dict[str, Any]) -> Table:
    """Flip rates per attribute and attribute pair, target and gate, with 95% Wilson intervals."""
    t = Table(title="fairness: flips under demographic swaps (and where the asker says who they are: 'said'), rate [95% Wilson interval]")
    for col in ("attribute", "pair", "n", "target flips", "target rate", "gate flips", "gate rate"):
        t.add_column(col, justify="left" if col in ("attribute", "pair") else "right")
    for attr, c in f["attributes"].items():
        style = "bold red" if c["flips"] else ""
        t.add_row(Text(attr, style="bold"), Text("all"), str(c["n"]), Text(str(c["flips"]), style=style),
                  _rate_ci(c["rate"], c["ci"]), str(c["gate_flips"]), _rate_ci(c["gate_rate"], c["gate_ci"]))
        for pair, p in c["pairs"].items():
            t.add_row("", Text(pair), str(p["n"]), Text(str(p["flips"]), style="red" if p["flips"] else ""),
                      _rate_ci(p["rate"], p["ci"]), str(p["gate_flips"]), _rate_ci(p["gate_rate"], p["gate_ci"]))
    return t


def bbq_table(b: dict[str, Any]) -> Table:
    """BBQ accuracy (ambiguous / disambiguated) and bias scores, per category and overall."""
    t = Table(title="BBQ: accuracy and bias (Parrish et al. 2022; bias from -1 to +1, 0 is unbiased)")
    for col in ("category", "ambiguous n", "accuracy", "bias (amb)", "disambiguated n", "accuracy", "bias (dis)", "no answer"):
        t.add_column(col, justify="left" if col == "category" else "right")
    rows = [*b["categories"].items(), ("overall", b["overall"])]
    for name, s in rows:
        a, d = s["ambig"], s["disambig"]
        t.add_row(Text(name, style="bold" if name == "overall" else ""), str(a["n"]), _pct(a["accuracy"]), _bias(a["bias"]),
                  str(d["n"]), _pct(d["accuracy"]), _bias(d["bias"]), str(a["invalid"] + d["invalid"]))
    return t


def _bias(x: float | None) -> str:
    return "—" if x is None else f"{x:+.2f}"


def flip_chart(f: dict[str, Any], *, width: int = 720) -> Markup:
    """Flip rate per attribute with its 95% interval as a whisker: target (red) and gate (blue)."""
    attrs = list(f["attributes"].items())
    left = int(max([90] + [len(f"{a} (n={c['n']})") * 7.2 + 14 for a, c in attrs]))
    right, row_h = 130, 34
    inner = width - left - right
    hi = max([0.1] + [c[k][1] for _, c in attrs for k in ("ci", "gate_ci") if c.get(k)])
    scale = min(1.0, max(0.1, round(hi + 0.05, 1)))
    h = 40 + len(attrs) * row_h + 28
    parts = [f'<svg class="chart" id="flip-chart" role="img" aria-label="flip rate per attribute" width="{width}" height="{h}" '
             f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">',
             '<text x="0" y="16" class="ct">Flip rate per attribute, swapped or said (whiskers: 95% Wilson interval)</text>']
    for i, (attr, c) in enumerate(attrs):
        y = 34 + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end" class="cl">{html.escape(attr)} (n={c["n"]})</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{inner}" height="26" fill="#f4f4f4"/>')
        for j, (rate, ci, colour, who) in enumerate(((c["rate"], c["ci"], "#c62828", "target"),
                                                     (c["gate_rate"], c["gate_ci"], "#1565c0", "accord gate"))):
            yy = y + 2 + j * 12
            if rate is None:
                continue
            parts.append(f'<rect class="bar {who.split()[-1]}" x="{left}" y="{yy}" width="{inner * rate / scale:.1f}" height="10" '
                         f'fill="{colour}"><title>{html.escape(attr)}, {who}: {100 * rate:.1f}% '
                         f'({_ci(ci)})</title></rect>')
            if ci:
                x0, x1 = left + inner * ci[0] / scale, left + inner * min(ci[1], scale) / scale
                parts.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{yy + 5}" y2="{yy + 5}" stroke="#333" stroke-width="1"/>'
                             f'<line x1="{x1:.1f}" x2="{x1:.1f}" y1="{yy + 1}" y2="{yy + 9}" stroke="#333" stroke-width="1"/>')
        parts.append(f'<text x="{left + inner + 6}" y="{y + 11}" class="cl">target {_pct(c["rate"])}</text>'
                     f'<text x="{left + inner + 6}" y="{y + 24}" class="cl">gate {_pct(c["gate_rate"])}</text>')
    ly = 34 + len(attrs) * row_h + 6
    parts.append(f'<text x="{left}" y="{ly + 10}" class="cl">0%</text>'
                 f'<text x="{left + inner}" y="{ly + 10}" text-anchor="end" class="cl">{100 * scale:.0f}%</text>'
                 f'<rect x="{left + 40}" y="{ly + 1}" width="12" height="10" fill="#c62828"/>'
                 f'<text x="{left + 56}" y="{ly + 10}" class="cl">target</text>'
                 f'<rect x="{left + 110}" y="{ly + 1}" width="12" height="10" fill="#1565c0"/>'
                 f'<text x="{left + 126}" y="{ly + 10}" class="cl">accord gate</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def fairness_html(f: dict[str, Any]) -> Markup:
    """The HTML section for demographic swaps: chart, table per attribute pair, examples of flips."""
    out = ['<h2 id="fairness">Fairness: demographic swaps</h2>',
           "<p>Each scenario is asked again with the people in it swapped across one attribute, or (rows marked "
           "<i>said</i>) with the person asking saying who they are. A <b>flip</b> is a "
           "different answer from the target (a failure) or a different decision from accord's gate (reported). "
           f"Target flips: {f['target_flips']}; gate flips: {f['gate_flips']}.</p>", str(flip_chart(f)),
           '<table id="fairness-table"><tr><th>attribute</th><th>pair</th><th>compared</th><th>target flips</th><th>rate</th>'
           "<th>95% CI</th><th>gate flips</th><th>gate rate</th><th>gate 95% CI</th></tr>"]
    for attr, c in f["attributes"].items():
        rows = [("all", c, True), *((p, v, False) for p, v in c["pairs"].items())]
        for pair, v, top in rows:
            cls = ' class="gap"' if v["flips"] else ""
            out.append(f"<tr><td>{html.escape(attr) if top else ''}</td><td>{'<b>all</b>' if top else html.escape(pair)}</td>"
                       f'<td class="num">{v["n"]}</td><td class="num"{cls}>{v["flips"]}</td><td class="num">{_pct(v["rate"])}</td>'
                       f'<td class="num">{_ci(v["ci"])}</td><td class="num">{v["gate_flips"]}</td>'
                       f'<td class="num">{_pct(v["gate_rate"])}</td><td class="num">{_ci(v["gate_ci"])}</td></tr>')
    out.append("</table>")
    if f["examples"]:
        out.append(f'<details id="flip-examples"><summary>examples of flips ({len(f["examples"])} of '
                   f'{f["flip_examples_total"]})</summary>')
        for e in f["examples"]:
            who = " and ".join(w for w, on in (("target", e["target_flip"]), ("gate", e["gate_flip"])) if on)
            beh = f"target: {' → '.join(e['behaviour'])}" if e.get("behaviour") else ""
            gate = f"gate: {' → '.join(e['gate'])}" if e.get("gate") else ""
            out.append(f'<div class="case"><h3>{html.escape(e["suite"])}/{html.escape(e["scenario"])} · '
                       f'{html.escape(e["attribute"])} ({html.escape(", ".join(e["pairs"]))}) · {who} flip</h3>'
                       f"<div>{html.escape(beh)} {html.escape(gate)}</div>"
                       f'<div class="k">original</div><pre>{html.escape(e["original_prompt"])}</pre>'
                       f'<div class="k">swapped</div><pre>{html.escape(e["prompt"])}</pre></div>')
        out.append("</details>")
    return Markup("\n".join(out))


def bbq_html(b: dict[str, Any]) -> Markup:
    """The HTML section for the BBQ suite: accuracy and bias per category."""
    out = ['<h2 id="bbq">BBQ: bias in question answering</h2>',
           "<p>In an ambiguous context the right answer is “unknown”; a bias score of +1 means every non-unknown answer "
           "followed the stereotype, −1 every one went against it (Parrish et al. 2022, section 5).</p>",
           '<table id="bbq-table"><tr><th>category</th><th>ambiguous n</th><th>accuracy</th><th>bias</th>'
           "<th>disambiguated n</th><th>accuracy</th><th>bias</th><th>no answer</th></tr>"]
    for name, s in [*b["categories"].items(), ("overall", b["overall"])]:
        a, d = s["ambig"], s["disambig"]
        out.append(f"<tr><td>{'<b>overall</b>' if name == 'overall' else html.escape(name)}</td>"
                   f'<td class="num">{a["n"]}</td><td class="num">{_pct(a["accuracy"])}</td><td class="num">{_bias(a["bias"])}</td>'
                   f'<td class="num">{d["n"]}</td><td class="num">{_pct(d["accuracy"])}</td><td class="num">{_bias(d["bias"])}</td>'
                   f'<td class="num">{a["invalid"] + d["invalid"]}</td></tr>')
    out.append("</table>")
    return Markup("\n".join(out))
