"""Idempotency keys expire: an index on `created_at` for the scheduler's set-based delete.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 00:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the keys by age, so expiring them reads only the expired ones."""
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
