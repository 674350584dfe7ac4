"""Reading the audit trail: filtered pages, streaming export, the register.

Verifying it is `db.audit_verify`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from db import models
from db.audit import actor_view, settled_seq
from db.numbers import ascii_int
from db.queries import View, boards_by_id, decode_cursor, encode_cursor, undecided_status
from db.repositories import standing_decisions
from workflow.errors import InvalidValue


@dataclass(frozen=True)
class Filters:
    """The contract's audit filters; None means any."""

    program_id: str | None = None
    version_id: str | None = None
    board_id: str | None = None
    actor: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        """`query` narrowed to the events these filters allow."""
        e = models.Event
        for column, value in (
            (e.program_id, self.program_id),
            (e.version_id, self.version_id),
            (e.board_id, self.board_id),
            (e.actor_name, self.actor),
            (e.type, self.type),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(e.at >= self.since)
        if self.until is not None:
            query = query.where(e.at < self.until)
        return query


def event_view(row: models.Event | Row[Any]) -> View:
    """Event as the contract shows it (from the model or a row of `_VIEW_SELECT`)."""
    return {
        "seq": row.seq,
        "at": row.at,
        "type": row.type,
        "actor": actor_view(
            row.actor_name, row.actor_role, row.actor_board_id, row.actor_subject, row.actor_email
        ),
        "program_id": row.program_id,
        "version_id": row.version_id,
        "board_id": row.board_id,
        "data": row.data,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


_VIEW_SELECT: "Select[*tuple[Any, ...]]" = select(
    models.Event.seq,
    models.Event.at,
    models.Event.type,
    models.Event.actor_name,
    models.Event.actor_role,
    models.Event.actor_board_id,
    models.Event.actor_subject,
    models.Event.actor_email,
    models.Event.program_id,
    models.Event.version_id,
    models.Event.board_id,
    models.Event.data,
    models.Event.prev_hash,
    models.Event.hash,
)
"""What `event_view` shows, as plain rows (no ORM objects to build); built once."""


def list_events(session: Session, filters: Filters, limit: int, cursor: str | None) -> View:
    """A page of events in `seq` order.

    Only events up to the settled `seq` are shown, so a page never skips an
    event that commits later with a lower number: paging while events arrive
    misses nothing and repeats nothing.
    """
    after = 0
    if cursor is not None:
        found = ascii_int(decode_cursor(cursor))
        if found is None:
            raise InvalidValue("cursor is not one this service gave out")
        after = found
    horizon = settled_seq(session)
    e = models.Event
    query = filters.apply(_VIEW_SELECT).where(e.seq > after, e.seq <= horizon)
    rows = session.execute(query.order_by(e.seq).limit(limit + 1)).all()
    more = len(rows) > limit
    items = [event_view(row) for row in rows[:limit]]
    # At the end of what is settled, hand back a cursor anyway when the page was
    # full, so a client polling for new events continues from the right place.
    next_cursor = encode_cursor(str(items[-1]["seq"])) if more else None
    return {"items": items, "next_cursor": next_cursor}


def stream_events(
    session: Session, filters: Filters, batch: int = 1000, settled: bool = True
) -> Iterator[models.Event]:
    """Every matching event in `seq` order, fetched in batches (constant memory).

    With `settled`, only events up to the settled `seq` (see `list_events`);
    without, everything the session's snapshot sees.
    """
    horizon = settled_seq(session) if settled else None
    after = 0
    while True:
        query = filters.apply(select(models.Event)).where(models.Event.seq > after)
        if horizon is not None:
            query = query.where(models.Event.seq <= horizon)
        rows = list(session.scalars(query.order_by(models.Event.seq).limit(batch)))
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


REGISTER_COLUMNS = [
    "board_id",
    "municipality",
    "body",
    "outcome",
    "decided_on",
    "paragraph",
    "case_number",
    "minutes_attested_on",
    "announced_on",
    "appeal_until",
    "final_on",
    "status",
    "corrected",
    "recorded_by",
    "recorded_at",
    "recorded_by_subject",
    "recorded_by_email",
]


def register(session: Session, version: models.Version) -> list[View]:
    """One row per member board: the decision that stands (or the open status)."""
    standing = standing_decisions(session, version.id, version.program_id)
    undecided = undecided_status(version).value
    boards = boards_by_id(session)
    rows = []
    for board_id, d in standing.items():
        board = boards[board_id]
        rows.append(
            {
                "board_id": board.id,
                "municipality": board.municipality,
                "body": board.name,
                "outcome": d.outcome if d else undecided,
                "decided_on": d.decided_on if d else None,
                "paragraph": d.paragraph if d else None,
                "case_number": d.case_number if d else None,
                "minutes_attested_on": d.minutes_attested_on if d else None,
                "announced_on": d.announced_on if d else None,
                "appeal_until": d.appeal_until if d else None,
                "final_on": d.final_on if d else None,
                "status": d.status if d else None,
                "corrected": d.corrected if d else None,
                "recorded_by": d.recorded_by if d else None,
                "recorded_at": d.recorded_at if d else None,
                "recorded_by_subject": d.recorded_by_subject if d else None,
                "recorded_by_email": d.recorded_by_email if d else None,
            }
        )
    return rows


def version_events(
    session: Session, version_id: str, before: int | None, limit: int
) -> tuple[list[Row[Any]], int | None]:
    """A version's settled events, newest first: at most `limit` below `before`,
    and the `seq` to page on from (None on the last page)."""
    e = models.Event
    query = Filters(version_id=version_id).apply(_VIEW_SELECT).where(e.seq <= settled_seq(session))
    if before is not None:
        query = query.where(e.seq < before)
    rows = list(session.execute(query.order_by(e.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].seq if more else None
