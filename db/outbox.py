"""The e-mail outbox and the reminder tables, and the functions that claim and settle them.

    reminder_schedule   one row per (version, board) still to be reminded:
                        when the sweep should next look (`next_due_at`) and
                        the last slot it has handled. Deleted when the board
                        decides or the version leaves `sent_out`.
    reminders           one row per (version, board, slot) the sweep handled:
                        pending → sending → sent | failed, or coalesced /
                        cancelled. The unique key makes the sweep idempotent.
    outbox_mail         every e-mail to send (reminders and notices), with a
                        unique key, the composed message and its delivery
                        state. Due ⇔ `next_attempt_at <= now`; a claim is a
                        lease that postpones `next_attempt_at`, so a crash
                        between claim and send is a retry, never a loss.

Only rows with work left have a `next_due_at` / `next_attempt_at`, and both
are indexed, so finding what is due costs what is due, not the history.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from db import audit, models
from db.base import Base, BigId, UTCDateTime
from db.engine import Database
from db.queries import View, page
from workflow.actors import SYSTEM
from workflow.events import Event
from workflow.reminders import retry_delay

REMINDER_STATUSES = "'pending','sending','sent','failed','coalesced','cancelled'"
MAIL_STATUSES = "'pending','sending','sent','failed','cancelled'"


class ReminderSchedule(Base):
    """A board that still owes a decision on a version sent out: when to look next."""

    __tablename__ = "reminder_schedule"

    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id"), primary_key=True)
    handled_through: Mapped[int | None] = mapped_column(Integer)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Reminder(Base):
    """One reminder slot of one board on one version, and what became of it."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("version_id", "board_id", "slot"),
        CheckConstraint(f"status IN ({REMINDER_STATUSES})", name="status"),
        Index("ix_reminders_version_scheduled", "version_id", "scheduled_for", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id"))
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id"))
    slot: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMail(Base):
    """One e-mail to send, written in the same transaction as the state that caused it."""

    __tablename__ = "outbox_mail"
    __table_args__ = (CheckConstraint(f"status IN ({MAIL_STATUSES})", name="status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    program_id: Mapped[str | None] = mapped_column(String(64))
    version_id: Mapped[str | None] = mapped_column(ForeignKey("versions.id"))
    board_id: Mapped[str | None] = mapped_column(ForeignKey("boards.id"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    lease: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def insert_once(session: Session, row: Base) -> bool:
    """Add `row` in a savepoint; False (and nothing added) when its unique key is taken."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def _insert_skipping(
    session: Session, table: type[Base], rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """Insert `rows`, skipping those whose unique key is taken (`ON CONFLICT DO NOTHING`);
    the `returning` columns of the rows added.

    One statement, executed for many parameter sets: SQLAlchemy sends them as
    multi-row INSERTs ("insertmanyvalues") and compiles the statement once per
    process, not once per call.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing().returning(*returning)
    return list(session.connection().execute(statement, rows).all())


def record_coalesced(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert reminder rows that will never be sent, skipping keys already taken; how many."""
    if not rows:
        return 0
    return len(_insert_skipping(session, Reminder, rows, Reminder.id))


def insert_pending(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    """Insert reminder rows to be sent, skipping (version, board, slot) keys already taken.

    One statement for many rows (the sweep queues a version's boards together);
    returns the id of each row added by its (board, slot).
    """
    if not rows:
        return {}
    added = _insert_skipping(session, Reminder, rows, Reminder.board_id, Reminder.slot, Reminder.id)
    return {(board_id, slot): reminder_id for board_id, slot, reminder_id in added}


def insert_mail(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox e-mails in one statement, skipping keys already taken; how many."""
    if not rows:
        return 0
    return len(_insert_skipping(session, OutboxMail, rows, OutboxMail.id))


def stop_reminders(session: Session, version_id: str, board_id: str | None = None) -> None:
    """No more reminders to one board (or every board) on a version: called in-transaction.

    The schedule row goes first: on PostgreSQL that waits for a sweep that
    holds it, so the cancellation below then sees whatever that sweep queued.
    """
    where_schedule = [ReminderSchedule.version_id == version_id]
    where_reminder = [Reminder.version_id == version_id, Reminder.status == "pending"]
    if board_id is not None:
        where_schedule.append(ReminderSchedule.board_id == board_id)
        where_reminder.append(Reminder.board_id == board_id)
    session.execute(delete(ReminderSchedule).where(*where_schedule))
    pending = select(Reminder.id).where(*where_reminder).scalar_subquery()
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.reminder_id.in_(pending), OutboxMail.status == "pending")
        .values(status="cancelled", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Reminder)
        .where(*where_reminder)
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def supersede_pending(
    session: Session, version_id: str, board_ids: Collection[str], before_slot: int
) -> None:
    """Unsent reminders older than a newly due slot are coalesced into it, never sent.

    For several boards of one version at once (two statements, whatever their number).
    """
    where = [
        Reminder.version_id == version_id,
        Reminder.board_id.in_(list(board_ids)),
        Reminder.slot < before_slot,
        Reminder.status == "pending",
    ]
    older = select(Reminder.id).where(*where).scalar_subquery()
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.reminder_id.in_(older), OutboxMail.status == "pending")
        .values(status="cancelled", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Reminder)
        .where(*where)
        .values(status="coalesced")
        .execution_options(synchronize_session=False)
    )


def due_versions(session: Session, now: datetime, limit: int) -> list[str]:
    """Versions with at least one schedule row due at `now` (an indexed range scan)."""
    return list(
        session.scalars(
            select(ReminderSchedule.version_id)
            .where(ReminderSchedule.next_due_at <= now)
            .group_by(ReminderSchedule.version_id)
            .order_by(func.min(ReminderSchedule.next_due_at))
            .limit(limit)
        )
    )


def lock_due(
    session: Session, version_id: str, now: datetime
) -> tuple[models.Version | None, list[ReminderSchedule]]:
    """The version and its schedule rows due at `now`, locked; rows another sweep holds
    are skipped.

    The version row is locked first (`FOR KEY SHARE`), the order a decision
    takes its locks in (version, then schedule rows), so a sweep and a
    decision on the same version queue behind each other instead of
    deadlocking over the reminder rows' foreign key.
    """
    version = session.scalars(
        select(models.Version)
        .where(models.Version.id == version_id)
        .with_for_update(read=True, key_share=True)
    ).one_or_none()
    rows = session.scalars(
        select(ReminderSchedule)
        .where(ReminderSchedule.version_id == version_id, ReminderSchedule.next_due_at <= now)
        .order_by(ReminderSchedule.board_id)
        .with_for_update(skip_locked=True)
    )
    return version, list(rows)


@dataclass(frozen=True, slots=True)
class Claimed:
    """An e-mail this process has leased and is about to send."""

    id: int
    lease: str
    kind: str
    recipient: str
    message_id: str
    message: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Retry:
    """How deliveries retry: the most attempts, the backoff cap and the claim's lease."""

    max_attempts: int = 8
    cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)


def claim(db: Database, now: datetime, limit: int, retry: Retry) -> list[Claimed]:
    """Lease up to `limit` due e-mails for this process (one short transaction).

    `FOR UPDATE SKIP LOCKED` on PostgreSQL and `BEGIN IMMEDIATE` on SQLite
    keep two processes from claiming the same row. A lease that ran out (its
    process died before settling) makes the row due again: a retry, not a
    loss. A row whose last allowed attempt never settled is given up.
    """
    with db.writes() as session:
        rows = session.scalars(
            select(OutboxMail)
            .where(OutboxMail.next_attempt_at <= now)
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for row in rows:
            if row.attempts >= retry.max_attempts:
                _give_up(session, row, "the last attempt never finished", now)
                continue
            row.status, row.attempts = "sending", row.attempts + 1
            row.lease = uuid.uuid4().hex
            row.next_attempt_at = now + retry.lease
            _mirror(session, row)
            claimed.append(
                Claimed(
                    row.id,
                    row.lease,
                    row.kind,
                    row.recipient,
                    row.message_id,
                    row.message.encode(),
                    row.attempts,
                )
            )
        session.commit()
    return claimed


def settle(
    db: Database, mail: Claimed, now: datetime, retry: Retry, error: str | None = None
) -> str:
    """Record how a send went, with its audit event, and return the row's new status.

    A row whose lease is no longer `mail.lease` (it ran out and another
    process took it over) is left alone: `"lost_lease"`.
    """
    with db.writes() as session:
        row = session.get(OutboxMail, mail.id, with_for_update=True)
        if row is None or row.lease != mail.lease or row.status != "sending":
            return "lost_lease"
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
            row.next_attempt_at, row.lease = None, None
            _mirror(session, row)
            _audit(session, row, "sent", now)
        elif row.attempts >= retry.max_attempts:
            _give_up(session, row, error, now)
        else:
            row.status, row.last_error, row.lease = "pending", error, None
            row.next_attempt_at = now + retry_delay(row.attempts, retry.cap)
            _mirror(session, row)
        status = row.status
        session.commit()
    return status


def _give_up(session: Session, row: OutboxMail, error: str, now: datetime) -> None:
    row.status, row.last_error, row.next_attempt_at, row.lease = "failed", error, None, None
    _mirror(session, row)
    _audit(session, row, "failed", now)


def _mirror(session: Session, row: OutboxMail) -> None:
    """A reminder's row shows its e-mail's delivery state."""
    if row.reminder_id is None:
        return
    reminder = session.get_one(Reminder, row.reminder_id)
    reminder.status, reminder.attempts = row.status, row.attempts
    reminder.sent_at, reminder.last_error = row.sent_at, row.last_error


def _audit(session: Session, row: OutboxMail, outcome: str, now: datetime) -> None:
    """`reminder.sent` / `reminder.failed`, or `mail.sent` / `mail.failed` for notices."""
    data: dict[str, Any] = {
        "kind": row.kind,
        "message_id": row.message_id,
        "to": row.recipient,
        "attempts": row.attempts,
    }
    prefix = "mail"
    if row.reminder_id is not None:
        prefix = "reminder"
        reminder = session.get_one(Reminder, row.reminder_id)
        data["slot"] = reminder.slot
        data["scheduled_for"] = reminder.scheduled_for.isoformat()
    if outcome == "failed":
        data["error"] = row.last_error
    event = Event(f"{prefix}.{outcome}", row.program_id, row.version_id, row.board_id, data)
    audit.append(session, [event], SYSTEM, now)


def reminder_view(row: Reminder, message_id: str | None) -> View:
    """One reminder as `GET /v1/versions/{id}/reminders` shows it."""
    return {
        "board_id": row.board_id,
        "kind": row.kind,
        "slot": row.slot,
        "scheduled_for": row.scheduled_for,
        "sent_at": row.sent_at,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "message_id": message_id,
    }


def list_reminders(session: Session, version_id: str, limit: int, cursor: str | None) -> View:
    """A page of the version's reminders, in the order they were scheduled (keyset paging)."""
    query = select(Reminder).where(Reminder.version_id == version_id)
    rows, next_cursor = page(session, query, (Reminder.scheduled_for, Reminder.id), limit, cursor)
    ids = [r.id for r in rows]
    message_ids: dict[int | None, str] = {
        reminder_id: message_id
        for reminder_id, message_id in session.execute(
            select(OutboxMail.reminder_id, OutboxMail.message_id).where(
                OutboxMail.reminder_id.in_(ids)
            )
        )
    }
    return {
        "items": [reminder_view(r, message_ids.get(r.id)) for r in rows],
        "next_cursor": next_cursor,
    }
