"""Review answers besides allow and block: ``depends`` (on the community) and ``discuss``.

A reviewer can say a case "depends on the community" and name the communities it is acceptable
for (new nullable column ``reviews.communities``), or that it "needs discussion". The decision
check constraint grows to the four answers. On SQLite the table is rebuilt (a CHECK constraint
cannot be altered there): the append-only triggers are dropped for the rebuild and made again.

Revision ID: 0004_review_answers
Revises: 0003_decision_chain
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_review_answers"
down_revision: str | None = "0003_decision_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MESSAGE = "is append-only; record a new row that amends it instead"
NEW = "decision IN ('allow', 'block', 'depends', 'discuss')"
OLD = "decision IN ('allow', 'block')"


def _sqlite_triggers(create: bool) -> None:
    for verb in ("UPDATE", "DELETE"):
        if create:
            op.execute(f"CREATE TRIGGER reviews_append_only_{verb.lower()} BEFORE {verb} ON reviews "
                       f"BEGIN SELECT RAISE(ABORT, 'accord: reviews {MESSAGE} ({verb} refused)'); END")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS reviews_append_only_{verb.lower()}")


def _rebuild_sqlite(check: str, with_communities: bool) -> None:
    """SQLite: a new ``reviews`` table with ``check``, the rows copied over, the old one dropped."""
    cols = "id, item_id, reviewer, created_at, decision, principles, correction, comment, amends"
    _sqlite_triggers(create=False)
    op.execute(
        "CREATE TABLE reviews_rebuilt ("
        "id INTEGER NOT NULL, item_id INTEGER NOT NULL, reviewer VARCHAR(200) NOT NULL, "
        "created_at DATETIME NOT NULL, decision VARCHAR(16) NOT NULL, principles JSON NOT NULL, "
        "correction TEXT, comment TEXT, amends INTEGER, " + ("communities JSON, " if with_communities else "")
        + "CONSTRAINT pk_reviews PRIMARY KEY (id), "
        "CONSTRAINT fk_reviews_item_id_review_items FOREIGN KEY(item_id) REFERENCES review_items (id), "
        "CONSTRAINT fk_reviews_amends_reviews FOREIGN KEY(amends) REFERENCES reviews_rebuilt (id), "
        "CONSTRAINT uq_reviews_amends UNIQUE (amends), "
        f"CONSTRAINT ck_reviews_decision CHECK ({check}))"
    )
    op.execute(f"INSERT INTO reviews_rebuilt ({cols}) SELECT {cols} FROM reviews ORDER BY id")
    op.execute("DROP TABLE reviews")
    op.execute("ALTER TABLE reviews_rebuilt RENAME TO reviews")
    op.create_index("ix_reviews_item_id", "reviews", ["item_id"])
    op.create_index("ix_reviews_reviewer", "reviews", ["reviewer"])
    _sqlite_triggers(create=True)


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _rebuild_sqlite(NEW, with_communities=True)
        return
    op.add_column("reviews", sa.Column("communities", Json, nullable=True))
    op.drop_constraint("ck_reviews_decision", "reviews", type_="check")
    op.create_check_constraint("ck_reviews_decision", "reviews", NEW)


def downgrade() -> None:
    # refused while the store holds answers the older schema cannot: it would lose them
    n = op.get_bind().execute(sa.text("SELECT count(*) FROM reviews WHERE decision NOT IN ('allow', 'block')")).scalar()
    if n:
        raise RuntimeError(f"{n} review(s) answer 'depends' or 'discuss'; the older schema cannot hold them")
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _rebuild_sqlite(OLD, with_communities=False)
        return
    op.drop_constraint("ck_reviews_decision", "reviews", type_="check")
    op.create_check_constraint("ck_reviews_decision", "reviews", OLD)
    op.drop_column("reviews", "communities")
