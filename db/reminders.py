"""The reminder tables: the schedule the sweep reads, and the reminder rows it writes.

    reminder_schedule   one row per (version, board) still to be reminded:
                        when the sweep should next look (`next_due_at`) and
                        the last slot it has handled.
    reminders           one row per (version, board, slot) the sweep handled:
                        pending → sending → sent | failed, or coalesced /
                        cancelled. The unique key makes the sweep idempotent.

Only rows with work left have a `next_due_at`, and it is indexed, so
finding what is due costs what is due, not the history.
"""

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from db import models
from db.base import core, table_of
from db.bulk import insert_skipping, json_rows
from db.models import OutboxMail, Reminder, ReminderSchedule
from db.queries import View, page
from workflow.delivery import MailStatus, ReminderStatus
from workflow.states import DecisionStatus


def schedule(
    session: Session,
    version_id: str,
    board_ids: list[str],
    handled: int | None,
    next_due_at: datetime,
) -> None:
    """Put boards of a version on the reminder schedule (a board already on it is left)."""
    insert_skipping(
        session,
        ReminderSchedule,
        [
            {
                "version_id": version_id,
                "board_id": board_id,
                "handled_through": handled,
                "next_due_at": next_due_at,
            }
            for board_id in board_ids
        ],
    )


def record_coalesced(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert reminder rows that will never be sent, skipping keys already taken; how many."""
    return len(insert_skipping(session, Reminder, rows, Reminder.id))


def insert_pending(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], int]:
    """Insert reminder rows to be sent, skipping (version, board, slot) keys already taken.

    One statement for many rows (the sweep queues several versions' boards
    together); returns the id of each row added by its (version, board, slot).
    """
    added = insert_skipping(
        session, Reminder, rows, Reminder.version_id, Reminder.board_id, Reminder.slot, Reminder.id
    )
    return {(version_id, board_id, slot): id_ for version_id, board_id, slot, id_ in added}


_SCHEDULES = table_of(ReminderSchedule)
_UNSCHEDULE = delete(_SCHEDULES).where(_SCHEDULES.c.version_id == bindparam("version_id"))
_UNSCHEDULE_BOARD = _UNSCHEDULE.where(_SCHEDULES.c.board_id == bindparam("board_id"))
_REMINDERS = table_of(Reminder)
_PENDING = select(_REMINDERS.c.id).where(
    _REMINDERS.c.version_id == bindparam("version_id"),
    _REMINDERS.c.status == ReminderStatus.PENDING,
)
_PENDING_OF_BOARD = _PENDING.where(_REMINDERS.c.board_id == bindparam("board_id"))
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
    connection = core(session)
    connection.execute(_UNSCHEDULE_BOARD if one else _UNSCHEDULE, keys)
    pending = list(connection.scalars(_PENDING_OF_BOARD if one else _PENDING, keys))
    if pending:
        _cancel(session, pending, ReminderStatus.CANCELLED)


def _cancel(session: Session, reminder_ids: Any, status: ReminderStatus) -> None:
    """Mark pending reminders `status` (cancelled or coalesced) and cancel their e-mails."""
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.reminder_id.in_(reminder_ids), OutboxMail.status == MailStatus.PENDING)
        .values(status=MailStatus.CANCELLED, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Reminder)
        .where(Reminder.id.in_(reminder_ids), Reminder.status == ReminderStatus.PENDING)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


def supersede_pending(
    session: Session, version_id: str, board_ids: Collection[str], before_slot: int
) -> None:
    """Unsent reminders older than a newly due slot are coalesced into it, never sent.

    For several boards of one version at once (two statements, whatever their number).
    """
    older = (
        select(Reminder.id)
        .where(
            Reminder.version_id == version_id,
            Reminder.board_id.in_(list(board_ids)),
            Reminder.slot < before_slot,
            Reminder.status == ReminderStatus.PENDING,
        )
        .scalar_subquery()
    )
    _cancel(session, older, ReminderStatus.COALESCED)


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
                Reminder.version_id.in_(list(version_ids)),
                Reminder.status == ReminderStatus.PENDING,
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
    (as `insert_skipping` inserts), elsewhere executed for many parameter sets.
    """
    key = (
        ReminderSchedule.version_id == bindparam("k_version"),
        ReminderSchedule.board_id == bindparam("k_board"),
    )
    connection = session.connection()
    if moved and connection.dialect.name == "postgresql":
        names = ["version_id", "board_id", "handled_through", "next_due_at"]
        source = json_rows(
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


def decided(
    session: Session, version_ids: list[str], outcomes: Collection[str]
) -> set[tuple[str, str]]:
    """The (version, board) pairs with a decision of one of `outcomes` that counts (a court
    has not annulled it), among `version_ids`."""
    if not version_ids:
        return set()
    return set(
        session.execute(
            select(models.Decision.version_id, models.Decision.board_id)
            .where(
                models.Decision.version_id.in_(version_ids),
                models.Decision.outcome.in_(list(outcomes)),
                models.Decision.status != DecisionStatus.ANNULLED,
            )
            .distinct()
        )
    )


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
