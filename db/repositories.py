"""Repositories: load domain objects from rows and write their changes back.

Repositories never commit; the unit of work does. This module also holds the
one query that answers "which decision stands for each member board", which
the domain, the version view and the register all read.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, select
from sqlalchemy.orm import Session

from db import models
from db.base import table_of
from workflow import versions as domain
from workflow.actors import Actor
from workflow.events import Event
from workflow.states import BoardStatus, VersionState


def program_members(session: Session, program_id: str) -> tuple[str, ...]:
    """The ids of the program's boards, in the order they were given."""
    rows = session.scalars(
        select(models.ProgramBoard.board_id)
        .where(models.ProgramBoard.program_id == program_id)
        .order_by(models.ProgramBoard.position)
    )
    return tuple(rows)


_DECISIONS = table_of(models.Decision)
_MEMBER_DECISIONS = (
    select(models.ProgramBoard.board_id.label("member"), *_DECISIONS.c)
    .outerjoin(
        _DECISIONS,
        and_(
            _DECISIONS.c.version_id == bindparam("version_id"),
            _DECISIONS.c.board_id == models.ProgramBoard.board_id,
        ),
    )
    .where(models.ProgramBoard.program_id == bindparam("program_id"))
    .order_by(models.ProgramBoard.position, _DECISIONS.c.recorded_at, _DECISIONS.c.id)
)
"""Each member board with its decisions on a version, oldest first (NULLs for none)."""

Standing = dict[str, Row[Any] | None]
"""Member board id (in the program's order) → the row of the decision that stands, or None."""


def standing_decisions(session: Session, version_id: str, program_id: str) -> Standing:
    """For each member board, the decision that stands on the version: its latest one.

    One statement. On PostgreSQL, run it after the version's row lock, as a
    statement of its own: a statement that waited for the lock still reads
    other tables as they were when it began, so joined to the locking
    statement it would miss decisions committed meanwhile.
    """
    standing: Standing = {}
    rows = session.execute(_MEMBER_DECISIONS, {"version_id": version_id, "program_id": program_id})
    for row in rows:  # oldest first, so the one that stands is written last
        standing[row.member] = row if row.id is not None else None
    return standing


VERSION_BY_ID = select(models.Version).where(models.Version.id == bindparam("version_id"))
_LOCK_VERSION = VERSION_BY_ID.with_for_update()
_INSERT_DECISION = insert(_DECISIONS)
_IN_FORCE = select(models.Version.id).where(
    models.Version.program_id == bindparam("program_id"),
    models.Version.state == VersionState.IN_FORCE,
)


def in_force_id(session: Session, program_id: str) -> str | None:
    """The id of the program's version in force now, if any."""
    return session.scalar(_IN_FORCE, {"program_id": program_id})


def decision_row(
    version_id: str, decision: domain.Decision, actor: Actor, now: datetime
) -> dict[str, Any]:
    """The `decisions` row that records `decision`, made by `actor` at `now`."""
    return {
        "id": decision.id,
        "version_id": version_id,
        "board_id": decision.board_id,
        "outcome": decision.outcome.value,
        "decided_on": decision.decided_on,
        "paragraph": decision.paragraph,
        "case_number": decision.case_number,
        "document_sha256": decision.document_sha256,
        "minutes_attested_on": decision.minutes_attested_on,
        "announced_on": decision.announced_on,
        "final_on": decision.final_on,
        "note": decision.note,
        "recorded_by": actor.name,
        "recorded_by_role": actor.role.value,
        "recorded_by_board": actor.board_id,
        "recorded_by_subject": actor.subject,
        "recorded_by_email": actor.email,
        "recorded_at": now,
    }


class VersionRepository:
    """Versions as domain objects; tracks the ones it handed out."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[str, tuple[domain.Version, models.Version]] = {}

    def get(self, version_id: str, *, lock: bool = False) -> domain.Version | None:
        """The version with its boards' standing decisions, locked for update when `lock`."""
        if version_id in self.seen:
            return self.seen[version_id][0]
        row = self.session.execute(
            _LOCK_VERSION if lock else VERSION_BY_ID, {"version_id": version_id}
        ).scalar_one_or_none()
        if row is None:
            return None
        standing = standing_decisions(self.session, version_id, row.program_id)
        version = domain.Version(
            id=row.id,
            program_id=row.program_id,
            state=VersionState(row.state),
            members=tuple(standing),
            valid_from=row.valid_from,
            replaces=row.replaces,
            document_sha256=row.document_sha256,
            sent_out_at=row.sent_out_at,
            respond_by=row.respond_by,
            in_force_from=row.in_force_from,
            superseded_on=row.superseded_on,
            superseded_by=row.superseded_by,
        )
        for board_id, decision in standing.items():
            if decision is not None:
                version.boards[board_id] = domain.Board(
                    board_id, BoardStatus(decision.outcome), decision.decided_on
                )
        self.seen[version_id] = (version, row)
        return version

    def add(self, version: domain.Version, row: models.Version) -> None:
        """Track a new version and its row (the row holds the fields the domain ignores)."""
        self.session.add(row)
        self.seen[version.id] = (version, row)

    def store(self, actor: Actor, now: datetime) -> None:
        """Copy every tracked version's changes to its row and insert its new decisions.

        A version entering into force is written after the rest are flushed: the
        flush orders UPDATEs by primary key, and the one-in-force-per-program
        unique index is checked per statement, so the superseded predecessor
        must leave `in_force` first.
        """
        first: list[tuple[domain.Version, models.Version]] = []
        entering: list[tuple[domain.Version, models.Version]] = []
        for version, row in self.seen.values():
            enters = version.state is VersionState.IN_FORCE and row.state != version.state.value
            (entering if enters else first).append((version, row))
        self._copy(first, actor, now)
        if entering:
            self.session.flush()
            self._copy(entering, actor, now)
        self.session.flush()

    def _copy(
        self,
        tracked: list[tuple[domain.Version, models.Version]],
        actor: Actor,
        now: datetime,
    ) -> None:
        for version, row in tracked:
            changes = {
                "state": version.state.value,
                "sent_out_at": version.sent_out_at,
                "respond_by": version.respond_by,
                "in_force_from": version.in_force_from,
                "superseded_on": version.superseded_on,
                "superseded_by": version.superseded_by,
            }
            for name, value in changes.items():
                # Only real changes: setting an attribute, even to its value,
                # makes the flush go through the row (most commands change none).
                if getattr(row, name) != value:
                    setattr(row, name, value)
            if version.new_decisions:
                # Rows first, as the ORM would order them (a no-op when clean).
                self.session.flush()
                self.session.connection().execute(
                    _INSERT_DECISION,
                    [decision_row(version.id, d, actor, now) for d in version.new_decisions],
                )
            version.new_decisions.clear()

    def collect_events(self) -> list[Event]:
        """Take the events every tracked version recorded, in the order they happened."""
        events = []
        for version, _row in self.seen.values():
            events.extend(version.events)
            version.events.clear()
        return events
