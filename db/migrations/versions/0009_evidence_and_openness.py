"""Evidence and openness: public programs, calendar feed secrets, and their event types.

- `programs.public` (false for every existing program): shown on the public
  notice page and its calendar only once the secretariat publishes it.
- `calendar_feeds`: a key's feed URLs for calendar clients, each secret
  stored only as its SHA-256 hash, revoked on its own.
- The event types of this revision: `program.published`,
  `program.unpublished`, `feed.created`, `feed.revoked`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.migrations.vocabulary import check_words

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EVENT_TYPES = (
    "board.created",
    "program.created",
    "program.published",
    "program.unpublished",
    "version.drafted",
    "version.imported",
    "version.sent_out",
    "version.withdrawn",
    "version.rejected",
    "version.in_force",
    "version.superseded",
    "version.reopened",
    "version.reinstated",
    "version.corrected",
    "version.final",
    "decision.recorded",
    "decision.imported",
    "decision.announced",
    "decision.corrected",
    "decision.annulled",
    "decision.final",
    "appeal.lodged",
    "appeal.ruled",
    "reminder.sent",
    "reminder.failed",
    "mail.sent",
    "mail.failed",
    "key.created",
    "key.revoked",
    "feed.created",
    "feed.revoked",
    "webhook.created",
    "webhook.deleted",
    "webhook.secret_rotated",
)
NEW_TYPES = {"program.published", "program.unpublished", "feed.created", "feed.revoked"}


def upgrade() -> None:
    op.add_column(
        "programs",
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key_id", BIG_ID, nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_calendar_feeds_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_calendar_feeds_secret_hash")),
    )
    op.create_index("ix_calendar_feeds_key_id", "calendar_feeds", ["key_id"])
    check_words("events", "type", EVENT_TYPES)


def downgrade() -> None:
    check_words("events", "type", [t for t in EVENT_TYPES if t not in NEW_TYPES])
    op.drop_index("ix_calendar_feeds_key_id", table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
    with op.batch_alter_table("programs") as batch_op:
        batch_op.drop_column("public")
