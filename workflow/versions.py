"""Program versions and the commands that move them.

A command checks the rules, changes the `Version` it is given and appends
the events that say what happened; it never does I/O. The caller (the unit
of work in `db/`) loads the versions, runs one command and stores the result
and its events in one transaction.
"""

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
from workflow.events import Event
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
class Version:
    """One version of a program, as far as the rules need to know it."""

    id: str
    program_id: str
    state: VersionState
    members: tuple[str, ...]
    valid_from: date
    replaces: str | None = None
    document_sha256: str | None = None
    statuses: dict[str, BoardStatus] = field(default_factory=dict)
    approved_on: dict[str, date] = field(default_factory=dict)
    sent_out_at: datetime | None = None
    respond_by: date | None = None
    in_force_from: date | None = None
    superseded_on: date | None = None
    superseded_by: str | None = None
    events: list[Event] = field(default_factory=list)
    new_decisions: list[Decision] = field(default_factory=list)

    def status_of(self, board_id: str) -> BoardStatus:
        """The board's current status on this version (pending until it decides)."""
        return self.statuses.get(board_id, BoardStatus.PENDING)

    def all_members_approved(self) -> bool:
        """True when every member board has approved this version."""
        return all(self.status_of(b) is BoardStatus.APPROVED for b in self.members)

    def _event(self, type_: str, board_id: str | None = None, **data: object) -> None:
        self.events.append(Event(type_, self.program_id, self.id, board_id, dict(data)))


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
    version._event("version.drafted", replaces=version.replaces)
    return version


def send_out(version: Version, respond_by: date, now: datetime) -> None:
    """Send a drafted version to the member boards, asking for answers by `respond_by`."""
    state = fire(VERSION_MACHINE, "send_out", version.state)
    if respond_by < today_in_stockholm(now):
        raise InvalidValue("respond_by is before today")
    version.state = state
    version.sent_out_at = now
    version.respond_by = respond_by
    version._event("version.sent_out", respond_by=respond_by.isoformat())


def withdraw(version: Version, reason: str) -> None:
    """Withdraw a version that is drafted or out for decision."""
    version.state = fire(VERSION_MACHINE, "withdraw", version.state)
    version._event("version.withdrawn", reason=reason)


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
    board = decision.board_id
    if board not in version.members:
        raise NotAMember(f"{board} is not one of the program's boards")
    try:
        status = fire(BOARD_MACHINE, TRIGGERS[decision.outcome], version.status_of(board))
    except InvalidTransition:
        raise AlreadyDecided(f"{board} has already decided: {version.status_of(board)}") from None
    if decision.decided_on > today_in_stockholm(now):
        raise InvalidValue("decided_on is in the future")
    if decision.document_sha256 is not None and decision.document_sha256 != version.document_sha256:
        raise DocumentMismatch("document_sha256 is not the version's document")

    # Decide the version's next state before changing anything, so a refusal
    # (the predecessor is no longer in force) leaves the version as it was.
    all_approved = completes(version, decision)
    state: VersionState = version.state
    if decision.outcome in REJECTING_OUTCOMES:
        state = fire(VERSION_MACHINE, "reject", version.state)
    elif all_approved:
        if (predecessor.id if predecessor else None) != version.replaces:
            raise ValueError("predecessor must be the version that this version replaces")
        guards = {
            "all_members_approved": lambda: all_approved,
            "predecessor_in_force": lambda: (
                predecessor.state is VersionState.IN_FORCE if predecessor else in_force_id is None
            ),
        }
        state = fire(
            VERSION_MACHINE, "enter_into_force", version.state, guards, PredecessorNotInForce
        )

    version.statuses[board] = status
    if status is BoardStatus.APPROVED:
        version.approved_on[board] = decision.decided_on
    version.new_decisions.append(decision)
    version._event("decision.recorded", board, **decision.fields())
    if state is VersionState.REJECTED:
        version.state = state
        version._event("version.rejected", board, outcome=decision.outcome.value)
    elif state is VersionState.IN_FORCE:
        _enter_into_force(version, predecessor)


def completes(version: Version, decision: Decision) -> bool:
    """Whether `decision` would be the approval that puts `version` in force."""
    return decision.outcome is Outcome.APPROVED and all(
        b == decision.board_id or version.status_of(b) is BoardStatus.APPROVED
        for b in version.members
    )


def _enter_into_force(version: Version, predecessor: Version | None) -> None:
    """Put `version` in force (its guards were checked) and supersede its predecessor."""
    on = max(max(version.approved_on.values()), version.valid_from)
    version.state = VersionState.IN_FORCE
    version.in_force_from = on
    version._event("version.in_force", in_force_from=on.isoformat(), replaces=version.replaces)
    if predecessor is not None:
        predecessor.state = fire(VERSION_MACHINE, "supersede", predecessor.state)
        predecessor.superseded_on = on
        predecessor.superseded_by = version.id
        predecessor._event(
            "version.superseded", superseded_by=version.id, superseded_on=on.isoformat()
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
    version._event("version.imported", in_force_from=in_force_from.isoformat(), note=note)
    return version
