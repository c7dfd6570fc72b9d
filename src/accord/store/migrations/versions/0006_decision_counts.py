"""A daily rollup of decisions, kept by the database, for the dashboard and ``Store.stats()``.

``decision_counts`` holds one row per UTC day × decision × community × principle with ``n``, the
number of decisions in that group. ``principle`` is ``''`` on the row that counts every decision of
the group, and a principle id on the rows that count the decisions whose verdict marks that
principle violated (``verdict_json -> 'principles'``, ``"violated": true``; each decision counted
once per principle). ``community`` is ``''`` for decisions without one.

A trigger on ``decisions`` keeps it, in the same transaction as the insert, whatever the write path
(``record_decision``, ``executemany``, ``COPY``, or raw SQL): on PostgreSQL one statement-level
``AFTER INSERT`` trigger over the statement's new rows (a transition table), on SQLite a row-level
``AFTER INSERT`` trigger. Both add to existing rows with an upsert. ``decisions`` never loses rows
(append-only), so counts only grow.

Unlike the audit tables, this one is not append-only: it is derived data, rebuilt from
``decisions`` at any time (``Store.rebuild_decision_counts``) and checked against them by
``Store.decision_counts_drift``; the audit trail and its hash chain stay in ``decisions``.

The upgrade backfills it from the decisions already there. Creating the trigger locks
``decisions`` against writers (PostgreSQL: ``SHARE ROW EXCLUSIVE``; SQLite: the migration's
``BEGIN IMMEDIATE``) until the migration commits, so no decision is counted twice or missed; the
backfill reads the whole table once (minutes at 10 million decisions, writers wait meanwhile).

Revision ID: 0006_decision_counts
Revises: 0005_scale_indexes
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_decision_counts"
down_revision: str | None = "0005_scale_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the rows of a set of decisions ``{src}`` as rollup groups (PostgreSQL), one per decision and one
#: per distinct violated principle; ``{src}`` is ``decisions`` (backfill) or the transition table
PG_GROUPS = """
SELECT (d.created_at AT TIME ZONE 'UTC')::date AS day, d.decision, coalesce(d.community, '') AS community,
       '' AS principle
FROM {src} d
UNION ALL
SELECT (d.created_at AT TIME ZONE 'UTC')::date, d.decision, coalesce(d.community, ''), p.id
FROM {src} d
CROSS JOIN LATERAL (
    SELECT DISTINCT e ->> 'id' AS id
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(d.verdict_json -> 'principles') = 'array'
                                   THEN d.verdict_json -> 'principles' ELSE '[]'::jsonb END) e
    WHERE jsonb_typeof(e) = 'object' AND e -> 'violated' = 'true'::jsonb AND jsonb_typeof(e -> 'id') = 'string'
) p
"""

PG_ADD = """
INSERT INTO decision_counts (day, decision, community, principle, n)
SELECT day, decision, community, principle, count(*) FROM ({groups}) g
GROUP BY day, decision, community, principle
ORDER BY day, decision, community, principle
ON CONFLICT (day, decision, community, principle) DO UPDATE SET n = decision_counts.n + EXCLUDED.n
"""

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION accord_decision_counts() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
{PG_ADD.format(groups=PG_GROUPS.format(src="new_decisions"))};
RETURN NULL;
END $body$
"""

PG_TRIGGER = ("CREATE TRIGGER decisions_counts AFTER INSERT ON decisions REFERENCING NEW TABLE AS new_decisions "
              "FOR EACH STATEMENT EXECUTE FUNCTION accord_decision_counts()")

#: SQLite: the violated principles of one row (``{row}``: ``NEW`` in the trigger, ``d`` in the backfill)
SQLITE_PRINCIPLES = """
SELECT DISTINCT json_extract(p.value, '$.id') AS principle
FROM json_each(CASE WHEN json_valid({row}.verdict_json) AND json_type({row}.verdict_json, '$.principles') = 'array'
                    THEN {row}.verdict_json ELSE '{{"principles": []}}' END, '$.principles') p
WHERE p.type = 'object' AND CASE WHEN p.type = 'object' THEN json_type(p.value, '$.violated') END = 'true'
  AND CASE WHEN p.type = 'object' THEN json_type(p.value, '$.id') END = 'text'
"""

SQLITE_TRIGGER = f"""
CREATE TRIGGER decisions_counts AFTER INSERT ON decisions FOR EACH ROW BEGIN
  INSERT INTO decision_counts (day, decision, community, principle, n)
  VALUES (date(NEW.created_at), NEW.decision, coalesce(NEW.community, ''), '', 1)
  ON CONFLICT (day, decision, community, principle) DO UPDATE SET n = n + 1;
  INSERT INTO decision_counts (day, decision, community, principle, n)
  SELECT date(NEW.created_at), NEW.decision, coalesce(NEW.community, ''), v.principle, 1
  FROM ({SQLITE_PRINCIPLES.format(row="NEW")}) v WHERE true
  ON CONFLICT (day, decision, community, principle) DO UPDATE SET n = n + 1;
END
"""

SQLITE_BACKFILL = """
INSERT INTO decision_counts (day, decision, community, principle, n)
SELECT day, decision, community, principle, count(DISTINCT id) FROM (
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


def upgrade() -> None:
    op.create_table(
        "decision_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("community", sa.String(200), nullable=False),
        sa.Column("principle", sa.String(200), nullable=False),
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("day", "decision", "community", "principle", name="pk_decision_counts"),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)  # locks decisions against writers until the migration commits
        op.execute(PG_ADD.format(groups=PG_GROUPS.format(src="decisions")))
    else:
        op.execute(SQLITE_TRIGGER)
        op.execute(SQLITE_BACKFILL)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decisions_counts ON decisions")
        op.execute("DROP FUNCTION IF EXISTS accord_decision_counts()")
    else:
        op.execute("DROP TRIGGER IF EXISTS decisions_counts")
    op.drop_table("decision_counts")
