"""``accord report``: an evidence pack for a period, built only from what accord recorded.

:func:`build_report` reads the audit store, the charter and ``accord test --json`` reports and
returns the pack as a JSON-ready dict, one section per EU AI Act article it serves (9, 10, 12,
13, 14, 15), each item either filled from a record or marked missing with the reason;
:func:`write_pack` writes ``report.json``, ``report.html`` and, with WeasyPrint (the
``accord[report]`` extra), ``report.pdf``. The pack never claims legal compliance.
See ``docs/regulation.md``.
"""

from accord.report.collect import DISCLAIMER, SCHEMA_VERSION, ReportInputs, build_report, parse_when
from accord.report.items import ARTICLES
from accord.report.pack import Pack, weasyprint_available, write_pack
from accord.report.render import render_html

__all__ = [
    "ARTICLES",
    "DISCLAIMER",
    "SCHEMA_VERSION",
    "Pack",
    "ReportInputs",
    "build_report",
    "parse_when",
    "render_html",
    "weasyprint_available",
    "write_pack",
]
