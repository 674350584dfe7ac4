"""Program versions and the commands that move them.

A command checks the rules, changes the `Version` it is given and appends
the events that say what happened; it never does I/O, and a command that is
refused changes nothing. The caller (the unit of work in `db/`) loads the
versions, runs one command and stores the result and its events in one
transaction.

Every change of state goes through the rules tables of `workflow.machines`:
the command fires the trigger and the machine's guards (the methods of
`Version` named in the table) decide.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from workflow.dates import final_on, today_in_stockholm
from workflow.errors import (
    AlreadyDecided,
    DocumentMismatch,
    InvalidTransition,
    InvalidValue,
    NotAMember,
    PredecessorNotInForce,
)
from workflow.events import Event, EventType
from workflow.machines import BOARD_MACHINE, VERSION_MACHINE, fire
from workflow.states import REJECTING_OUTCOMES, BoardStatus, Outcome, VersionState

TRIGGERS = {
    Outcome.APPROVED: "approve",
    Outcome.REJECTED: "reject",
    Outcome.AMENDED: "amend",
    Outcome.REFERRED_BACK: "refer_back",
    Outcome.TABLED: "table",
}
"""The board machine's trigger for each outcome."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What one board decided at one meeting, as recorded."""

    id: str
    board_id: str
    outcome: Outcome
    decided_on: date
    paragraph: str
    case_number: str
    document_sha256: str | None = None
    minutes_attested_on: date | None = None
    announced_on: date | None = None
    note: str | None = None

    @property
    def final_on(self) -> date | None:
        """When the decision gains legal force, once its announcement date is known."""
        return final_on(self.announced_on)

    def fields(self) -> dict[str, str | None]:
        """Every field as plain JSON values, for the audit trail."""

        def iso(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "decision_id": self.id,
            "outcome": self.outcome.value,
            "decided_on": self.decided_on.isoformat(),
            "paragraph": self.paragraph,
            "case_number": self.case_number,
            "document_sha256": self.document_sha256,
            "minutes_attested_on": iso(self.minutes_attested_on),
            "announced_on": iso(self.announced_on),
            "final_on": iso(self.final_on),
            "note": self.note,
        }


@dataclass
class Board:
    """One member board on one version: its status and the decision behind it."""

    id: str
    state: BoardStatus = BoardStatus.PENDING
    decided_on: date | None = None
    """The meeting date of the decision that gave `state` (None while pending)."""


@dataclass
class Version:
    """One version of a program, as far as the rules need to know it."""

    id: str
    program_id: str
    state: VersionState
    members: tuple[str, ...]
    valid_from: date
    replaces: str | None = None
    document_sha256: str | None = None
    boards: dict[str, Board] = field(default_factory=dict)
    sent_out_at: datetime | None = None
    respond_by: date | None = None
    in_force_from: date | None = None
    superseded_on: date | None = None
    superseded_by: str | None = None
    events: list[Event] = field(default_factory=list)
    new_decisions: list[Decision] = field(default_factory=list)

    def board(self, board_id: str) -> Board:
        """The member board `board_id` (pending until it decides); `NotAMember` for others."""
        if board_id not in self.members:
            raise NotAMember(f"{board_id} is not one of the program's boards")
        return self.boards.setdefault(board_id, Board(board_id))

    def status(self, board_id: str) -> BoardStatus:
        """The board's status on this version (pending until it decides)."""
        board = self.boards.get(board_id)
        return board.state if board else BoardStatus.PENDING

    # --- guards: the conditions the rules table names ---------------------------------

    def all_members_approved(self, **_context: object) -> bool:
        """Every member board has approved this version."""
        return all(self.status(b) is BoardStatus.APPROVED for b in self.members)

    def a_member_rejected(self, **_context: object) -> bool:
        """Some member board has rejected (or amended) this version."""
        rejecting = {BoardStatus(o.value) for o in REJECTING_OUTCOMES}
        return any(self.status(b) in rejecting for b in self.members)

    def predecessor_in_force(
        self,
        predecessor: "Version | None" = None,
        in_force_id: str | None = None,
        **_context: object,
    ) -> bool:
        """The version this one replaces is in force (or, replacing none, no version is)."""
        if (predecessor.id if predecessor else None) != self.replaces:
            raise ValueError("predecessor must be the version that this version replaces")
        if predecessor is None:
            return in_force_id is None or in_force_id == self.id
        return predecessor.state is VersionState.IN_FORCE

    def _event(self, type_: EventType, board_id: str | None = None, **data: object) -> None:
        self.events.append(Event(type_, self.program_id, self.id, board_id, dict(data)))


@contextmanager
def _all_or_nothing(*versions: Version | None) -> Iterator[None]:
    """Undo every change to `versions` when the command is refused (a `DomainError`)."""
    saved = [(v, copy.deepcopy(v.__dict__)) for v in versions if v is not None]
    try:
        yield
    except Exception:
        for version, state in saved:
            version.__dict__.clear()
            version.__dict__.update(state)
        raise


def draft(
    *,
    version_id: str,
    program_id: str,
    members: tuple[str, ...],
    valid_from: date,
    valid_until: date | None,
    replaces: "Version | None" = None,
    document_sha256: str | None = None,
) -> Version:
    """A new version in state `drafted`; `replaces` must belong to the same program."""
    if valid_until is not None and valid_until < valid_from:
        raise InvalidValue("valid_until is before valid_from")
    if replaces is not None and replaces.program_id != program_id:
        raise InvalidValue("replaces names a version of another program")
    version = Version(
        id=version_id,
        program_id=program_id,
        state=VersionState.DRAFTED,
        members=members,
        valid_from=valid_from,
        replaces=replaces.id if replaces else None,
        document_sha256=document_sha256,
    )
    version._event(EventType.VERSION_DRAFTED, replaces=version.replaces)
    return version


def send_out(version: Version, respond_by: date, now: datetime) -> None:
    """Send a drafted version to the member boards, asking for answers by `respond_by`."""
    with _all_or_nothing(version):
        fire(VERSION_MACHINE, "send_out", version)
        if respond_by < today_in_stockholm(now):
            raise InvalidValue("respond_by is before today")
        version.sent_out_at = now
        version.respond_by = respond_by
        version._event(EventType.VERSION_SENT_OUT, respond_by=respond_by.isoformat())


def withdraw(version: Version, reason: str) -> None:
    """Withdraw a version that is drafted or out for decision."""
    fire(VERSION_MACHINE, "withdraw", version)
    version._event(EventType.VERSION_WITHDRAWN, reason=reason)


def record_decision(
    version: Version,
    decision: Decision,
    now: datetime,
    predecessor: Version | None = None,
    in_force_id: str | None = None,
) -> None:
    """Record a board's decision; the last approval puts the version in force.

    `predecessor` is the version that `version` replaces (None if it replaces
    none); it is superseded in the same command when `version` enters into force.
    `in_force_id` is the program's version in force now, if any: a version
    that replaces none cannot enter into force beside it.
    """
    if version.state is not VersionState.SENT_OUT:
        raise InvalidTransition(
            f"decisions are accepted only while the version is sent_out, not {version.state}"
        )
    with _all_or_nothing(version, predecessor):
        board = version.board(decision.board_id)
        try:
            fire(BOARD_MACHINE, TRIGGERS[decision.outcome], board)
        except InvalidTransition:
            raise AlreadyDecided(f"{board.id} has already decided: {board.state}") from None
        if decision.decided_on > today_in_stockholm(now):
            raise InvalidValue("decided_on is in the future")
        if (
            decision.document_sha256 is not None
            and decision.document_sha256 != version.document_sha256
        ):
            raise DocumentMismatch("document_sha256 is not the version's document")
        board.decided_on = decision.decided_on
        version.new_decisions.append(decision)
        version._event(EventType.DECISION_RECORDED, board.id, **decision.fields())
        _settle(version, predecessor, in_force_id, decision)


def _settle(
    version: Version,
    predecessor: Version | None,
    in_force_id: str | None,
    decision: Decision,
) -> None:
    """Move `version` to the state its boards' decisions give it, by the rules table."""
    if fire(VERSION_MACHINE, "reject", version):
        version._event(
            EventType.VERSION_REJECTED, decision.board_id, outcome=decision.outcome.value
        )
        return
    context = {"predecessor": predecessor, "in_force_id": in_force_id}
    if fire(VERSION_MACHINE, "enter_into_force", version, **context):
        _entered_into_force(version, predecessor)
    elif version.all_members_approved():
        raise PredecessorNotInForce("cannot enter into force: the replaced version is not in force")


def completes(version: Version, decision: Decision) -> bool:
    """Whether `decision` could be the approval that puts `version` in force.

    Only a hint for loading (the last approval needs the predecessor's row,
    locked); the rules table decides.
    """
    return decision.outcome is Outcome.APPROVED and all(
        b == decision.board_id or version.status(b) is BoardStatus.APPROVED for b in version.members
    )


def _entered_into_force(version: Version, predecessor: Version | None) -> None:
    """Date the entry into force (the machine has moved it) and supersede the predecessor."""
    approved = [version.board(b).decided_on for b in version.members]
    on = max([d for d in approved if d is not None] + [version.valid_from])
    version.in_force_from = on
    version._event(
        EventType.VERSION_IN_FORCE, in_force_from=on.isoformat(), replaces=version.replaces
    )
    if predecessor is not None:
        fire(VERSION_MACHINE, "supersede", predecessor)
        predecessor.superseded_on = on
        predecessor.superseded_by = version.id
        predecessor._event(
            EventType.VERSION_SUPERSEDED, superseded_by=version.id, superseded_on=on.isoformat()
        )


def import_in_force(
    *, version_id: str, program_id: str, members: tuple[str, ...], in_force_from: date, note: str
) -> Version:
    """A historical version entered as already in force (no decisions are invented)."""
    version = Version(
        id=version_id,
        program_id=program_id,
        state=VersionState.IN_FORCE,
        members=members,
        valid_from=in_force_from,
        in_force_from=in_force_from,
    )
    version._event(EventType.VERSION_IMPORTED, in_force_from=in_force_from.isoformat(), note=note)
    return version
