"""Reminders and the e-mail outbox: reminder_schedule, reminders, outbox_mail.

Versions already out for decision are put on the reminder schedule for each
member board that has not decided, due at once: the first sweep then queues
the latest slot that is due and records the older ones as coalesced.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reminder_schedule",
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("board_id", sa.String(length=64), nullable=False),
        sa.Column("handled_through", sa.Integer(), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_reminder_schedule_board_id_boards")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_reminder_schedule_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("version_id", "board_id", name=op.f("pk_reminder_schedule")),
    )
    op.create_index(op.f("ix_reminder_schedule_next_due_at"), "reminder_schedule", ["next_due_at"])

    op.create_table(
        "reminders",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("board_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending','sending','sent','failed','coalesced','cancelled')",
            name=op.f("ck_reminders_status"),
        ),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_reminders_board_id_boards")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_reminders_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("version_id", "board_id", "slot", name=op.f("uq_reminders_version_id")),
    )
    op.create_index(
        "ix_reminders_version_scheduled", "reminders", ["version_id", "scheduled_for", "id"]
    )

    op.create_table(
        "outbox_mail",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=True),
        sa.Column("version_id", sa.String(length=36), nullable=True),
        sa.Column("board_id", sa.String(length=64), nullable=True),
        sa.Column("reminder_id", BIG_ID, nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending','sending','sent','failed','cancelled')",
            name=op.f("ck_outbox_mail_status"),
        ),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_outbox_mail_board_id_boards")
        ),
        sa.ForeignKeyConstraint(
            ["reminder_id"], ["reminders.id"], name=op.f("fk_outbox_mail_reminder_id_reminders")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_outbox_mail_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_mail")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_mail_key")),
        sa.UniqueConstraint("reminder_id", name=op.f("uq_outbox_mail_reminder_id")),
    )
    op.create_index(op.f("ix_outbox_mail_next_attempt_at"), "outbox_mail", ["next_attempt_at"])

    op.execute(
        "INSERT INTO reminder_schedule (version_id, board_id, handled_through, next_due_at) "
        "SELECT v.id, pb.board_id, NULL, v.sent_out_at "
        "FROM versions v JOIN program_boards pb ON pb.program_id = v.program_id "
        "WHERE v.state = 'sent_out' AND v.sent_out_at IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM decisions d WHERE d.version_id = v.id AND d.board_id = pb.board_id "
        "AND d.outcome IN ('approved','rejected','amended'))"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_mail_next_attempt_at"), table_name="outbox_mail")
    op.drop_table("outbox_mail")
    op.drop_index("ix_reminders_version_scheduled", table_name="reminders")
    op.drop_table("reminders")
    op.drop_index(op.f("ix_reminder_schedule_next_due_at"), table_name="reminder_schedule")
    op.drop_table("reminder_schedule")
