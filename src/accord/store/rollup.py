"""The daily rollup of decisions (table ``decision_counts``, migration 0006): counts per UTC day,
decision, community and violated principle, kept by a trigger on ``decisions`` in the inserting
transaction, so the dashboard and :meth:`~accord.store.store.Store.stats` read a few thousand rows
instead of counting millions of decisions.

The rollup is derived data: :meth:`DecisionCounts.decision_counts_drift` recounts it from
``decisions`` and names the groups that differ; :meth:`DecisionCounts.rebuild_decision_counts`
recomputes it (for example after someone edited it by hand).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, text

from accord.store.core import StoreCore
from accord.store.models import DecisionCountRow
from accord.store.records import DecisionCount

COUNTS_TABLE: Table = DecisionCountRow.__table__  # type: ignore[assignment]

#: the recount of the whole rollup from ``decisions``: (day, decision, community, principle, n)
_PG_RECOUNT = """
SELECT day, decision, community, principle, count(*) AS n FROM (
  SELECT (d.created_at AT TIME ZONE 'UTC')::date AS day, d.decision, coalesce(d.community, '') AS community,
         '' AS principle
  FROM decisions d
  UNION ALL
  SELECT (d.created_at AT TIME ZONE 'UTC')::date, d.decision, coalesce(d.community, ''), p.id
  FROM decisions d
  CROSS JOIN LATERAL (
      SELECT DISTINCT e ->> 'id' AS id
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(d.verdict_json -> 'principles') = 'array'
                                     THEN d.verdict_json -> 'principles' ELSE '[]'::jsonb END) e
      WHERE jsonb_typeof(e) = 'object' AND e -> 'violated' = 'true'::jsonb AND jsonb_typeof(e -> 'id') = 'string'
  ) p
) g
GROUP BY day, decision, community, principle
"""

_SQLITE_RECOUNT = """
SELECT day, decision, community, principle, count(DISTINCT id) AS n FROM (
  SELECT d.id, date(d.created_at) AS day, d.decision, coalesce(d.community, '') AS community, '' AS principle
  FROM decisions d
  UNION ALL
  SELECT d.id, date(d.created_at), d.decision, coalesce(d.community, ''), json_extract(p.value, '$.id')
  FROM decisions d, json_each(CASE WHEN json_valid(d.verdict_json) AND json_type(d.verdict_json, '$.principles') = 'array'
                                   THEN d.verdict_json ELSE '{"principles": []}' END, '$.principles') p
  WHERE p.type = 'object' AND CASE WHEN p.type = 'object' THEN json_type(p.value, '$.violated') END = 'true'
    AND CASE WHEN p.type = 'object' THEN json_type(p.value, '$.id') END = 'text'
) g WHERE true
GROUP BY day, decision, community, principle
"""


def _recount(conn: Connection) -> str:
    return _PG_RECOUNT if conn.dialect.name == "postgresql" else _SQLITE_RECOUNT


def _key(day: Any, decision: str, community: str, principle: str) -> tuple[str, str, str, str]:
    return (day.isoformat() if isinstance(day, date) else str(day), decision, community, principle)


class DecisionCounts(StoreCore):
    """The daily rollup (a part of :class:`~accord.store.store.Store`)."""

    def decision_counts(self, since: date | None = None, until: date | None = None, *,
                        principle: str | None = None) -> list[DecisionCount]:
        """Decisions per UTC day, decision and community, from the rollup (oldest day first).

        Args:
            since: only days on or after this one.
            until: only days before this one.
            principle: ``None`` (the default): every decision; a principle id: only decisions whose
                verdict marks that principle violated.
        """
        q = select(COUNTS_TABLE.c.day, COUNTS_TABLE.c.decision, COUNTS_TABLE.c.community, COUNTS_TABLE.c.n) \
            .where(COUNTS_TABLE.c.principle == (principle or ""))
        if since is not None:
            q = q.where(COUNTS_TABLE.c.day >= since)
        if until is not None:
            q = q.where(COUNTS_TABLE.c.day < until)
        q = q.order_by(COUNTS_TABLE.c.day, COUNTS_TABLE.c.decision, COUNTS_TABLE.c.community)
        with self._tx("read the daily decision counts") as s:
            return [DecisionCount(day=d, decision=dec, community=comm or None, principle=principle, n=int(n))
                    for d, dec, comm, n in s.execute(q)]

    def decision_totals(self) -> dict[str, int]:
        """All recorded decisions counted per decision (``allow``: 812, ...), from the rollup."""
        q = (select(COUNTS_TABLE.c.decision, func.sum(COUNTS_TABLE.c.n)).where(COUNTS_TABLE.c.principle == "")
             .group_by(COUNTS_TABLE.c.decision))
        with self._tx("count decisions") as s:
            return {d: int(n) for d, n in s.execute(q)}

    def decision_counts_drift(self) -> list[tuple[tuple[str, str, str, str], int, int]]:
        """Groups where the rollup differs from a recount of ``decisions``: ``((day, decision,
        community, principle), rollup, recount)`` each; empty when the rollup is right.

        Reads every decision (seconds per million); for checks and tests, not for pages.
        """
        with self._tx("recount decisions") as s:
            conn = s.connection()
            want = {_key(*r[:4]): int(r[4]) for r in conn.execute(text(_recount(conn)))}
            have = {_key(r.day, r.decision, r.community, r.principle): int(r.n)
                    for r in conn.execute(select(COUNTS_TABLE))}
        return [(k, have.get(k, 0), want.get(k, 0)) for k in sorted(set(want) | set(have))
                if have.get(k, 0) != want.get(k, 0)]

    def rebuild_decision_counts(self) -> int:
        """Recompute the rollup from ``decisions``, with writers held off meanwhile; returns its row count."""
        with self._write("rebuild the daily decision counts") as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE decisions IN SHARE ROW EXCLUSIVE MODE"))
            conn.execute(delete(COUNTS_TABLE))
            conn.execute(text(f"INSERT INTO decision_counts (day, decision, community, principle, n) "
                              f"SELECT * FROM ({_recount(conn)}) r"))
            return int(conn.execute(select(func.count()).select_from(COUNTS_TABLE)).scalar_one())
