"""Tamper evidence: every decision carries a hash chained to the decision before it.

``chain`` is SHA-256 over the previous row's ``chain`` and this row's content (see
:func:`accord.store.store.chain_hash`); :meth:`accord.store.Store.verify` recomputes it and names
the first record that does not follow. Rows written before this revision have no chain (NULL) and
are reported as unchained; once a chained row exists, every later row must be chained.

Revision ID: 0003_decision_chain
Revises: 0002_review_users
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_decision_chain"
down_revision: str | None = "0002_review_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("chain", sa.String(64), nullable=True))


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("decisions") as b:
            b.drop_column("chain")
    else:
        op.drop_column("decisions", "chain")
