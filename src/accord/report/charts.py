"""Small inline-SVG charts for the evidence pack: no script, no network, the same in a browser and in a PDF."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

DECISION_COLOURS = {"allow": "#2e7d32", "revise": "#00838f", "escalate": "#ef8f00", "block": "#c62828"}
DECISIONS = ("allow", "revise", "escalate", "block")


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(f'<svg class="chart" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
                  f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
                  f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _weekly(rows: Sequence[dict[str, int | str]]) -> list[dict[str, int | str]]:
    """Per-day rows summed into weeks (Monday first) when a period is too long for one bar a day."""
    out: dict[str, dict[str, int | str]] = {}
    for r in rows:
        d = date.fromisoformat(str(r["day"]))
        wk = (d - timedelta(days=d.weekday())).isoformat()
        tgt = out.setdefault(wk, {"day": wk, **dict.fromkeys(DECISIONS, 0)})
        for k in DECISIONS:
            tgt[k] = int(tgt[k]) + int(r.get(k, 0) or 0)
    return list(out.values())


def decisions_chart(per_day: Sequence[dict[str, int | str]], *, width: int = 680, height: int = 210) -> Markup:
    """Stacked bars of decisions per day (per week when the period has more than 45 days)."""
    rows = list(per_day)
    unit = "day"
    if len(rows) > 45:
        rows, unit = _weekly(rows), "week"
    title = f"Decisions per {unit}"
    if not rows:
        return _svg(width, 40, title, ['<text x="0" y="24" class="cm" font-size="12" fill="#5b6675">no decision recorded</text>'])
    left, right, top, bottom = 44, 8, 26, height - 34
    totals = [sum(int(r.get(k, 0) or 0) for k in DECISIONS) for r in rows]
    peak = max(totals) or 1
    slot = (width - left - right) / len(rows)
    body = [f'<text x="0" y="14" class="ct" font-size="13" font-weight="bold" fill="#1c2430">{escape(title)}</text>',
            f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" class="axis" stroke="#9aa5b1" stroke-width="1"/>',
            f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="cl" font-size="11" fill="#5b6675">{peak:,}</text>',
            f'<text x="{left - 6}" y="{bottom}" text-anchor="end" class="cl" font-size="11" fill="#5b6675">0</text>']
    every = max(1, round(len(rows) / 10))
    for i, r in enumerate(rows):
        w = min(max(slot * 0.76, 1.0), 36.0)
        x = left + i * slot + (slot - w) / 2
        y = float(bottom)
        for k in DECISIONS:
            n = int(r.get(k, 0) or 0)
            if not n:
                continue
            h = (bottom - top) * n / peak
            y -= h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{DECISION_COLOURS[k]}">'
                        f'<title>{escape(str(r["day"]))}: {n:,} {k}</title></rect>')
        if i % every == 0:
            body.append(f'<text x="{x + w / 2:.1f}" y="{bottom + 14}" text-anchor="middle" class="cl" font-size="11" fill="#5b6675">'
                        f'{escape(str(r["day"])[5:])}</text>')
    lx = left
    for k in DECISIONS:
        body.append(f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{DECISION_COLOURS[k]}"/>'
                    f'<text x="{lx + 14}" y="{height - 3}" class="cl" font-size="11" fill="#5b6675">{k}</text>')
        lx += 90
    return _svg(width, height, title, body)


def rate_chart(title: str, points: Sequence[tuple[str, float | None]], *, width: int = 680, height: int = 170,
               colour: str = "#ef8f00") -> Markup:
    """A line of shares (0..1) over labelled points; one point is drawn as a dot."""
    pts = [(i, label, v) for i, (label, v) in enumerate(points) if v is not None]
    if not pts:
        return _svg(width, 40, title, [f'<text x="0" y="24" class="cm" font-size="12" fill="#5b6675">{escape(title)}: no data</text>'])
    top_v = max(max(v for _, _, v in pts), 0.05)
    top_v = min(1.0, (int(top_v * 20) + 1) / 20)  # the next 5 % step above the peak
    left, right, top, bottom = 44, 12, 26, height - 24
    n = max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (width - left - right) * (i / n if len(points) > 1 else 0.5)
        return x, bottom - (bottom - top) * min(v, top_v) / top_v

    body = [f'<text x="0" y="14" class="ct" font-size="13" font-weight="bold" fill="#1c2430">{escape(title)}</text>',
            f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" class="axis" stroke="#9aa5b1" stroke-width="1"/>',
            f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="cl" font-size="11" fill="#5b6675">{top_v:.0%}</text>',
            f'<text x="{left - 6}" y="{bottom}" text-anchor="end" class="cl" font-size="11" fill="#5b6675">0%</text>']
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, _, v in pts))
    if len(pts) > 1:
        body.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
    every = max(1, round(len(points) / 10))
    for i, label, v in pts:
        x, y = xy(i, v)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(label)}: {v:.1%}</title></circle>')
        if len(pts) <= 12:  # few points: write the values beside them
            body.append(f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" class="cl" font-size="11" fill="#5b6675">{v:.0%}</text>')
    for i, (label, _) in enumerate(points):
        if i % every == 0:
            x, _ = xy(i, 0)
            body.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" class="cl" font-size="11" fill="#5b6675">{escape(label[5:] if len(label) == 10 else label)}</text>')
    return _svg(width, height, title, body)


def hbar_chart(title: str, rows: Sequence[tuple[str, float | None, str]], *, width: int = 680,
               good_high: bool = True) -> Markup:
    """Horizontal bars of shares (0..1): ``(label, value, note)``.

    With ``good_high`` (pass rates) green from 90 %, amber from 60 %, red below; without (flip or
    error rates) green at 0, amber up to 5 %, red above.
    """
    if not rows:
        return _svg(width, 40, title, [f'<text x="0" y="24" class="cm" font-size="12" fill="#5b6675">{escape(title)}: no data</text>'])
    bar_h, gap = 16, 6
    left = int(min(260, max(100, max(len(r[0]) for r in rows) * 7 + 12)))
    right = 190
    height = 28 + len(rows) * (bar_h + gap)
    inner = width - left - right
    body = [f'<text x="0" y="14" class="ct" font-size="13" font-weight="bold" fill="#1c2430">{escape(title)}</text>']
    for i, (label, v, note) in enumerate(rows):
        y = 24 + i * (bar_h + gap)
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" class="cl" font-size="11" fill="#5b6675">{escape(label[:36])}</text>'
                    f'<rect x="{left}" y="{y}" width="{inner}" height="{bar_h}" fill="#eceff1"/>')
        if v is not None:
            if good_high:
                c = "#2e7d32" if v >= 0.9 else "#f9a825" if v >= 0.6 else "#c62828"
            else:
                c = "#2e7d32" if v <= 0 else "#f9a825" if v <= 0.05 else "#c62828"
            body.append(f'<rect x="{left}" y="{y}" width="{max(inner * max(0.0, min(1.0, v)), 2.0):.1f}" height="{bar_h}" fill="{c}">'
                        f'<title>{escape(label)}: {v:.1%}</title></rect>')
        txt = ("—" if v is None else f"{v:.0%}") + (f"  {note}" if note else "")
        body.append(f'<text x="{left + inner + 6}" y="{y + 12}" class="cl" font-size="11" fill="#5b6675">{escape(txt)}</text>')
    return _svg(width, height, title, body)


def heat(v: float | None) -> str:
    """A cell colour for a pass rate (grey when there is none)."""
    if v is None:
        return "#eceff1"
    if v >= 0.95:
        return "#a5d6a7"
    if v >= 0.8:
        return "#e6ee9c"
    if v >= 0.6:
        return "#ffe082"
    return "#ef9a9a"
