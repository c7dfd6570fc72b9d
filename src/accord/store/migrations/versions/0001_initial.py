"""Initial audit store: decisions, feedback, model versions and events, review queue, audit events.

Every table is append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), so
a correction is always a new row that points to the row it amends.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copies of the types in accord.store.models: a migration must not change when models do
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)

TABLES = ("decisions", "feedback", "model_versions", "model_events", "review_items", "reviews", "audit_events")
MESSAGE = "is append-only; record a new row that amends it instead"


def _id() -> sa.Column:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def _created() -> sa.Column:
    return sa.Column("created_at", Time, nullable=False)


def upgrade() -> None:
    op.create_table(
        "decisions",
        _id(),
        sa.Column("trace_id", sa.String(64), nullable=False),
        _created(),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("community", sa.String(200), nullable=True),
        sa.Column("judge_version", sa.String(400), nullable=False),
        sa.Column("case_id", sa.String(400), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("case_json", Json, nullable=False),
        sa.Column("verdict_json", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.UniqueConstraint("trace_id", name="uq_decisions_trace_id"),
        sa.CheckConstraint("decision IN ('allow', 'revise', 'block', 'escalate')", name="ck_decisions_decision"),
    )
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    op.create_index("ix_decisions_decision", "decisions", ["decision"])
    op.create_index("ix_decisions_case_id", "decisions", ["case_id"])

    op.create_table(
        "feedback",
        _id(),
        _created(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("chosen", sa.Text(), nullable=True),
        sa.Column("rejected", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("principle", sa.String(200), nullable=True),
        sa.Column("record_source", sa.String(400), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("author", sa.String(200), nullable=True),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("amends", Id, nullable=True),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.ForeignKeyConstraint(["amends"], ["feedback.id"], name="fk_feedback_amends_feedback"),
        sa.UniqueConstraint("amends", name="uq_feedback_amends"),
        sa.CheckConstraint("kind IN ('label', 'preference', 'demonstration')", name="ck_feedback_kind"),
        sa.CheckConstraint("verdict IS NULL OR verdict IN ('acceptable', 'unacceptable')", name="ck_feedback_verdict"),
        sa.CheckConstraint("weight > 0", name="ck_feedback_weight"),
    )
    op.create_index("ix_feedback_kind", "feedback", ["kind"])
    op.create_index("ix_feedback_trace_id", "feedback", ["trace_id"])

    op.create_table(
        "model_versions",
        _id(),
        _created(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("card", Json, nullable=False),
        sa.Column("metrics", Json, nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    )

    op.create_table(
        "model_events",
        _id(),
        _created(),
        sa.Column("model_id", Id, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_events"),
        sa.ForeignKeyConstraint(["model_id"], ["model_versions.id"], name="fk_model_events_model_id_model_versions"),
        sa.CheckConstraint("event IN ('promote', 'rollback')", name="ck_model_events_event"),
    )
    op.create_index("ix_model_events_model_id", "model_events", ["model_id"])

    op.create_table(
        "review_items",
        _id(),
        _created(),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("case_json", Json, nullable=False),
        sa.Column("verdict_json", Json, nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("community", sa.String(200), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
    )
    op.create_index("ix_review_items_trace_id", "review_items", ["trace_id"])
    op.create_index("ix_review_items_priority", "review_items", ["priority"])
    op.create_index("ix_review_items_community", "review_items", ["community"])

    op.create_table(
        "reviews",
        _id(),
        sa.Column("item_id", Id, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        _created(),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("principles", Json, nullable=False),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("amends", Id, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.ForeignKeyConstraint(["item_id"], ["review_items.id"], name="fk_reviews_item_id_review_items"),
        sa.ForeignKeyConstraint(["amends"], ["reviews.id"], name="fk_reviews_amends_reviews"),
        sa.UniqueConstraint("amends", name="uq_reviews_amends"),
        sa.CheckConstraint("decision IN ('allow', 'block')", name="ck_reviews_decision"),
    )
    op.create_index("ix_reviews_item_id", "reviews", ["item_id"])
    op.create_index("ix_reviews_reviewer", "reviews", ["reviewer"])

    op.create_table(
        "audit_events",
        _id(),
        _created(),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_kind", "audit_events", ["kind"])
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])

    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_append_only_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'accord: {table} {MESSAGE} ({verb} refused)'); END"
                )
    elif dialect == "postgresql":
        # no percent signs in the body: the DBAPI's paramstyle would read them as placeholders
        op.execute(
            "CREATE OR REPLACE FUNCTION accord_append_only() RETURNS trigger LANGUAGE plpgsql AS $body$ "
            "BEGIN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', "
            f"MESSAGE = 'accord: ' || TG_TABLE_NAME || ' {MESSAGE} (' || TG_OP || ' refused)'; END $body$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION accord_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION accord_append_only()"
            )
    # other databases: append-only is enforced by the API only (the store has no update or delete)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{verb}")
    elif dialect == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS accord_append_only()")
    for table in reversed(TABLES):
        op.drop_table(table)
