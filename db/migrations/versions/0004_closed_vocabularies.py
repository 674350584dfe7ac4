"""Closed vocabularies: CHECK constraints on event types and webhook delivery statuses.

The lists are the enums of `workflow/` (`EventType`, `DeliveryStatus`) as they
stand at this revision; a later revision that adds a word replaces the
constraint. SQLite cannot add a constraint to a table in place (a rebuild of
the append-only events table would need the deletes its triggers refuse), so
there triggers on insert and update hold the same rule.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:40:00.000000
"""

from collections.abc import Sequence

from db.migrations.vocabulary import check_words, drop_check

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_TYPES = (
    "board.created",
    "program.created",
    "version.drafted",
    "version.imported",
    "version.sent_out",
    "version.withdrawn",
    "version.rejected",
    "version.in_force",
    "version.superseded",
    "decision.recorded",
    "decision.imported",
    "reminder.sent",
    "reminder.failed",
    "mail.sent",
    "mail.failed",
    "key.created",
    "key.revoked",
    "webhook.created",
    "webhook.deleted",
    "webhook.secret_rotated",
)
DELIVERY_STATUSES = ("pending", "delivering", "delivered", "failed")


def upgrade() -> None:
    check_words("events", "type", EVENT_TYPES)
    check_words("webhook_deliveries", "status", DELIVERY_STATUSES)


def downgrade() -> None:
    drop_check("webhook_deliveries", "status")
    drop_check("events", "type")
