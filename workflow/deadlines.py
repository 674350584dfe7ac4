"""A program's deadlines, as a calendar shows them: what falls due on which day.

Pure: the caller hands in the versions with their standing decisions and the
audit events about them; the calendar format is the API's business.

- `respond-by-<version id>@ratify`: the day the boards' answers are due,
  while the version is out for decision;
- `appeal-until-<decision id>@ratify`: a decision's last day to appeal;
- `decision-final-<decision id>@ratify`: the day a decision gains legal force;
- `version-final-<version id>@ratify`: the day a version in force does.

The UIDs depend only on what a deadline is about, so a calendar client
updates an entry whose day moved instead of adding another. Each entry's
revision counts the audit events about its subject (a later event can only
raise it: RFC 5545 SEQUENCE), and its stamp is the time of the last of them,
so a feed with nothing new is byte for byte the feed before.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from workflow.states import DecisionStatus, VersionState


class DeadlineKind(StrEnum):
    """What falls due."""

    RESPOND_BY = "respond-by"
    APPEAL_UNTIL = "appeal-until"
    DECISION_FINAL = "decision-final"
    VERSION_FINAL = "version-final"


@dataclass(frozen=True)
class DecisionFacts:
    """The decision that stands for one member board, as far as its deadlines go."""

    id: str
    board_id: str
    municipality: str
    paragraph: str
    case_number: str | None
    appeal_until: date | None
    final_on: date | None
    status: str


@dataclass(frozen=True)
class VersionFacts:
    """One version of the program and its standing decisions."""

    id: str
    label: str
    state: str
    respond_by: date | None
    final_on: date | None
    decisions: Sequence[DecisionFacts]


@dataclass(frozen=True)
class Deadline:
    """One all-day entry of the calendar."""

    uid: str
    kind: DeadlineKind
    day: date
    version_id: str
    version_label: str
    sequence: int
    stamp: datetime
    decision: DecisionFacts | None = None


def revisions(events: Iterable[tuple[str, datetime]]) -> dict[str, tuple[int, datetime]]:
    """For each subject (a version or decision id), from its audit events in order: how
    many came after its first (the SEQUENCE) and when the last one was (the DTSTAMP)."""
    found: dict[str, tuple[int, datetime]] = {}
    for subject, at in events:
        count = found[subject][0] + 1 if subject in found else 0
        found[subject] = (count, at)
    return found


def deadlines(
    versions: Iterable[VersionFacts],
    events: Iterable[tuple[str, datetime]],
    fallback: datetime,
) -> list[Deadline]:
    """Every deadline of the versions, by day (then UID)."""
    revised = revisions(events)
    found: list[Deadline] = []

    def add(
        kind: DeadlineKind,
        subject: str,
        day: date,
        version: VersionFacts,
        decision: DecisionFacts | None = None,
    ) -> None:
        sequence, stamp = revised.get(subject, (0, fallback))
        uid = f"{kind.value}-{subject}@ratify"
        found.append(Deadline(uid, kind, day, version.id, version.label, sequence, stamp, decision))

    for version in versions:
        if version.state == VersionState.SENT_OUT and version.respond_by is not None:
            add(DeadlineKind.RESPOND_BY, version.id, version.respond_by, version)
        if version.final_on is not None:
            add(DeadlineKind.VERSION_FINAL, version.id, version.final_on, version)
        for decision in version.decisions:
            if decision.status == DecisionStatus.ANNULLED:
                continue
            if decision.appeal_until is not None:
                add(
                    DeadlineKind.APPEAL_UNTIL, decision.id, decision.appeal_until, version, decision
                )
            if decision.final_on is not None:
                add(DeadlineKind.DECISION_FINAL, decision.id, decision.final_on, version, decision)
    return sorted(found, key=lambda d: (d.day, d.uid))
