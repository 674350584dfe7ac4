"""What the status pages show, built from the read models the JSON routes use."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from db import audit_queries, decision_queries, models, queries
from workflow.dates import STOCKHOLM
from workflow.diagram import workflow_diagram
from workflow.machines import BOARD_MACHINE, VERSION_MACHINE, states, transition_table
from workflow.states import UNDECIDED, BoardStatus, DecisionStatus, VersionState

TONE = {
    "approved": "good",
    "in_force": "good",
    "rejected": "bad",
    "amended": "bad",
    "referred_back": "wait",
    "tabled": "wait",
    "sent_out": "info",
    "pending": "open",
    "drafted": "open",
    "unknown": "open",
    "withdrawn": "gone",
    "superseded": "gone",
    "annulled": "wait",
    "appealed": "wait",
    "standing": "good",
}
"""Status or state → the badge's colour class (always shown with its text label)."""

SYMBOL = {"good": "✓", "bad": "✗", "wait": "↻", "info": "→", "open": "○", "gone": "–"}
"""A shape per tone, so the badges differ without colour too (decorative: aria-hidden)."""


@dataclass(frozen=True)
class Deadline:
    """Days left to `respond_by` for a board that still owes its decision."""

    days: int | None
    answered: bool

    @property
    def tone(self) -> str:
        """Overdue is bad, the last three days are a warning."""
        if self.days is None or self.answered:
            return "none"
        if self.days < 0:
            return "bad"
        return "wait" if self.days <= 3 else "open"


@dataclass(frozen=True)
class BoardRow:
    """One member board's line in the grid."""

    board_id: str
    municipality: str
    body: str
    status: str
    decided_on: date | None
    paragraph: str | None
    case_number: str | None
    deadline: Deadline
    appeal_until: date | None = None
    final_on: date | None = None
    appealed: bool = False
    corrected: bool = False


@dataclass(frozen=True)
class Round:
    """A version's round of decisions: its grid."""

    version: dict[str, Any]
    rows: list[BoardRow]
    approved: int
    open: bool


@dataclass(frozen=True)
class Transition:
    """One row of the accessible transitions table."""

    source: str
    trigger: str
    dest: str
    guards: tuple[str, ...]


@dataclass(frozen=True)
class Machine:
    """One state machine: its transitions, and the state to mark."""

    key: str
    states: list[str]
    transitions: list[Transition]
    current: str | None


@dataclass(frozen=True)
class ProgramPage:
    """Everything `/ui/programs/{id}` shows."""

    program: dict[str, Any]
    versions: list[dict[str, Any]]
    in_force: dict[str, Any] | None
    rounds: list[Round]
    machines: list[Machine]
    mermaid: str
    today: date


def deadline(version: dict[str, Any], status: str, today: date) -> Deadline:
    """Days from `today` (Europe/Stockholm) to the version's `respond_by`, while undecided."""
    respond_by: date | None = version["respond_by"]
    answered = status not in UNDECIDED and status != BoardStatus.UNKNOWN
    if answered or respond_by is None or version["state"] != VersionState.SENT_OUT:
        return Deadline(None, answered)
    return Deadline((respond_by - today).days, answered)


def round_of(version: dict[str, Any], boards: dict[str, models.Board], today: date) -> Round:
    """The grid of one version's member boards."""
    rows = []
    for status in version["boards"]:
        board = boards[status["board_id"]]
        rows.append(
            BoardRow(
                board_id=board.id,
                municipality=board.municipality,
                body=board.name,
                status=status["status"],
                decided_on=status["decided_on"],
                paragraph=status["paragraph"],
                case_number=status["case_number"],
                deadline=deadline(version, status["status"], today),
                appeal_until=status["appeal_until"],
                final_on=status["final_on"],
                appealed=status["decision_status"] == DecisionStatus.APPEALED,
                corrected=bool(status["corrected"]),
            )
        )
    approved = sum(1 for r in rows if r.status == BoardStatus.APPROVED)
    return Round(version, rows, approved, open=version["state"] == VersionState.SENT_OUT)


def _rounds(
    versions: list[dict[str, Any]], boards: dict[str, models.Board], today: date
) -> list[Round]:
    """Every version out for decision; when none is, the latest one ratify handled itself."""
    out = [v for v in versions if v["state"] == VersionState.SENT_OUT]
    if not out:
        out = [v for v in versions if not v["imported"]][-1:]
    return [round_of(v, boards, today) for v in out]


def machines(current: str | None) -> list[Machine]:
    """Both state machines, the version's first, with `current` marked in the version's."""
    found = []
    for key, machine, mark in (
        ("version_machine", VERSION_MACHINE, current),
        ("board_machine", BOARD_MACHINE, None),
    ):
        found.append(
            Machine(
                key=key,
                states=states(machine),
                transitions=[Transition(*row) for row in transition_table(machine)],
                current=mark,
            )
        )
    return found


def program_page(session: Session, program: models.Program, today: date) -> ProgramPage:
    """The program, its versions, what is in force today and the open round's grid."""
    versions = queries.list_versions(session, program.id, 1000, None)["items"]
    in_force_row = queries.in_force_on(session, program.id, today)
    in_force = next((v for v in versions if in_force_row and v["id"] == in_force_row.id), None)
    rounds = _rounds(versions, queries.boards_by_id(session), today)
    current = rounds[0].version["state"] if rounds else None
    return ProgramPage(
        program=queries.program_view(session, program),
        versions=versions,
        in_force=in_force,
        rounds=rounds,
        machines=machines(current),
        mermaid=workflow_diagram(),
        today=today,
    )


@dataclass(frozen=True)
class EventRow:
    """One event of the timeline."""

    seq: int
    at: datetime
    type: str
    actor_name: str
    actor_role: str
    actor_email: str | None
    actor_subject: str | None
    board: str | None
    details: list[tuple[str, str]]
    hash: str


HIDDEN_FIELDS = frozenset({"decision_id"})
FIELD_ORDER = [
    "outcome",
    "decided_on",
    "paragraph",
    "case_number",
    "minutes_attested_on",
    "announced_on",
    "final_on",
    "respond_by",
    "in_force_from",
    "superseded_on",
    "replaces",
    "superseded_by",
    "reason",
    "note",
]
VERSION_FIELDS = frozenset({"replaces", "superseded_by"})


def _order(key: str) -> tuple[int, str]:
    return (FIELD_ORDER.index(key) if key in FIELD_ORDER else len(FIELD_ORDER), key)


def _shown(key: str, value: Any, labels: dict[str, str]) -> str:
    """An event's data value as text: version ids by label, structures as `key: value` pairs."""
    if key in VERSION_FIELDS and isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(k, v, labels)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(_shown(key, v, labels) for v in value)
    return str(value)


def details(data: dict[str, Any], labels: dict[str, str]) -> list[tuple[str, str]]:
    """An event's data as (field, text) pairs, the decision's own fields first."""
    return [
        (key, _shown(key, data[key], labels))
        for key in sorted(data, key=_order)
        if data[key] not in (None, {}, []) and key not in HIDDEN_FIELDS
    ]


@dataclass(frozen=True)
class AuditPage:
    """Everything `/ui/versions/{id}/audit` shows (the verify result is added by the route)."""

    version: dict[str, Any]
    events: list[EventRow]
    older_than: int | None
    paged: bool
    decisions: list[dict[str, Any]]
    """The version's decisions with their appeals and corrections, by municipality."""


def audit_page(
    session: Session, version: models.Version, before: int | None, limit: int = 100
) -> AuditPage:
    """The version's events, newest first, at most `limit` from below `before`."""
    boards = queries.boards_by_id(session)
    labels = queries.version_labels(session, version.program_id)
    rows, older_than = audit_queries.version_events(session, version.id, before, limit)
    events = [
        EventRow(
            seq=r.seq,
            at=r.at.astimezone(STOCKHOLM),
            type=r.type,
            actor_name=r.actor_name,
            actor_role=r.actor_role,
            actor_email=r.actor_email,
            actor_subject=r.actor_subject,
            board=boards[r.board_id].municipality if r.board_id in boards else r.board_id,
            details=details(r.data, labels),
            hash=r.hash,
        )
        for r in rows
    ]
    decisions = decision_queries.list_decisions(session, version, 1000, None)["items"]
    for item in decisions:
        item["municipality"] = (
            boards[item["board_id"]].municipality if item["board_id"] in boards else ""
        )
    return AuditPage(
        version=queries.version_view(session, version),
        events=events,
        older_than=older_than,
        paged=before is not None,
        decisions=decisions,
    )
