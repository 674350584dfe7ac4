"""Commands: each runs one rule of the workflow inside one unit of work.

They load what they need (locking the rows they change), call the pure
functions in `workflow/`, and leave commit to the caller's unit of work.
A transition may be given a `Precondition` on the representation the caller
last saw (the API makes one from `If-Match`): when the version has changed
since, nothing happens.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from db import models, queries
from db.repositories import in_force_id, program_members
from db.uow import UnitOfWork
from workflow import versions as domain
from workflow.decisions import Decision
from workflow.errors import AlreadyExists, InvalidValue, NotFound
from workflow.events import Event, EventType

Precondition = Callable[[queries.View], None]
"""Checks the version's current representation is the one the caller expects
(raising `PreconditionFailed` when it is not)."""


def new_id() -> str:
    """A fresh opaque identifier."""
    return str(uuid.uuid4())


def create_board(
    uow: UnitOfWork, board_id: str, municipality: str, name: str, municipality_code: str, email: str
) -> queries.View:
    """Add a deciding body of a municipality; its view."""
    board = models.Board(
        id=board_id,
        municipality=municipality,
        name=name,
        municipality_code=municipality_code,
        email=email,
    )
    if uow.session.get(models.Board, board.id) is not None:
        raise AlreadyExists(f"board {board.id} exists")
    uow.session.add(board)
    _flush_or_exists(uow, f"board {board.id} exists")
    view = queries.board_view(board)
    uow.record(Event(EventType.BOARD_CREATED, None, None, board.id, view))
    return view


def create_program(
    uow: UnitOfWork, program_id: str, title: str, owner: str, boards: list[str]
) -> None:
    """Add a program and the boards whose approval each of its versions needs."""
    if uow.session.get(models.Program, program_id) is not None:
        raise AlreadyExists(f"program {program_id} exists")
    known = set(uow.session.scalars(select(models.Board.id).where(models.Board.id.in_(boards))))
    unknown = [b for b in boards if b not in known]
    if unknown:
        raise InvalidValue(f"unknown boards: {', '.join(unknown)}")
    uow.session.add(models.Program(id=program_id, title=title, owner=owner, created_at=uow.now))
    _flush_or_exists(uow, f"program {program_id} exists")
    for position, board_id in enumerate(boards):
        uow.session.add(
            models.ProgramBoard(program_id=program_id, board_id=board_id, position=position)
        )
    data = {"title": title, "owner": owner, "boards": boards}
    uow.record(Event(EventType.PROGRAM_CREATED, program_id, data=data))


@dataclass(frozen=True)
class Draft:
    """The fields of a new version."""

    label: str
    drafted_on: date
    valid_from: date
    valid_until: date | None
    replaces: str | None
    document_title: str | None = None
    document_url: str | None = None
    document_sha256: str | None = None


def create_version(
    uow: UnitOfWork, program_id: str, draft: Draft, version_id: str | None = None
) -> str:
    """Add a drafted version of a program and return its id."""
    if uow.session.get(models.Program, program_id) is None:
        raise NotFound(f"no program {program_id}")
    replaces = None
    if draft.replaces is not None:
        replaces = uow.versions.get(draft.replaces)
        if replaces is None:
            raise InvalidValue(f"replaces: no version {draft.replaces}")
    taken = uow.session.scalar(
        select(models.Version.id).where(
            models.Version.program_id == program_id, models.Version.label == draft.label
        )
    )
    if taken is not None:
        raise AlreadyExists(f"program {program_id} already has a version labelled {draft.label!r}")
    version = domain.draft(
        version_id=version_id or new_id(),
        program_id=program_id,
        members=program_members(uow.session, program_id),
        valid_from=draft.valid_from,
        valid_until=draft.valid_until,
        replaces=replaces,
        document_sha256=draft.document_sha256,
    )
    uow.bind(version_id=version.id)
    uow.versions.add(version, _new_row(uow, version, draft))
    _flush_or_exists(uow, f"program {program_id} already has a version labelled {draft.label!r}")
    return version.id


def import_in_force(
    uow: UnitOfWork, program_id: str, draft: Draft, in_force_from: date, note: str, version_id: str
) -> None:
    """Enter a historical version as in force, saying so in the audit trail."""
    version = domain.import_in_force(
        version_id=version_id,
        program_id=program_id,
        members=program_members(uow.session, program_id),
        in_force_from=in_force_from,
        note=note,
    )
    row = _new_row(uow, version, draft)
    row.imported = True
    uow.versions.add(version, row)


def send_out(
    uow: UnitOfWork, version_id: str, respond_by: date, expected: Precondition | None = None
) -> None:
    """Send a drafted version out to its boards."""
    version = _locked(uow, version_id, expected)
    domain.send_out(version, respond_by, uow.now)


def withdraw(
    uow: UnitOfWork, version_id: str, reason: str, expected: Precondition | None = None
) -> None:
    """Withdraw a version that has not entered into force."""
    version = _locked(uow, version_id, expected)
    domain.withdraw(version, reason)


def record_decision(
    uow: UnitOfWork, version_id: str, decision: Decision, expected: Precondition | None = None
) -> str:
    """Record a board's decision; the last approval puts the version in force.

    Returns the version's state afterwards.
    """
    uow.bind(board_id=decision.board_id)
    version = _locked(uow, version_id, expected)
    predecessor, in_force = None, None
    if domain.completes(version, decision):
        # Only the last approval needs the version it replaces (locked: it will be
        # superseded) and the one in force.
        if version.replaces is not None:
            predecessor = uow.versions.get(version.replaces, lock=True)
        in_force = in_force_id(uow.session, version.program_id)
    domain.record_decision(version, decision, uow.now, predecessor, in_force)
    return version.state.value


def _locked(uow: UnitOfWork, version_id: str, expected: Precondition | None) -> domain.Version:
    uow.bind(version_id=version_id)
    version = uow.versions.get(version_id, lock=True)
    if version is None:
        raise NotFound(f"no version {version_id}")
    if expected is not None:
        expected(queries.version_view(uow.session, uow.session.get_one(models.Version, version_id)))
    return version


def _new_row(uow: UnitOfWork, version: domain.Version, draft: Draft) -> models.Version:
    return models.Version(
        id=version.id,
        program_id=version.program_id,
        label=draft.label,
        state=version.state.value,
        drafted_on=draft.drafted_on,
        valid_from=draft.valid_from,
        valid_until=draft.valid_until,
        replaces=version.replaces,
        in_force_from=version.in_force_from,
        document_title=draft.document_title,
        document_url=draft.document_url,
        document_sha256=draft.document_sha256,
        created_at=uow.now,
        created_by=uow.actor.name,
    )


def _flush_or_exists(uow: UnitOfWork, message: str) -> None:
    """Flush; a unique violation here means a concurrent writer took the same id."""
    try:
        with uow.session.begin_nested():
            uow.session.flush()
    except IntegrityError:
        raise AlreadyExists(message) from None
