"""Repositories: load domain objects from rows and write their changes back.

Repositories never commit; the unit of work does.
"""

from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, and_, bindparam, insert, select
from sqlalchemy.orm import Session

from db import models
from db.base import table_of
from workflow import versions as domain
from workflow.actors import Actor
from workflow.events import Event
from workflow.states import BoardStatus, Outcome, VersionState


def program_members(session: Session, program_id: str) -> tuple[str, ...]:
    """The ids of the program's boards, in the order they were given."""
    rows = session.scalars(
        select(models.ProgramBoard.board_id)
        .where(models.ProgramBoard.program_id == program_id)
        .order_by(models.ProgramBoard.position)
    )
    return tuple(rows)


Columns = TypeVarTuple("Columns")


def with_member_decisions(query: Select[*Columns]) -> Select[*Columns]:
    """`query`, which reads `program_boards`, joined to their decisions on `:version_id`.

    A board without a decision gives one row of NULLs; a board's rows come
    oldest first, so its latest decision (the one that stands) comes last.
    """
    return query.outerjoin(
        models.Decision,
        and_(
            models.Decision.version_id == bindparam("version_id"),
            models.Decision.board_id == models.ProgramBoard.board_id,
        ),
    ).order_by(models.ProgramBoard.position, models.Decision.recorded_at, models.Decision.id)


VERSION_BY_ID = select(models.Version).where(models.Version.id == bindparam("version_id"))
_LOCK_VERSION = VERSION_BY_ID.with_for_update()
_MEMBER_DECISIONS = with_member_decisions(
    select(models.ProgramBoard.board_id, models.Decision.outcome, models.Decision.decided_on).where(
        models.ProgramBoard.program_id == bindparam("program_id")
    )
)
_INSERT_DECISION = insert(table_of(models.Decision))


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
        "recorded_at": now,
    }


class VersionRepository:
    """Versions as domain objects; tracks the ones it handed out."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[str, tuple[domain.Version, models.Version]] = {}

    def get(self, version_id: str, *, lock: bool = False) -> domain.Version | None:
        """The version with its board statuses, locked for update when `lock`."""
        if version_id in self.seen:
            return self.seen[version_id][0]
        row = self.session.execute(
            _LOCK_VERSION if lock else VERSION_BY_ID, {"version_id": version_id}
        ).scalar_one_or_none()
        if row is None:
            return None
        # A statement of its own, after the lock: on PostgreSQL a statement that
        # waited for the row lock still reads the other tables as they were when
        # it began, so joined here it would miss decisions committed meanwhile
        # (eight simultaneous approvals would each see seven missing).
        boards = self.session.execute(
            _MEMBER_DECISIONS, {"version_id": version_id, "program_id": row.program_id}
        ).all()
        version = domain.Version(
            id=row.id,
            program_id=row.program_id,
            state=VersionState(row.state),
            members=tuple(dict.fromkeys(board_id for board_id, _, _ in boards)),
            valid_from=row.valid_from,
            replaces=row.replaces,
            document_sha256=row.document_sha256,
            sent_out_at=row.sent_out_at,
            respond_by=row.respond_by,
            in_force_from=row.in_force_from,
            superseded_on=row.superseded_on,
            superseded_by=row.superseded_by,
        )
        for board_id, outcome, decided_on in boards:
            if outcome is None:
                continue
            version.statuses[board_id] = BoardStatus(outcome)
            if outcome == Outcome.APPROVED:
                version.approved_on[board_id] = decided_on
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
