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
from typing import Any

import structlog
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from db.outbox import (
    Reminder,
    ReminderSchedule,
    due_versions,
    insert_once,
    lock_due,
    record_coalesced,
    stop_reminders,
    supersede_pending,
)
from notifications import mail
from notifications.config import Config
from notifications.outbox import about, addressees, enqueue
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

    One short transaction per version. A version whose rows another process
    holds is skipped (that process handles them), so the loop ends.
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
                for row in lock_due(session, version_id, now):
                    _advance(session, config, row, now, report)
                session.commit()
    if report.queued or report.coalesced or report.stopped:
        log.info("reminder sweep", now=now.isoformat(), **report.__dict__)
    return report


def _decided(session: Session, version_id: str, board_id: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    models.Decision.version_id == version_id,
                    models.Decision.board_id == board_id,
                    models.Decision.outcome.in_([o.value for o in FINAL_OUTCOMES]),
                )
            )
        )
    )


def _advance(
    session: Session, config: Config, row: ReminderSchedule, now: datetime, report: SweepReport
) -> None:
    version_id, board_id = row.version_id, row.board_id
    version = session.get(models.Version, version_id)
    if (
        version is None
        or version.state != VersionState.SENT_OUT
        or version.respond_by is None
        or version.sent_out_at is None
        or _decided(session, version_id, board_id)
    ):
        stop_reminders(session, version_id, board_id)
        report.stopped += 1
        return
    due = plan(config.policy, version.respond_by, version.sent_out_at, now, row.handled_through)
    report.coalesced += record_coalesced(
        session,
        [_columns(version_id, board_id, missed, "coalesced", now) for missed in due.coalesced],
    )
    if due.send is not None:
        _queue(session, config, version_id, board_id, due.send, now, report)
    row.handled_through = due.handled_through
    if due.next is None:
        session.delete(row)
    else:
        row.next_due_at = due.next.scheduled_for


def _queue(
    session: Session,
    config: Config,
    version_id: str,
    board_id: str,
    slot: Slot,
    now: datetime,
    report: SweepReport,
) -> None:
    supersede_pending(session, version_id, board_id, slot.offset)
    reminder = Reminder(**_columns(version_id, board_id, slot, "pending", now))
    if not insert_once(session, reminder):
        return
    subject = about(session, version_id)
    to = next(a for a in addressees(session, subject.program_id) if a.board_id == board_id)
    message = mail.reminder(
        subject, to, slot, sender=config.mail_from, at=now, public_url=config.public_url
    )
    enqueue(
        session,
        message,
        kind="reminder",
        key=mail.reminder_key(version_id, board_id, slot.offset),
        about=subject,
        to=to,
        now=now,
        reminder_id=reminder.id,
    )
    report.queued += 1
    log.info("reminder queued", version_id=version_id, board_id=board_id, slot=slot.offset)


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
