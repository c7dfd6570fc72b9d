"""Review web app users: one append-only row per change (added, password set, role or communities changed, disabled).

The newest row of a name is the user as they are now; older rows are the history. Passwords
are stored only as salted scrypt hashes.

Revision ID: 0002_review_users
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_review_users"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)
MESSAGE = "is append-only; record a new row that amends it instead"


def upgrade() -> None:
    op.create_table(
        "review_users",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("communities", Json, nullable=False),
        sa.Column("password_hash", sa.String(400), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_users"),
        sa.CheckConstraint("role IN ('reviewer', 'admin')", name="ck_review_users_role"),
    )
    op.create_index("ix_review_users_name", "review_users", ["name"])
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER review_users_append_only_{verb.lower()} BEFORE {verb} ON review_users "
                f"BEGIN SELECT RAISE(ABORT, 'accord: review_users {MESSAGE} ({verb} refused)'); END"
            )
    elif dialect == "postgresql":
        # accord_append_only() was created by revision 0001
        op.execute("CREATE TRIGGER review_users_append_only BEFORE UPDATE OR DELETE ON review_users "
                   "FOR EACH ROW EXECUTE FUNCTION accord_append_only()")
        op.execute("CREATE TRIGGER review_users_no_truncate BEFORE TRUNCATE ON review_users "
                   "FOR EACH STATEMENT EXECUTE FUNCTION accord_append_only()")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS review_users_append_only_{verb}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS review_users_append_only ON review_users")
        op.execute("DROP TRIGGER IF EXISTS review_users_no_truncate ON review_users")
    op.drop_index("ix_review_users_name", table_name="review_users")
    op.drop_table("review_users")
