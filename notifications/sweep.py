"""The reminder sweep: queue the reminders that are due, once each.

It reads only the schedule rows whose `next_due_at` has passed (an indexed
range), so its cost follows what is due, not the history. Each row is
locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL, after the version's row, in
the order decisions lock; SQLite writers queue on `BEGIN IMMEDIATE`), and
the unique (version, board, slot) key of `reminders` makes a repeated sweep
harmless in any case.
"""

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from db.outbox import (
    ReminderSchedule,
    due_versions,
    insert_mail,
    insert_pending,
    lock_due,
    record_coalesced,
    stop_reminders,
    supersede_pending,
)
from notifications import mail
from notifications.config import Config
from notifications.outbox import about, addressees
from workflow.reminders import Slot, plan
from workflow.states import FINAL_OUTCOMES, VersionState

log = structlog.get_logger(__name__)


@dataclass
class SweepReport:
    """What one sweep did."""

    queued: int = 0
    coalesced: int = 0
    stopped: int = 0


def sweep(db: Database, config: Config, now: datetime) -> SweepReport:
    """Queue every reminder due at `now` (coalescing missed slots) and move the schedule on.

    One short transaction per version, in which all its due boards are handled
    together (a statement per step, not per board). A version whose rows
    another process holds is skipped (that process handles them), so the loop
    ends.
    """
    report = SweepReport()
    tried: set[str] = set()
    while True:
        with db.reads() as session:
            due = due_versions(session, now, len(tried) + config.batch_size)
        todo = [version_id for version_id in due if version_id not in tried]
        if not todo:
            break
        for version_id in todo:
            tried.add(version_id)
            with db.writes() as session:
                version, rows = lock_due(session, version_id, now)
                if rows:
                    _advance(session, config, version_id, version, rows, now, report)
                session.commit()
    if report.queued or report.coalesced or report.stopped:
        log.info("reminder sweep", now=now.isoformat(), **report.__dict__)
    return report


def _decided(session: Session, version_id: str, board_ids: list[str]) -> set[str]:
    """Which of `board_ids` have a final decision on the version."""
    return set(
        session.scalars(
            select(models.Decision.board_id)
            .where(
                models.Decision.version_id == version_id,
                models.Decision.board_id.in_(board_ids),
                models.Decision.outcome.in_([o.value for o in FINAL_OUTCOMES]),
            )
            .distinct()
        )
    )


def _advance(
    session: Session,
    config: Config,
    version_id: str,
    version: models.Version | None,
    rows: list[ReminderSchedule],
    now: datetime,
    report: SweepReport,
) -> None:
    """Handle one version's due schedule rows (the version and the rows locked by the caller)."""
    if (
        version is None
        or version.state != VersionState.SENT_OUT
        or version.respond_by is None
        or version.sent_out_at is None
    ):
        _stop(session, version_id, rows, report)
        return
    respond_by, sent_out_at = version.respond_by, version.sent_out_at
    decided = _decided(session, version_id, [row.board_id for row in rows])
    _stop(session, version_id, [row for row in rows if row.board_id in decided], report)
    live = [row for row in rows if row.board_id not in decided]
    coalesced: list[dict[str, Any]] = []
    sends: list[tuple[str, Slot]] = []
    for row in live:
        due = plan(config.policy, respond_by, sent_out_at, now, row.handled_through)
        coalesced.extend(
            _columns(version_id, row.board_id, missed, "coalesced", now) for missed in due.coalesced
        )
        if due.send is not None:
            sends.append((row.board_id, due.send))
        row.handled_through = due.handled_through
        if due.next is None:
            session.delete(row)
        else:
            row.next_due_at = due.next.scheduled_for
    report.coalesced += record_coalesced(session, coalesced)
    if sends:
        _queue(session, config, version_id, sends, now, report)


def _stop(
    session: Session, version_id: str, rows: list[ReminderSchedule], report: SweepReport
) -> None:
    """No more reminders to these boards (they decided, or the version is out of `sent_out`)."""
    for row in rows:
        stop_reminders(session, version_id, row.board_id)
        report.stopped += 1


def _queue(
    session: Session,
    config: Config,
    version_id: str,
    sends: list[tuple[str, Slot]],
    now: datetime,
    report: SweepReport,
) -> None:
    """Queue one reminder (and its e-mail) per board in `sends`, once each."""
    by_offset: dict[int, list[str]] = {}
    for board_id, slot in sends:
        by_offset.setdefault(slot.offset, []).append(board_id)
    for offset, board_ids in by_offset.items():
        supersede_pending(session, version_id, board_ids, offset)
    added = insert_pending(
        session, [_columns(version_id, board_id, slot, "pending", now) for board_id, slot in sends]
    )
    if not added:
        return
    subject = about(session, version_id)
    members = {a.board_id: a for a in addressees(session, subject.program_id)}
    mails = []
    for board_id, slot in sends:
        reminder_id = added.get((board_id, slot.offset))
        if reminder_id is None:
            continue  # queued before (the unique key held)
        to = members[board_id]
        message = mail.reminder(
            subject, to, slot, sender=config.mail_from, at=now, public_url=config.public_url
        )
        mails.append(
            _mail_columns(
                message,
                key=mail.reminder_key(version_id, board_id, slot.offset),
                about=subject,
                to=to,
                now=now,
                reminder_id=reminder_id,
            )
        )
        log.info("reminder queued", version_id=version_id, board_id=board_id, slot=slot.offset)
    insert_mail(session, mails)
    report.queued += len(mails)


def _mail_columns(
    message: EmailMessage,
    *,
    key: str,
    about: mail.About,
    to: mail.Addressee,
    now: datetime,
    reminder_id: int,
) -> dict[str, Any]:
    """The `outbox_mail` row of a reminder, as `notifications.outbox.enqueue` writes it."""
    return {
        "key": key,
        "kind": "reminder",
        "program_id": about.program_id,
        "version_id": about.version_id,
        "board_id": to.board_id,
        "reminder_id": reminder_id,
        "recipient": to.email,
        "message_id": str(message["Message-ID"]),
        "message": mail.wire(message),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _columns(
    version_id: str, board_id: str, slot: Slot, status: str, now: datetime
) -> dict[str, Any]:
    return {
        "version_id": version_id,
        "board_id": board_id,
        "slot": slot.offset,
        "kind": "overdue" if slot.overdue else "before",
        "scheduled_for": slot.scheduled_for,
        "status": status,
        "attempts": 0,
        "created_at": now,
    }
