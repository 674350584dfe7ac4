"""Commands on a decision after its meeting: announcement, appeals, rulings, corrections.

Each locks the decision's version first (the order every decision takes:
version, then the version it replaces), loads the decision with its appeals
after the lock, and runs the pure command of `workflow.after_meeting`; the
caller's unit of work stores the result and its events in one transaction.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from db import models
from db.commands import new_id
from db.repositories import appeal_decision, decision_version
from db.uow import UnitOfWork
from workflow import after_meeting
from workflow import versions as domain
from workflow.decisions import Decision
from workflow.errors import NotFound
from workflow.states import AppealOutcome, VersionState


@dataclass(frozen=True)
class Located:
    """A decision, the version it belongs to (locked) and that version's predecessor
    (locked too, when a change may move it: the version is or was in force)."""

    version: domain.Version
    decision: Decision
    predecessor: domain.Version | None


def locate(uow: UnitOfWork, decision_id: str) -> Located:
    """The decision `decision_id` and its version, locked; `NotFound` when there is none."""
    version_id = decision_version(uow.session, decision_id)
    if version_id is None:
        raise NotFound(f"no decision {decision_id}")
    uow.bind(version_id=version_id)
    version = uow.versions.get(version_id, lock=True)
    if version is None:
        raise NotFound(f"no decision {decision_id}")
    predecessor = None
    if version.replaces is not None and version.state is VersionState.IN_FORCE:
        predecessor = uow.versions.get(version.replaces, lock=True)
    decision = uow.versions.decision(decision_id)
    uow.bind(board_id=decision.board_id)
    return Located(version, decision, predecessor)


def announce(
    uow: UnitOfWork, decision_id: str, minutes_attested_on: date, announced_on: date
) -> Located:
    """Record when the minutes were attested and the attestation announced."""
    found = locate(uow, decision_id)
    after_meeting.announce(
        found.version, found.decision, minutes_attested_on, announced_on, uow.now
    )
    return found


def lodge_appeal(
    uow: UnitOfWork, decision_id: str, lodged_on: date, court: str, case_number: str
) -> tuple[Located, str]:
    """Record an appeal of a decision; the appeal's id."""
    found = locate(uow, decision_id)
    appeal_id = new_id()
    after_meeting.lodge_appeal(
        found.version, found.decision, appeal_id, lodged_on, court, case_number, uow.now
    )
    return found, appeal_id


def rule(
    uow: UnitOfWork,
    appeal_id: str,
    outcome: AppealOutcome,
    ruled_on: date,
    ruling_final_on: date | None,
) -> Located:
    """Record the court's ruling on an appeal (an annulment may reopen the version)."""
    decision_id = appeal_decision(uow.session, appeal_id)
    if decision_id is None:
        raise NotFound(f"no appeal {appeal_id}")
    found = locate(uow, decision_id)
    appeal = next(a for a in found.decision.appeals if a.id == appeal_id)
    after_meeting.rule(
        found.version,
        found.decision,
        appeal,
        outcome,
        ruled_on,
        ruling_final_on,
        uow.now,
        found.predecessor,
    )
    return found


def correct(
    uow: UnitOfWork, decision_id: str, changes: dict[str, Any], reason: str
) -> tuple[Located, models.Correction]:
    """Put right a slip in a decision's record; the stored correction."""
    found = locate(uow, decision_id)
    diff = after_meeting.correct(
        found.version, found.decision, changes, reason, uow.now, found.predecessor
    )
    row = models.Correction(
        id=new_id(),
        decision_id=decision_id,
        changes={
            name: {k: v.isoformat() if isinstance(v, date) else v for k, v in change.items()}
            for name, change in diff.items()
        },
        reason=reason,
        recorded_by=uow.actor.name,
        recorded_by_role=uow.actor.role.value,
        recorded_by_board=uow.actor.board_id,
        recorded_at=uow.now,
    )
    uow.session.add(row)
    return found, row
