"""The e-mail outbox as a queue: rows written with the state that caused them,
claimed under a lease, settled with their audit event.

A claim is a short transaction that leases rows (`sending`, `next_attempt_at`
= the lease's end) so no other process takes them; the send happens outside
any transaction; the settle marks the row `sent` and records `reminder.sent`
/ `mail.sent` through the unit of work, or schedules a retry with backoff,
or after the last allowed attempt marks it `failed` with `reminder.failed` /
`mail.failed`. A process that dies between claim and settle leaves a lease
that runs out: the e-mail is sent again (at least once), never lost.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.bulk import insert_skipping
from db.engine import Database
from db.models import OutboxMail, Reminder
from db.uow import UnitOfWork
from workflow.actors import SYSTEM
from workflow.delivery import MailStatus
from workflow.events import Event, EventType
from workflow.reminders import retry_delay

REMINDER = "reminder"
"""The `kind` of a reminder's e-mail (a notice's kind is the event type that sent it)."""


def mail_row(
    *,
    key: str,
    kind: str,
    program_id: str,
    version_id: str,
    board_id: str,
    recipient: str,
    message_id: str,
    message: str,
    now: datetime,
    reminder_id: int | None = None,
) -> dict[str, Any]:
    """The `outbox_mail` row of one e-mail, due at once."""
    return {
        "key": key,
        "kind": kind,
        "program_id": program_id,
        "version_id": version_id,
        "board_id": board_id,
        "reminder_id": reminder_id,
        "recipient": recipient,
        "message_id": message_id,
        "message": message,
        "status": MailStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def insert_mail(session: Session, rows: list[dict[str, Any]]) -> int:
    """Put e-mails (`mail_row`s) in the outbox in one statement, skipping keys already there."""
    return len(insert_skipping(session, OutboxMail, rows, OutboxMail.id))


@dataclass(frozen=True, slots=True)
class MailClaim:
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
    """How e-mails retry: the most attempts, the backoff cap and the claim's lease."""

    max_attempts: int = 8
    cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)


def claim(db: Database, now: datetime, limit: int, retry: Retry) -> list[MailClaim]:
    """Lease up to `limit` due e-mails for this process (one short transaction).

    `FOR UPDATE SKIP LOCKED` on PostgreSQL and `BEGIN IMMEDIATE` on SQLite
    keep two processes from claiming the same row. A lease that ran out (its
    process died before settling) makes the row due again: a retry, not a
    loss. A row whose last allowed attempt never settled is given up.
    """
    with UnitOfWork(db, SYSTEM, now) as uow:
        rows = uow.session.scalars(
            select(OutboxMail)
            .where(OutboxMail.next_attempt_at <= now)
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for row in rows:
            if row.attempts >= retry.max_attempts:
                _give_up(uow, row, "the last attempt never finished")
                continue
            row.status, row.attempts = MailStatus.SENDING, row.attempts + 1
            row.lease = uuid.uuid4().hex
            row.next_attempt_at = now + retry.lease
            _mirror(uow.session, row)
            claimed.append(
                MailClaim(
                    row.id,
                    row.lease,
                    row.kind,
                    row.recipient,
                    row.message_id,
                    row.message.encode(),
                    row.attempts,
                )
            )
        uow.commit()
    return claimed


def settle(
    db: Database, mail: MailClaim, now: datetime, retry: Retry, error: str | None = None
) -> str:
    """Record how a send went, with its audit event, and return the row's new status.

    A row whose lease is no longer `mail.lease` (it ran out and another
    process took it over) is left alone: `"lost_lease"`.
    """
    with UnitOfWork(db, SYSTEM, now) as uow:
        row = uow.session.get(OutboxMail, mail.id, with_for_update=True)
        if row is None or row.lease != mail.lease or row.status != MailStatus.SENDING:
            return "lost_lease"
        if error is None:
            row.status, row.sent_at, row.last_error = MailStatus.SENT, now, None
            row.next_attempt_at, row.lease = None, None
            _mirror(uow.session, row)
            uow.record(_event(uow.session, row, sent=True))
        elif row.attempts >= retry.max_attempts:
            _give_up(uow, row, error)
        else:
            row.status, row.last_error, row.lease = MailStatus.PENDING, error, None
            row.next_attempt_at = now + retry_delay(row.attempts, retry.cap)
            _mirror(uow.session, row)
        status = str(row.status)
        uow.commit()
    return status


def _give_up(uow: UnitOfWork, row: OutboxMail, error: str) -> None:
    row.status, row.last_error, row.next_attempt_at, row.lease = (
        MailStatus.FAILED,
        error,
        None,
        None,
    )
    _mirror(uow.session, row)
    uow.record(_event(uow.session, row, sent=False))


def _mirror(session: Session, row: OutboxMail) -> None:
    """A reminder's row shows its e-mail's delivery state."""
    if row.reminder_id is None:
        return
    reminder = session.get_one(Reminder, row.reminder_id)
    reminder.status, reminder.attempts = row.status, row.attempts
    reminder.sent_at, reminder.last_error = row.sent_at, row.last_error


def _event(session: Session, row: OutboxMail, *, sent: bool) -> Event:
    """`reminder.sent` / `reminder.failed`, or `mail.sent` / `mail.failed` for notices."""
    data: dict[str, Any] = {
        "kind": row.kind,
        "message_id": row.message_id,
        "to": row.recipient,
        "attempts": row.attempts,
    }
    if row.reminder_id is not None:
        reminder = session.get_one(Reminder, row.reminder_id)
        data["slot"] = reminder.slot
        data["scheduled_for"] = reminder.scheduled_for.isoformat()
        kind = EventType.REMINDER_SENT if sent else EventType.REMINDER_FAILED
    else:
        kind = EventType.MAIL_SENT if sent else EventType.MAIL_FAILED
    if not sent:
        data["error"] = row.last_error
    return Event(kind, row.program_id, row.version_id, row.board_id, data)
