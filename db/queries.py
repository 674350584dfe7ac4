"""Read models: the contract's JSON shapes, built straight from the tables."""

import base64
import json
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from db import models
from db.base import core, table_of
from db.numbers import fits
from db.repositories import (
    VERSION_BY_ID,
    Standing,
    in_force_id,
    program_members,
    standing_decisions,
    standing_of,
)
from workflow.errors import InvalidValue
from workflow.states import BoardStatus, VersionState

View = dict[str, Any]


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def encode_cursor(value: str) -> str:
    """An opaque cursor for keyset paging."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The key a cursor stands for; `InvalidValue` when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidValue("cursor is not one this service gave out") from None


def page(
    session: Session, query: Select[Any], keys: tuple[Any, ...], limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """Rows after `cursor` in `keys` order, at most `limit`, and the next cursor or None.

    The cursor holds the last row's key values, so paging is stable while
    rows are added (keyset paging, never OFFSET).
    """
    if cursor is not None:
        try:
            values = json.loads(decode_cursor(cursor))
            if not isinstance(values, list) or len(values) != len(keys):
                raise ValueError("cursor shape")
            after = [_from_key(k, v) for k, v in zip(keys, values, strict=True)]
        except (ValueError, TypeError):
            raise InvalidValue("cursor is not one this service gave out") from None
        query = query.where(tuple_(*keys) > tuple_(*after))
    rows = list(session.scalars(query.order_by(*keys).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if not more:
        return rows, None
    last = [getattr(rows[-1], k.key) for k in keys]
    return rows, encode_cursor(json.dumps(last, default=_iso))


def _from_key(key: Any, value: Any) -> Any:
    column_type = key.type.impl if isinstance(key.type, TypeDecorator) else key.type
    python_type: Any = column_type.python_type
    if python_type is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("cursor timestamp without a zone")
        return moment
    if python_type is date:
        return date.fromisoformat(value)
    if not isinstance(value, python_type):
        raise TypeError("cursor value of the wrong type")
    if isinstance(value, int) and not fits(value):
        raise ValueError("cursor number out of range")  # SQLite: OverflowError, a 500
    return value


def list_boards(session: Session, limit: int, cursor: str | None) -> View:
    """A page of boards, by id."""
    rows, next_cursor = page(session, select(models.Board), (models.Board.id,), limit, cursor)
    return {"items": [board_view(r) for r in rows], "next_cursor": next_cursor}


def list_programs(session: Session, limit: int, cursor: str | None) -> View:
    """A page of programs, by id."""
    rows, next_cursor = page(session, select(models.Program), (models.Program.id,), limit, cursor)
    return {"items": [program_view(session, r) for r in rows], "next_cursor": next_cursor}


def list_versions(session: Session, program_id: str, limit: int, cursor: str | None) -> View:
    """A page of a program's versions, oldest first."""
    query = select(models.Version).where(models.Version.program_id == program_id)
    keys = (models.Version.created_at, models.Version.id)
    rows, next_cursor = page(session, query, keys, limit, cursor)
    standing = _standing_on_each(session, program_id, [r.id for r in rows])
    items = [version_view(session, r, standing[r.id]) for r in rows]
    return {"items": items, "next_cursor": next_cursor}


def board_view(row: models.Board) -> View:
    """Board as the contract shows it."""
    return {
        "id": row.id,
        "municipality": row.municipality,
        "name": row.name,
        "municipality_code": row.municipality_code,
        "email": row.email,
    }


def program_view(session: Session, row: models.Program) -> View:
    """Program, with its boards and the version in force today."""
    return {
        "id": row.id,
        "title": row.title,
        "owner": row.owner,
        "boards": list(program_members(session, row.id)),
        "in_force_version_id": in_force_id(session, row.id),
        "public": row.public,
    }


def programs(session: Session) -> list[models.Program]:
    """Every program, by id."""
    return list(session.scalars(select(models.Program).order_by(models.Program.id)))


def boards_by_id(session: Session) -> dict[str, models.Board]:
    """Every board, by id."""
    return {b.id: b for b in session.scalars(select(models.Board))}


def version_labels(session: Session, program_id: str) -> dict[str, str]:
    """The labels of a program's versions, by version id."""
    rows = session.execute(
        select(models.Version.id, models.Version.label).where(
            models.Version.program_id == program_id
        )
    )
    return {version_id: label for version_id, label in rows}


def undecided_status(version: models.Version) -> BoardStatus:
    """What a board without a decision shows: `unknown` on an imported version."""
    return BoardStatus.UNKNOWN if version.imported else BoardStatus.PENDING


def version_row(session: Session, version_id: str) -> models.Version | None:
    """The version with that id, if any."""
    return session.execute(VERSION_BY_ID, {"version_id": version_id}).scalar_one_or_none()


def board_status(decision: Any, undecided: BoardStatus) -> str:
    """A board's status from the decision that stands for it (None: `undecided`)."""
    if decision is None:
        return undecided.value
    return BoardStatus.ANNULLED.value if decision.status == "annulled" else str(decision.outcome)


_BOARD_FIELDS = {
    "decided_on": "decided_on",
    "paragraph": "paragraph",
    "case_number": "case_number",
    "recorded_by": "recorded_by",
    "recorded_by_subject": "recorded_by_subject",
    "recorded_by_email": "recorded_by_email",
    "recorded_at": "recorded_at",
    "decision_id": "id",
    "appeal_until": "appeal_until",
    "final_on": "final_on",
    "decision_status": "status",
    "corrected": "corrected",
}
"""A board's status field → the column of the decision that stands that gives it."""


def board_statuses(
    session: Session, version: models.Version, standing: Standing | None = None
) -> list[View]:
    """One BoardStatus per member board, from the decision that stands (read in one
    statement unless given)."""
    undecided = undecided_status(version)
    if standing is None:
        standing = standing_decisions(session, version.id, version.program_id)
    return [
        {
            "board_id": board_id,
            "status": board_status(d, undecided),
            **{field: getattr(d, column) if d else None for field, column in _BOARD_FIELDS.items()},
        }
        for board_id, d in standing.items()
    ]


_DECISIONS = table_of(models.Decision)
_SHOWN = [_DECISIONS.c[name] for name in ("outcome", *_BOARD_FIELDS.values())]
"""The decision columns a board's status shows (`board_status` reads `outcome` too)."""
_VERSIONS = table_of(models.Version)
_MEMBERS = table_of(models.ProgramBoard)
_VERSION_LABELS = {column.name: f"version_{column.name}" for column in _VERSIONS.c}
"""The version's columns, labelled, in a read beside its decisions' (which have an `id`
and a `final_on` too)."""
_VERSION_AND_STANDING: Select[Any] = (
    select(
        *(_VERSIONS.c[name].label(label) for name, label in _VERSION_LABELS.items()),
        _MEMBERS.c.board_id.label("member"),
        *_SHOWN,
    )
    .select_from(_VERSIONS)
    .outerjoin(_MEMBERS, _MEMBERS.c.program_id == _VERSIONS.c.program_id)
    .outerjoin(
        _DECISIONS,
        and_(
            _DECISIONS.c.version_id == _VERSIONS.c.id,
            _DECISIONS.c.board_id == _MEMBERS.c.board_id,
        ),
    )
    .where(_VERSIONS.c.id == bindparam("version_id"))
    .order_by(_MEMBERS.c.position, _DECISIONS.c.recorded_at, _DECISIONS.c.id)
)
"""A version's row beside each member board and its decisions, oldest first: a read's
`standing_decisions` and the row in one Core statement (cheaper than an ORM one; a
command reads them in two, after the version's row lock)."""


def version_view_by_id(session: Session, version_id: str) -> View | None:
    """`version_view` of the version with that id, if any, read in one statement (its
    version a `models.Version` made from the row and never added to the session)."""
    rows = core(session).execute(_VERSION_AND_STANDING, {"version_id": version_id}).all()
    if not rows:
        return None
    fields = rows[0]._mapping
    version = models.Version(**{name: fields[label] for name, label in _VERSION_LABELS.items()})
    return version_view(session, version, standing_of(rows))


def _standing_on_each(
    session: Session, program_id: str, version_ids: list[str]
) -> dict[str, Standing]:
    """`standing_decisions` for several versions of one program, in two statements (its
    members, then the versions' decisions) instead of one per version."""
    members = program_members(session, program_id)
    found: dict[str, Standing] = {v: dict.fromkeys(members) for v in version_ids}
    if version_ids:
        rows = core(session).execute(
            select(_DECISIONS.c.version_id, _DECISIONS.c.board_id, *_SHOWN)
            .where(_DECISIONS.c.version_id.in_(version_ids))
            .order_by(_DECISIONS.c.recorded_at, _DECISIONS.c.id)
        )
        for row in rows:  # oldest first, so the one that stands is written last
            found[row.version_id][row.board_id] = row
    return found


def version_view(session: Session, row: models.Version, standing: Standing | None = None) -> View:
    """Version as the contract shows it, with every member board's status."""
    document = (
        {"title": row.document_title, "url": row.document_url, "sha256": row.document_sha256}
        if row.document_title or row.document_url or row.document_sha256
        else None
    )
    return {
        "id": row.id,
        "program_id": row.program_id,
        "label": row.label,
        "state": row.state,
        "drafted_on": row.drafted_on,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "replaces": row.replaces,
        "superseded_by": row.superseded_by,
        "sent_out_at": row.sent_out_at,
        "respond_by": row.respond_by,
        "in_force_from": row.in_force_from,
        "superseded_on": row.superseded_on,
        "final_on": row.final_on,
        "imported": row.imported,
        "document": document,
        "boards": board_statuses(session, row, standing),
    }


def in_force_on(session: Session, program_id: str, day: date) -> models.Version | None:
    """The version of the program that was in force on `day`, if any."""
    return session.scalars(
        select(models.Version).where(
            models.Version.program_id == program_id,
            models.Version.state.in_((VersionState.IN_FORCE, VersionState.SUPERSEDED)),
            models.Version.in_force_from <= day,
            or_(
                models.Version.superseded_on.is_(None),
                and_(models.Version.superseded_on > day),
            ),
        )
    ).first()


def member_boards(session: Session, program_ids: Collection[str]) -> dict[str, list[models.Board]]:
    """Several programs' member boards (one statement), each program's in its order."""
    rows = session.execute(
        select(models.ProgramBoard.program_id, models.Board)
        .join(models.Board, models.ProgramBoard.board_id == models.Board.id)
        .where(models.ProgramBoard.program_id.in_(list(program_ids)))
        .order_by(models.ProgramBoard.program_id, models.ProgramBoard.position)
    )
    found: dict[str, list[models.Board]] = {}
    for program_id, board in rows:
        found.setdefault(program_id, []).append(board)
    return found


def version_and_title(session: Session, version_id: str) -> tuple[models.Version, str]:
    """A version and its program's title."""
    version = session.get_one(models.Version, version_id)
    return version, session.get_one(models.Program, version.program_id).title


def program_row(session: Session, program_id: str) -> models.Program | None:
    """The program with that id, if any."""
    return session.get(models.Program, program_id)


def occurrence(session: Session, event: models.Event) -> int:
    """How many times the event's version has had an event of its type, this one included
    (a version can enter into force, or be rejected, again after a court reopened it)."""
    count = session.scalar(
        select(func.count())
        .select_from(models.Event)
        .where(
            models.Event.version_id == event.version_id,
            models.Event.type == event.type,
            models.Event.seq <= event.seq,
        )
    )
    return count or 1
