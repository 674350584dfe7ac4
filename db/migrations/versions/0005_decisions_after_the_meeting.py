"""Decisions after the meeting: appeal period, legal force, appeals, corrections, annulment.

- `decisions` gains `appeal_until` (the last day to appeal), `status`
  (standing, appealed, annulled), `corrected`, and the clock's
  `final_noted_on`; `final_on` now means the day the decision gains legal
  force, the day after `appeal_until` (it used to hold the last day to
  appeal): every decision with an `announced_on` is recomputed. One final
  decision per version and board now counts only decisions not annulled.
- `versions` gains `final_on`, `entries` (how many times it entered into
  force: a court can send it back) and `final_noted_on`.
- `appeals` and `corrections`.
- `event_keys` holds the keys of events that may happen only once, in place
  of the unique index "one `version.in_force` per version": a version may
  now enter into force a second time, once per entry. Existing entries get
  the key of a first entry.
- The event types of this revision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:00:00.000000
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

from db.migrations.vocabulary import check_words, drop_check
from workflow.dates import appeal_until, final_on

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
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
    "webhook.created",
    "webhook.deleted",
    "webhook.secret_rotated",
)
NEW_TYPES = {
    "version.reopened",
    "version.reinstated",
    "version.corrected",
    "version.final",
    "decision.announced",
    "decision.corrected",
    "decision.annulled",
    "decision.final",
    "appeal.lodged",
    "appeal.ruled",
}
DECISION_STATUSES = ("standing", "appealed", "annulled")
APPEAL_OUTCOMES = ("rejected", "dismissed", "withdrawn", "annulled")
OLD_FINAL = "outcome IN ('approved','rejected','amended')"
FINAL = OLD_FINAL + " AND status <> 'annulled'"


def upgrade() -> None:
    op.add_column("decisions", sa.Column("appeal_until", sa.Date(), nullable=True))
    op.add_column(
        "decisions",
        sa.Column("status", sa.String(length=16), server_default="standing", nullable=False),
    )
    op.add_column(
        "decisions",
        sa.Column("corrected", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("decisions", sa.Column("final_noted_on", sa.Date(), nullable=True))
    check_words("decisions", "status", DECISION_STATUSES)
    op.drop_index(
        "uq_decisions_one_final",
        table_name="decisions",
        postgresql_where=sa.text(OLD_FINAL),
        sqlite_where=sa.text(OLD_FINAL),
    )
    op.create_index(
        "uq_decisions_one_final",
        "decisions",
        ["version_id", "board_id"],
        unique=True,
        postgresql_where=sa.text(FINAL),
        sqlite_where=sa.text(FINAL),
    )
    op.add_column("versions", sa.Column("final_on", sa.Date(), nullable=True))
    op.add_column(
        "versions", sa.Column("entries", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("versions", sa.Column("final_noted_on", sa.Date(), nullable=True))
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("lodged_on", sa.Date(), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("ruled_on", sa.Date(), nullable=True),
        sa.Column("ruling_final_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ruled_by", sa.String(length=200), nullable=True),
        sa.Column("ruled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('rejected','dismissed','withdrawn','annulled')",
            name=op.f("ck_appeals_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_appeals_decision_id_decisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    op.create_index("ix_appeals_decision", "appeals", ["decision_id", "lodged_on"])
    op.create_table(
        "corrections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_role", sa.String(length=16), nullable=False),
        sa.Column("recorded_by_board", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_corrections_decision_id_decisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    op.create_index("ix_corrections_decision", "corrections", ["decision_id", "recorded_at"])
    op.create_table(
        "event_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("event_seq", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name=op.f("fk_event_keys_event_seq_events")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_event_keys")),
    )
    op.execute(
        # (':' || '1' rather than ':1', which SQLAlchemy would take for a parameter)
        "INSERT INTO event_keys (key, event_seq) SELECT 'version.in_force:' || version_id"
        " || ':' || '1', seq FROM events WHERE type = 'version.in_force'"
    )
    op.drop_index(
        "uq_events_one_in_force",
        table_name="events",
        postgresql_where=sa.text("type = 'version.in_force'"),
        sqlite_where=sa.text("type = 'version.in_force'"),
    )
    check_words("events", "type", EVENT_TYPES)
    _carry_dates()


def _carry_dates() -> None:
    """The corrected rule for every decision already announced, and what versions in force
    through ratify now know: one entry, and their legal-force date once every approval's is."""
    bind = op.get_bind()
    for decision_id, announced_on in bind.execute(
        sa.text("SELECT id, announced_on FROM decisions WHERE announced_on IS NOT NULL")
    ):
        day = announced_on if isinstance(announced_on, date) else date.fromisoformat(announced_on)
        bind.execute(
            sa.text("UPDATE decisions SET appeal_until = :until, final_on = :final WHERE id = :id"),
            {"until": appeal_until(day), "final": final_on(day), "id": decision_id},
        )
    op.execute(
        "UPDATE versions SET entries = 1 WHERE id IN"
        " (SELECT version_id FROM events WHERE type = 'version.in_force')"
    )
    entered = bind.execute(
        sa.text("SELECT id, program_id FROM versions WHERE state = 'in_force' AND entries > 0")
    ).all()
    for version_id, program_id in entered:
        members = bind.execute(
            sa.text("SELECT count(*) FROM program_boards WHERE program_id = :p"), {"p": program_id}
        ).scalar_one()
        finals = (
            bind.execute(
                sa.text(
                    "SELECT final_on FROM decisions WHERE version_id = :v AND outcome = 'approved'"
                ),
                {"v": version_id},
            )
            .scalars()
            .all()
        )
        if len(finals) == members and None not in finals:
            bind.execute(
                sa.text("UPDATE versions SET final_on = :f WHERE id = :v"),
                {"f": max(finals), "v": version_id},
            )


def downgrade() -> None:
    check_words("events", "type", [t for t in EVENT_TYPES if t not in NEW_TYPES])
    op.create_index(
        "uq_events_one_in_force",
        "events",
        ["version_id"],
        unique=True,
        postgresql_where=sa.text("type = 'version.in_force'"),
        sqlite_where=sa.text("type = 'version.in_force'"),
    )
    op.drop_table("event_keys")
    op.drop_index("ix_corrections_decision", table_name="corrections")
    op.drop_table("corrections")
    op.drop_index("ix_appeals_decision", table_name="appeals")
    op.drop_table("appeals")
    with op.batch_alter_table("versions") as batch_op:
        batch_op.drop_column("final_noted_on")
        batch_op.drop_column("entries")
        batch_op.drop_column("final_on")
    op.drop_index(
        "uq_decisions_one_final",
        table_name="decisions",
        postgresql_where=sa.text(FINAL),
        sqlite_where=sa.text(FINAL),
    )
    op.create_index(
        "uq_decisions_one_final",
        "decisions",
        ["version_id", "board_id"],
        unique=True,
        postgresql_where=sa.text(OLD_FINAL),
        sqlite_where=sa.text(OLD_FINAL),
    )
    drop_check("decisions", "status")
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.drop_column("final_noted_on")
        batch_op.drop_column("corrected")
        batch_op.drop_column("status")
        batch_op.drop_column("appeal_until")
