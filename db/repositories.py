"""Repositories: load domain objects from rows and write their changes back.

Repositories never commit; the unit of work does. This module also holds the
one query that answers "which decision stands for each member board", which
the domain, the version view and the register all read (the version view's
one-statement form is in `db.queries`).
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, select
from sqlalchemy.orm import Session

from db import models
from db.base import core, table_of
from workflow import decisions
from workflow import versions as domain
from workflow.actors import Actor
from workflow.events import Event
from workflow.states import AppealOutcome, BoardStatus, DecisionStatus, Outcome, VersionState


def program_members(session: Session, program_id: str) -> tuple[str, ...]:
    """The ids of the program's boards, in the order they were given."""
    rows = session.scalars(
        select(models.ProgramBoard.board_id)
        .where(models.ProgramBoard.program_id == program_id)
        .order_by(models.ProgramBoard.position)
    )
    return tuple(rows)


_DECISIONS = table_of(models.Decision)
_MEMBERS = table_of(models.ProgramBoard)
_MEMBER_DECISIONS = (
    select(_MEMBERS.c.board_id.label("member"), *_DECISIONS.c)
    .select_from(_MEMBERS)
    .outerjoin(
        _DECISIONS,
        and_(
            _DECISIONS.c.version_id == bindparam("version_id"),
            _DECISIONS.c.board_id == _MEMBERS.c.board_id,
        ),
    )
    .where(_MEMBERS.c.program_id == bindparam("program_id"))
    .order_by(_MEMBERS.c.position, _DECISIONS.c.recorded_at, _DECISIONS.c.id)
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
    keys = {"version_id": version_id, "program_id": program_id}
    return standing_of(core(session).execute(_MEMBER_DECISIONS, keys))


def standing_of(rows: Iterable[Row[Any]]) -> Standing:
    """`Standing` from rows of a `member` and a decision's columns (NULLs for none), each
    member's oldest first, so the one that stands is written last."""
    standing: Standing = {}
    for row in rows:
        if row.member is not None:  # a version of a program without boards: none
            standing[row.member] = row if row.id is not None else None
    return standing


VERSION_BY_ID = select(models.Version).where(models.Version.id == bindparam("version_id"))
_LOCK_VERSION = VERSION_BY_ID.with_for_update()
_INSERT_DECISION = insert(_DECISIONS)
_VERSIONS = table_of(models.Version)
_IN_FORCE = select(_VERSIONS.c.id).where(
    _VERSIONS.c.program_id == bindparam("program_id"),
    _VERSIONS.c.state == VersionState.IN_FORCE,
)


def in_force_id(session: Session, program_id: str) -> str | None:
    """The id of the program's version in force now, if any."""
    found: str | None = core(session).scalar(_IN_FORCE, {"program_id": program_id})
    return found


_DECIDED = (
    "decided_on",
    "paragraph",
    "case_number",
    "minutes_attested_on",
    "announced_on",
    "note",
)
"""The fields of a decision that can change after it was recorded (by a correction or its
announcement); the derived ones follow in `_derived`."""


def _derived(decision: decisions.Decision) -> dict[str, Any]:
    return {
        "appeal_until": decision.appeal_until,
        "final_on": decision.final_on,
        "status": decision.status.value,
        "corrected": decision.corrected,
    }


def decision_row(
    version_id: str, decision: decisions.Decision, actor: Actor, now: datetime
) -> dict[str, Any]:
    """The `decisions` row that records `decision`, made by `actor` at `now`."""
    return {
        "id": decision.id,
        "version_id": version_id,
        "board_id": decision.board_id,
        "outcome": decision.outcome.value,
        **{name: getattr(decision, name) for name in _DECIDED},
        "document_sha256": decision.document_sha256,
        **_derived(decision),
        "recorded_by": actor.name,
        "recorded_by_role": actor.role.value,
        "recorded_by_board": actor.board_id,
        "recorded_by_subject": actor.subject,
        "recorded_by_email": actor.email,
        "recorded_at": now,
    }


def decision_version(session: Session, decision_id: str) -> str | None:
    """The id of the version a decision was recorded on, if there is such a decision."""
    return session.scalar(
        select(models.Decision.version_id).where(models.Decision.id == decision_id)
    )


def appeal_decision(session: Session, appeal_id: str) -> str | None:
    """The id of the decision an appeal is of, if there is such an appeal."""
    return session.scalar(select(models.Appeal.decision_id).where(models.Appeal.id == appeal_id))


Tracked = tuple[decisions.Decision, models.Decision, dict[str, models.Appeal]]
"""A decision handed out, its row and its appeals' rows by id."""


class VersionRepository:
    """Versions as domain objects; tracks the ones it handed out."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[str, tuple[domain.Version, models.Version]] = {}
        self.decisions: dict[str, Tracked] = {}

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
            final_on=row.final_on,
            entries=row.entries,
        )
        for board_id, decision in standing.items():
            if decision is not None:
                annulled = decision.status == DecisionStatus.ANNULLED
                version.boards[board_id] = domain.Board(
                    board_id,
                    BoardStatus.ANNULLED if annulled else BoardStatus(decision.outcome),
                    decision.id,
                    decision.decided_on,
                    decision.final_on,
                )
        self.seen[version_id] = (version, row)
        return version

    def decision(self, decision_id: str) -> decisions.Decision:
        """A decision with its appeals (load and lock its version first)."""
        if decision_id in self.decisions:
            return self.decisions[decision_id][0]
        row = self.session.get_one(models.Decision, decision_id)
        appeal_rows = self.session.scalars(
            select(models.Appeal)
            .where(models.Appeal.decision_id == decision_id)
            .order_by(models.Appeal.recorded_at, models.Appeal.id)
        ).all()
        decision = decisions.Decision(
            id=row.id,
            board_id=row.board_id,
            outcome=Outcome(row.outcome),
            **{name: getattr(row, name) for name in _DECIDED},
            document_sha256=row.document_sha256,
            appeals=[
                decisions.Appeal(
                    a.id,
                    a.lodged_on,
                    a.court,
                    a.case_number,
                    a.late,
                    AppealOutcome(a.outcome) if a.outcome else None,
                    a.ruled_on,
                    a.ruling_final_on,
                )
                for a in appeal_rows
            ],
            corrected=row.corrected,
        )
        self.decisions[decision_id] = (decision, row, {a.id: a for a in appeal_rows})
        return decision

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
        for decision, decision_row_, appeals in self.decisions.values():
            _copy_changes(decision_row_, {name: getattr(decision, name) for name in _DECIDED})
            _copy_changes(decision_row_, _derived(decision))
            for appeal in decision.appeals:
                self._store_appeal(decision.id, appeal, appeals, actor, now)
        self.session.flush()

    def _store_appeal(
        self,
        decision_id: str,
        appeal: decisions.Appeal,
        rows: dict[str, models.Appeal],
        actor: Actor,
        now: datetime,
    ) -> None:
        row = rows.get(appeal.id)
        if row is None:
            rows[appeal.id] = row = models.Appeal(
                id=appeal.id,
                decision_id=decision_id,
                lodged_on=appeal.lodged_on,
                court=appeal.court,
                case_number=appeal.case_number,
                late=appeal.late,
                recorded_by=actor.name,
                recorded_at=now,
            )
            self.session.add(row)
        ruling = {
            "outcome": appeal.outcome.value if appeal.outcome else None,
            "ruled_on": appeal.ruled_on,
            "ruling_final_on": appeal.ruling_final_on,
        }
        if any(getattr(row, k) != v for k, v in ruling.items()):
            _copy_changes(row, {**ruling, "ruled_by": actor.name, "ruled_at": now})
        _copy_changes(row, {"late": appeal.late})

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
                "final_on": version.final_on,
                "entries": version.entries,
            }
            _copy_changes(row, changes)
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


def _copy_changes(row: object, values: dict[str, Any]) -> None:
    """Set the attributes that differ: setting one, even to its value, makes the flush go
    through the row (most commands change none)."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
