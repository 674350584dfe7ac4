"""The reminder sweep: queue the reminders that are due, once each.

It reads only the schedule rows whose `next_due_at` has passed (an indexed
range), so its cost follows what is due, not the history. Each row is
locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL, after the version's row, in
the order decisions lock; SQLite writers queue on `BEGIN IMMEDIATE`), and
the unique (version, board, slot) key of `reminders` makes a repeated sweep
harmless in any case.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session

from db import models, queries
from db.engine import Database
from db.mail_queue import REMINDER, insert_mail, mail_row
from db.reminders import (
    decided,
    due_versions,
    insert_pending,
    lock_due,
    move_schedule,
    pending_reminders,
    record_coalesced,
    stop_reminders,
    supersede_pending,
)
from notifications import mail
from notifications.config import Config
from notifications.mail_writer import about_version, addressee
from workflow.delivery import ReminderKind, ReminderStatus
from workflow.reminders import Slot, plan
from workflow.states import FINAL_OUTCOMES, VersionState

log = structlog.get_logger(__name__)

Locked = dict[str, tuple[models.Version, str]]
"""The versions a sweep transaction holds, by id, each with its program's title."""

Send = tuple[str, str, Slot]
"""A reminder to queue: (version, board, slot)."""

READ_BATCHES = 10
"""How many batches of due versions one read of the schedule finds."""


@dataclass
class SweepReport:
    """What one sweep did."""

    queued: int = 0
    coalesced: int = 0
    stopped: int = 0


def sweep(db: Database, config: Config, now: datetime) -> SweepReport:
    """Queue every reminder due at `now` (coalescing missed slots) and move the schedule on.

    One short transaction per batch of due versions (`config.batch_size`), in
    which all their due boards are handled together: a statement per step,
    not per version or board, and the e-mails composed without building an
    `EmailMessage` each (`mail.compose`). A version whose rows another
    process holds is skipped (that process handles them), so the loop ends.
    The due versions are read `READ_BATCHES` batches at a time (a version
    another sweep handled meanwhile is no longer due when its rows are locked,
    and is passed over then).
    """
    report = SweepReport()
    tried: set[str] = set()
    size = config.batch_size
    while True:
        with db.reads() as session:
            due = due_versions(session, now, len(tried) + READ_BATCHES * size)
        todo = [version_id for version_id in due if version_id not in tried]
        if not todo:
            break
        tried.update(todo)
        for start in range(0, len(todo), size):
            with db.writes() as session:
                _advance(session, config, todo[start : start + size], now, report)
                session.commit()
    if report.queued or report.coalesced or report.stopped:
        log.info("reminder sweep", now=now.isoformat(), **report.__dict__)
    return report


def _out(versions: Locked) -> dict[str, tuple[date, datetime]]:
    """The versions whose boards are still to be reminded: their answer date and send-out."""
    return {
        version_id: (version.respond_by, version.sent_out_at)
        for version_id, (version, _title) in versions.items()
        if version.state == VersionState.SENT_OUT
        and version.respond_by is not None
        and version.sent_out_at is not None
    }


def _advance(
    session: Session, config: Config, version_ids: list[str], now: datetime, report: SweepReport
) -> None:
    """Handle the due schedule rows of the versions `version_ids` (locked here)."""
    versions, rows = lock_due(session, version_ids, now)
    if not rows:
        return
    out = _out(versions)  # a version missing or no longer out: its rows are stopped
    done = decided(session, sorted({v for v, _b, _h in rows if v in out}), FINAL_OUTCOMES)
    stop = [(v, b) for v, b, _h in rows if v not in out or (v, b) in done]
    _stop(session, stop, report)
    coalesced: list[dict[str, Any]] = []
    sends: list[Send] = []
    moved: list[tuple[str, str, int | None, datetime]] = []
    ended: list[tuple[str, str]] = []
    for version_id, board_id, handled_through in rows:
        if version_id not in out or (version_id, board_id) in done:
            continue
        respond_by, sent_out_at = out[version_id]
        due = plan(config.policy, respond_by, sent_out_at, now, handled_through)
        coalesced.extend(
            _columns(version_id, board_id, missed, ReminderStatus.COALESCED, now)
            for missed in due.coalesced
        )
        if due.send is not None:
            sends.append((version_id, board_id, due.send))
        if due.next is None:
            ended.append((version_id, board_id))
        else:
            moved.append((version_id, board_id, due.handled_through, due.next.scheduled_for))
    move_schedule(session, moved, ended)
    report.coalesced += record_coalesced(session, coalesced)
    if sends:
        _queue(session, config, versions, sends, now, report)


def _stop(session: Session, rows: list[tuple[str, str]], report: SweepReport) -> None:
    """No more reminders to these boards (they decided, or the version is out of `sent_out`)."""
    for version_id, board_id in rows:
        stop_reminders(session, version_id, board_id)
        report.stopped += 1


def _supersede(session: Session, sends: list[Send]) -> None:
    """Unsent reminders older than a newly due slot are coalesced into it, never sent.

    One read finds whether any reminder of these versions still waits to go
    out (rarely); only the (version, slot) groups of boards that have one are
    then superseded, with `supersede_pending`'s two statements each.
    """
    pending: dict[tuple[str, str], int] = {}
    for version_id, board_id, offset in pending_reminders(session, {v for v, _b, _s in sends}):
        key = (version_id, board_id)
        pending[key] = min(offset, pending.get(key, offset))
    groups: dict[tuple[str, int], list[str]] = {}
    for version_id, board_id, slot in sends:
        oldest = pending.get((version_id, board_id))
        if oldest is not None and oldest < slot.offset:
            groups.setdefault((version_id, slot.offset), []).append(board_id)
    for (version_id, offset), board_ids in groups.items():
        supersede_pending(session, version_id, board_ids, offset)


def _queue(
    session: Session,
    config: Config,
    versions: Locked,
    sends: list[Send],
    now: datetime,
    report: SweepReport,
) -> None:
    """Queue one reminder (and its e-mail) per (version, board) in `sends`, once each."""
    _supersede(session, sends)
    added = insert_pending(
        session,
        [_columns(v, board_id, slot, ReminderStatus.PENDING, now) for v, board_id, slot in sends],
    )
    if not added:
        return
    abouts = {v: about_version(*versions[v]) for v in {v for v, _b, _o in added}}
    boards = queries.member_boards(session, {a.program_id for a in abouts.values()})
    addressees = {
        (version_id, board.id): addressee(board)
        for version_id, subject in abouts.items()
        for board in boards.get(subject.program_id, [])
    }
    mails = []
    queued: dict[tuple[str, int], list[str]] = {}
    for version_id, board_id, slot in sends:
        reminder_id = added.get((version_id, board_id, slot.offset))
        if reminder_id is None:
            continue  # queued before (the unique key held)
        subject, to = abouts[version_id], addressees[version_id, board_id]
        message = mail.compose(
            *mail.reminder_parts(
                subject, to, slot, sender=config.mail_from, at=now, public_url=config.public_url
            )
        )
        key = mail.reminder_key(version_id, board_id, slot.offset)
        mails.append(
            mail_row(
                key=key,
                kind=REMINDER,
                program_id=subject.program_id,
                version_id=version_id,
                board_id=board_id,
                recipient=to.email,
                message_id=mail.message_id(key),
                message=message,
                now=now,
                reminder_id=reminder_id,
            )
        )
        queued.setdefault((version_id, slot.offset), []).append(board_id)
    insert_mail(session, mails)
    report.queued += len(mails)
    for (version_id, offset), board_ids in queued.items():
        log.info("reminders queued", version_id=version_id, slot=offset, board_ids=board_ids)


def _columns(
    version_id: str, board_id: str, slot: Slot, status: ReminderStatus, now: datetime
) -> dict[str, Any]:
    """The `reminders` row of one slot."""
    return {
        "version_id": version_id,
        "board_id": board_id,
        "slot": slot.offset,
        "kind": (ReminderKind.OVERDUE if slot.overdue else ReminderKind.BEFORE).value,
        "scheduled_for": slot.scheduled_for,
        "status": status.value,
        "attempts": 0,
        "created_at": now,
    }
