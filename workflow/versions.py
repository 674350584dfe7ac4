"""Program versions and the commands that move them.

A command checks the rules, changes the `Version` it is given and appends
the events that say what happened; it never does I/O, and a command that is
refused changes nothing. The caller (the unit of work in `db/`) loads the
versions, runs one command and stores the result and its events in one
transaction.

Every change of state goes through the rules tables of `workflow.machines`:
the command fires the trigger and the machine's guards (the methods of
`Version` named in the table) decide. The rule "a version is in force only
when every member approved" is the guard `all_members_approved`, and
`settle` is the one place that brings a version to the state its boards'
decisions give it. What happens to a decision after its meeting
(announcement, appeals, rulings, corrections) is in `workflow.decisions`.
"""

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from workflow.dates import today_in_stockholm
from workflow.decisions import Decision
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

_REJECTING = frozenset(BoardStatus(o.value) for o in REJECTING_OUTCOMES)


@dataclass
class Board:
    """One member board on one version: its status and the decision behind it."""

    id: str
    state: BoardStatus = BoardStatus.PENDING
    decision_id: str | None = None
    """The decision that gave `state` (None while pending)."""
    decided_on: date | None = None
    """That decision's meeting date."""
    final_on: date | None = None
    """When that decision gains legal force (None while unknown)."""


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
    final_on: date | None = None
    """When the version gains legal force: the latest legal-force date of the approvals
    that put it in force, once all are known (None before, and in any other state)."""
    entries: int = 0
    """How many times the version has entered into force (a court can send it back)."""
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
        return any(self.status(b) in _REJECTING for b in self.members)

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

    def entered_here(self, **_context: object) -> bool:
        """The version entered into force through its boards' decisions in ratify (a version
        imported as history did not: its decisions were never all recorded)."""
        return self.entries > 0

    def successor_reopened(self, successor: "Version | None" = None, **_context: object) -> bool:
        """The version that superseded this one has left force (a court reopened it)."""
        return (
            successor is not None
            and successor.id == self.superseded_by
            and successor.state is not VersionState.IN_FORCE
        )

    # ----------------------------------------------------------------------------------

    def refresh_final_on(self) -> None:
        """Recompute `final_on` from the approvals' legal-force dates (only a version that
        entered into force through ratify has them)."""
        finals = [
            self.status(b) is BoardStatus.APPROVED and self.board(b).final_on for b in self.members
        ]
        known = [d for d in finals if isinstance(d, date)]
        in_force = self.state is VersionState.IN_FORCE and self.entries > 0
        self.final_on = max(known) if in_force and len(known) == len(finals) else None

    def record(self, type_: EventType, board_id: str | None = None, **data: object) -> None:
        """Append an event about this version."""
        self.events.append(Event(type_, self.program_id, self.id, board_id, dict(data)))


@contextmanager
def all_or_nothing(*versions: "Version | None") -> Iterator[None]:
    """Undo every change to `versions` when the command raises (a refusal changes nothing)."""
    saved = [(v, _snapshot(v)) for v in versions if v is not None]
    try:
        yield
    except Exception:
        for version, state in saved:
            version.__dict__.clear()
            version.__dict__.update(state)
        raise


def _snapshot(version: Version) -> dict[str, object]:
    """A copy of the version's fields that a command's changes cannot reach: its lists and
    its boards are copied, the rest is immutable (a deep copy cost a decision 4% of its CPU).
    """
    return {name: _copied(value) for name, value in version.__dict__.items()}


def _copied(value: object) -> object:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return {key: copy.copy(item) for key, item in value.items()}
    return value


def draft(
    *,
    version_id: str,
    program_id: str,
    members: tuple[str, ...],
    valid_from: date,
    valid_until: date | None,
    replaces: Version | None = None,
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
    # The document's hash, when there is one, goes into the chain (certificates bind to it).
    document = {"document_sha256": document_sha256} if document_sha256 else {}
    version.record(EventType.VERSION_DRAFTED, replaces=version.replaces, **document)
    return version


def send_out(version: Version, respond_by: date, now: datetime) -> None:
    """Send a drafted version to the member boards, asking for answers by `respond_by`."""
    with all_or_nothing(version):
        fire(VERSION_MACHINE, "send_out", version)
        if respond_by < today_in_stockholm(now):
            raise InvalidValue("respond_by is before today")
        version.sent_out_at = now
        version.respond_by = respond_by
        version.record(EventType.VERSION_SENT_OUT, respond_by=respond_by.isoformat())


def withdraw(version: Version, reason: str) -> None:
    """Withdraw a version that is drafted or out for decision."""
    fire(VERSION_MACHINE, "withdraw", version)
    version.record(EventType.VERSION_WITHDRAWN, reason=reason)


def check_dates(
    decided_on: date,
    minutes_attested_on: date | None,
    announced_on: date | None,
    today: date,
) -> None:
    """A decision's dates come in order: meeting ≤ attestation ≤ announcement ≤ today."""
    if decided_on > today:
        raise InvalidValue("decided_on is in the future")
    given = [
        ("decided_on", decided_on),
        ("minutes_attested_on", minutes_attested_on),
        ("announced_on", announced_on),
    ]
    known = [(name, day) for name, day in given if day is not None]
    for (before, first), (after, second) in itertools.pairwise(known):
        if second < first:
            raise InvalidValue(f"{after} is before {before}")
    if known[-1][1] > today:
        raise InvalidValue(f"{known[-1][0]} is in the future")


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
    with all_or_nothing(version, predecessor):
        board = version.board(decision.board_id)
        try:
            fire(BOARD_MACHINE, TRIGGERS[decision.outcome], board)
        except InvalidTransition:
            raise AlreadyDecided(f"{board.id} has already decided: {board.state}") from None
        check_dates(
            decision.decided_on,
            decision.minutes_attested_on,
            decision.announced_on,
            today_in_stockholm(now),
        )
        if (
            decision.document_sha256 is not None
            and decision.document_sha256 != version.document_sha256
        ):
            raise DocumentMismatch("document_sha256 is not the version's document")
        board.decision_id, board.decided_on, board.final_on = (
            decision.id,
            decision.decided_on,
            decision.final_on,
        )
        version.new_decisions.append(decision)
        version.record(EventType.DECISION_RECORDED, board.id, **decision.fields())
        settle(version, board.id, predecessor, in_force_id)


def completes(version: Version, decision: Decision) -> bool:
    """Whether `decision` could be the approval that puts `version` in force.

    Only a hint for loading (the last approval needs the predecessor's row,
    locked); the rules table decides.
    """
    return decision.outcome is Outcome.APPROVED and all(
        b == decision.board_id or version.status(b) is BoardStatus.APPROVED for b in version.members
    )


def settle(
    version: Version,
    board_id: str,
    predecessor: Version | None = None,
    in_force_id: str | None = None,
) -> None:
    """Bring `version` to the state its boards' counting decisions give it, by the rules
    table, after `board_id`'s changed; `predecessor` follows it in the same command."""
    if version.state is VersionState.SENT_OUT:
        if fire(VERSION_MACHINE, "reject", version):
            outcome = version.status(board_id).value
            version.record(EventType.VERSION_REJECTED, board_id, outcome=outcome)
            return
        context = {"predecessor": predecessor, "in_force_id": in_force_id}
        if fire(VERSION_MACHINE, "enter_into_force", version, **context):
            _entered_into_force(version, predecessor)
        elif version.all_members_approved():
            raise PredecessorNotInForce(
                "cannot enter into force: the replaced version is not in force"
            )
    elif version.state in (VersionState.IN_FORCE, VersionState.REJECTED):
        was = version.state
        if fire(VERSION_MACHINE, "reopen", version):
            _reopened(version, was, board_id, predecessor)


def _entered_into_force(version: Version, predecessor: Version | None) -> None:
    """Date the entry into force (the machine has moved it) and supersede the predecessor."""
    on = in_force_from(version)
    version.in_force_from = on
    version.entries += 1
    version.refresh_final_on()
    version.events.append(
        Event(
            EventType.VERSION_IN_FORCE,
            version.program_id,
            version.id,
            data={"in_force_from": on.isoformat(), "replaces": version.replaces},
            once=f"version.in_force:{version.id}:{version.entries}",
        )
    )
    if predecessor is not None:
        fire(VERSION_MACHINE, "supersede", predecessor)
        predecessor.superseded_on = on
        predecessor.superseded_by = version.id
        predecessor.final_on = None
        predecessor.record(
            EventType.VERSION_SUPERSEDED, superseded_by=version.id, superseded_on=on.isoformat()
        )


def in_force_from(version: Version) -> date:
    """The day a version whose every member approved is in force from: its latest approval's
    meeting date, or `valid_from` if later."""
    approved = [version.board(b).decided_on for b in version.members]
    return max([d for d in approved if d is not None] + [version.valid_from])


def _reopened(
    version: Version, was: VersionState, board_id: str, predecessor: Version | None
) -> None:
    """A court annulled a decision that counted: the version is out for decision again,
    and the version it had superseded is back in force."""
    version.record(EventType.VERSION_REOPENED, board_id, was=was.value)
    if was is not VersionState.IN_FORCE:
        return
    version.in_force_from = None
    version.final_on = None
    if predecessor is not None and fire(
        VERSION_MACHINE, "reinstate", predecessor, successor=version
    ):
        predecessor.superseded_on = None
        predecessor.superseded_by = None
        predecessor.refresh_final_on()
        predecessor.record(EventType.VERSION_REINSTATED, reopened=version.id)


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
    version.record(EventType.VERSION_IMPORTED, in_force_from=in_force_from.isoformat(), note=note)
    return version
