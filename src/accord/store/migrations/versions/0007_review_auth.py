"""Review app sign-in state shared by every worker process: sessions ended by signing out, and
failed sign-ins for the login throttle (see :mod:`accord.review.sessions`).

Both are append-only like every table of the store (deleting a row of ``review_sessions_ended``
would make a signed-out cookie work again; a success is a row of ``review_signin_failures`` with
``ok`` true, after which the account's failures no longer count).

Revision ID: 0007_review_auth
Revises: 0006_decision_counts
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_review_auth"
down_revision: str | None = "0006_decision_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MESSAGE = "is append-only; record a new row that amends it instead"
TABLES = ("review_sessions_ended", "review_signin_failures")


def upgrade() -> None:
    op.create_table(
        "review_sessions_ended",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_sessions_ended"),
    )
    op.create_index("ix_review_sessions_ended_sid", "review_sessions_ended", ["sid"])
    op.create_table(
        "review_signin_failures",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_signin_failures"),
    )
    op.create_index("ix_review_signin_failures_key_at", "review_signin_failures", ["key", "at"])
    dialect = op.get_context().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_append_only_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'accord: {table} {MESSAGE} ({verb} refused)'); END"
                )
        elif dialect == "postgresql":
            # accord_append_only() was created by revision 0001
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION accord_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION accord_append_only()")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{verb}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.drop_index("ix_review_signin_failures_key_at", table_name="review_signin_failures")
    op.drop_table("review_signin_failures")
    op.drop_index("ix_review_sessions_ended_sid", table_name="review_sessions_ended")
    op.drop_table("review_sessions_ended")
