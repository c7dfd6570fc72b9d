"""Indexes for a store of millions of decisions: the dashboard, the drift job, ``audit list``.

- ``(created_at, decision, community)``: a time window's decisions counted per community and
  decision read from the index alone (the drift job's rate test, the dashboard's escalation
  rate per day);
- ``(community, created_at)``: one community's window;
- ``(decision, id)``: ``audit list --decision X`` newest first, and counts per decision, without
  the table (replaces the single-column ``decision`` index, which it covers);
- ``(source, id)``: one source's decisions (a re-audit's rows) newest or oldest first;
- ``reviews(created_at)``: the reviews of a window (judge–reviewer agreement drift);
- PostgreSQL only: a GIN index (``jsonb_path_ops``) on the verdict's principles, so "decisions
  that violate principle X" (``verdict_json -> 'principles' @> '[{"id": "x", "violated": true}]'``)
  is an index lookup. SQLite has no GIN; it scans there.

Revision ID: 0005_scale_indexes
Revises: 0004_review_answers
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_scale_indexes"
down_revision: str | None = "0004_review_answers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRINCIPLES_GIN = "ix_decisions_principles"


def upgrade() -> None:
    op.create_index("ix_decisions_created_at_decision_community", "decisions", ["created_at", "decision", "community"])
    op.create_index("ix_decisions_community_created_at", "decisions", ["community", "created_at"])
    op.create_index("ix_decisions_decision_id", "decisions", ["decision", "id"])
    op.drop_index("ix_decisions_decision", table_name="decisions")
    op.create_index("ix_decisions_source_id", "decisions", ["source", "id"])
    op.create_index("ix_reviews_created_at", "reviews", ["created_at"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {PRINCIPLES_GIN} ON decisions USING gin ((verdict_json -> 'principles') jsonb_path_ops)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PRINCIPLES_GIN}")
    op.drop_index("ix_reviews_created_at", table_name="reviews")
    op.drop_index("ix_decisions_source_id", table_name="decisions")
    op.create_index("ix_decisions_decision", "decisions", ["decision"])
    op.drop_index("ix_decisions_decision_id", table_name="decisions")
    op.drop_index("ix_decisions_community_created_at", table_name="decisions")
    op.drop_index("ix_decisions_created_at_decision_community", table_name="decisions")
