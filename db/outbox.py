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

import json
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
    Row,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    column,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.selectable import TableValuedAlias

from db import audit, models
from db.base import Base, BigId, UTCDateTime, table_of
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
    """Insert `rows` (each with the same columns), skipping those whose unique key is taken
    (`ON CONFLICT DO NOTHING`); the `returning` columns of the rows added.

    One statement. On PostgreSQL the rows go as one JSON parameter,
    `INSERT ... SELECT ... FROM json_to_recordset(...)`: a short statement
    whatever the number of rows (psycopg converts it once, PostgreSQL
    prepares it after a few calls), and the values are serialised by
    `json.dumps` alone, where a multi-row `VALUES` list ("insertmanyvalues")
    or one array per column costs the client time in every value of every
    row. On SQLite, that `VALUES` list.
    """
    if session.get_bind().dialect.name != "postgresql":
        statement = sqlite.insert(table).on_conflict_do_nothing().returning(*returning)
        return list(session.connection().execute(statement, rows).all())
    names = list(rows[0])
    source = _json_rows(table, names, rows)
    statement = (
        postgresql.insert(table)
        .from_select(names, select(*(source.c[name] for name in names)))
        .on_conflict_do_nothing()
        .returning(*returning)
    )
    return list(session.connection().execute(statement).all())


def _json_rows(table: type[Base], names: list[str], rows: list[dict[str, Any]]) -> TableValuedAlias:
    """`rows` as a PostgreSQL row source, `json_to_recordset(...) AS source(...)`: one
    parameter (the rows as JSON), the columns `names` typed as `table`'s."""
    columns = table_of(table).c
    return (
        func.json_to_recordset(
            cast(
                bindparam(
                    "rows", json.dumps(rows, default=_json_default, ensure_ascii=False), Text
                ),
                JSON,
            )
        )
        .table_valued(*(column(name, columns[name].type) for name in names))
        .render_derived(name="source", with_types=True)
    )


def _json_default(value: object) -> str:
    """Timestamps in JSON: ISO 8601 with their offset (aware only, as `UTCDateTime` takes)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def record_coalesced(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert reminder rows that will never be sent, skipping keys already taken; how many."""
    if not rows:
        return 0
    return len(_insert_skipping(session, Reminder, rows, Reminder.id))


def insert_pending(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], int]:
    """Insert reminder rows to be sent, skipping (version, board, slot) keys already taken.

    One statement for many rows (the sweep queues several versions' boards
    together); returns the id of each row added by its (version, board, slot).
    """
    if not rows:
        return {}
    added = _insert_skipping(
        session, Reminder, rows, Reminder.version_id, Reminder.board_id, Reminder.slot, Reminder.id
    )
    return {(version_id, board_id, slot): id_ for version_id, board_id, slot, id_ in added}


def insert_mail(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox e-mails in one statement, skipping keys already taken; how many."""
    if not rows:
        return 0
    return len(_insert_skipping(session, OutboxMail, rows, OutboxMail.id))


_SCHEDULES = table_of(ReminderSchedule)
_UNSCHEDULE = delete(_SCHEDULES).where(_SCHEDULES.c.version_id == bindparam("version_id"))
_UNSCHEDULE_BOARD = _UNSCHEDULE.where(_SCHEDULES.c.board_id == bindparam("board_id"))
_PENDING = select(Reminder.id).where(
    Reminder.version_id == bindparam("version_id"), Reminder.status == "pending"
)
_PENDING_OF_BOARD = _PENDING.where(Reminder.board_id == bindparam("board_id"))
"""Built once: every decision runs `stop_reminders`."""


def stop_reminders(session: Session, version_id: str, board_id: str | None = None) -> None:
    """No more reminders to one board (or every board) on a version: called in-transaction.

    The schedule row goes first: on PostgreSQL that waits for a sweep that
    holds it, so the cancellation below then sees whatever that sweep queued.
    Then the reminders still pending are read, and only when there are some
    (rarely: a board usually decides with nothing waiting to go out) are they
    and their e-mails cancelled, the e-mails first: the order in which
    delivery (`claim`, `settle`) locks an e-mail and then its reminder, so
    the two never wait for each other in a circle.
    """
    one = board_id is not None
    keys = {"version_id": version_id, "board_id": board_id}
    session.execute(_UNSCHEDULE_BOARD if one else _UNSCHEDULE, keys)
    pending = list(session.scalars(_PENDING_OF_BOARD if one else _PENDING, keys))
    if not pending:
        return
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.reminder_id.in_(pending), OutboxMail.status == "pending")
        .values(status="cancelled", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Reminder)
        .where(Reminder.id.in_(pending), Reminder.status == "pending")
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


def pending_reminders(session: Session, version_ids: Collection[str]) -> list[Row[str, str, int]]:
    """The versions' reminders still waiting to go out: (version_id, board_id, slot) rows."""
    return list(
        session.execute(
            select(Reminder.version_id, Reminder.board_id, Reminder.slot).where(
                Reminder.version_id.in_(list(version_ids)), Reminder.status == "pending"
            )
        )
    )


def lock_due(
    session: Session, version_ids: Collection[str], now: datetime
) -> tuple[dict[str, tuple[models.Version, str]], list[Row[str, str, int | None]]]:
    """The versions (with their program's title) and their schedule rows due at `now`,
    locked; rows another sweep holds are skipped.

    The version rows are locked first (`FOR KEY SHARE`, in id order), the
    order a decision takes its locks in (version, then schedule rows), so a
    sweep and a decision on the same version queue behind each other instead
    of deadlocking over the reminder rows' foreign key. The schedule rows
    come back as (version_id, board_id, handled_through), by version and board.
    """
    ids = list(version_ids)
    versions = {
        version.id: (version, title)
        for version, title in session.execute(
            select(models.Version, models.Program.title)
            .join(models.Program, models.Program.id == models.Version.program_id)
            .where(models.Version.id.in_(ids))
            .order_by(models.Version.id)
            .with_for_update(of=models.Version, read=True, key_share=True)
        )
    }
    rows = session.execute(
        select(
            ReminderSchedule.version_id, ReminderSchedule.board_id, ReminderSchedule.handled_through
        )
        .where(ReminderSchedule.version_id.in_(ids), ReminderSchedule.next_due_at <= now)
        .order_by(ReminderSchedule.version_id, ReminderSchedule.board_id)
        .with_for_update(skip_locked=True)
    )
    return versions, list(rows)


def move_schedule(
    session: Session,
    moved: list[tuple[str, str, int | None, datetime]],
    ended: list[tuple[str, str]],
) -> None:
    """Schedule rows handled by the sweep: `moved` (version, board, handled_through,
    next_due_at) look again later, `ended` have no slot left.

    One statement each: on PostgreSQL an `UPDATE ... FROM` the rows as JSON
    (as `_insert_skipping` inserts), elsewhere executed for many parameter sets.
    """
    key = (
        ReminderSchedule.version_id == bindparam("k_version"),
        ReminderSchedule.board_id == bindparam("k_board"),
    )
    connection = session.connection()
    if moved and connection.dialect.name == "postgresql":
        names = ["version_id", "board_id", "handled_through", "next_due_at"]
        source = _json_rows(
            ReminderSchedule, names, [dict(zip(names, m, strict=True)) for m in moved]
        )
        connection.execute(
            update(ReminderSchedule)
            .where(
                ReminderSchedule.version_id == source.c.version_id,
                ReminderSchedule.board_id == source.c.board_id,
            )
            .values(handled_through=source.c.handled_through, next_due_at=source.c.next_due_at)
        )
    elif moved:
        connection.execute(
            update(ReminderSchedule)
            .where(*key)
            .values(handled_through=bindparam("k_handled"), next_due_at=bindparam("k_next")),
            [
                {"k_version": v, "k_board": b, "k_handled": handled, "k_next": next_due_at}
                for v, b, handled, next_due_at in moved
            ],
        )
    if ended:
        connection.execute(
            delete(ReminderSchedule).where(*key),
            [{"k_version": v, "k_board": b} for v, b in ended],
        )


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
