"""The clock's note of legal force: `decision.final` and `version.final`, once each.

When the day a decision (or a version in force) gains legal force arrives,
the scheduler's tick writes its event through the unit of work, so webhooks
tell the case-management systems. The rows are claimed with `FOR UPDATE SKIP
LOCKED` (on SQLite writers queue on `BEGIN IMMEDIATE`) and marked with the
date noted in the same transaction, and each event's `once` key is unique
in `event_keys`: however many workers tick, each is written once. A date
that moves (a correction, a ruling) is noted again at its new date.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from db.uow import UnitOfWork
from workflow.actors import SYSTEM
from workflow.dates import today_in_stockholm
from workflow.events import Event, EventType
from workflow.states import DecisionStatus, VersionState


@dataclass
class LegalForceReport:
    """What one pass noted."""

    decisions: int = 0
    versions: int = 0


def _due(model: type[models.Decision] | type[models.Version], today: date) -> list[Any]:
    """Rows whose legal-force date has come and is not noted yet."""
    return [
        model.final_on <= today,
        or_(model.final_noted_on.is_(None), model.final_noted_on != model.final_on),
    ]


def _taken(session: Session, keys: list[str]) -> set[str]:
    """Keys already held (a date that moved back to one already noted)."""
    if not keys:
        return set()
    return set(session.scalars(select(models.EventKey.key).where(models.EventKey.key.in_(keys))))


def note_legal_force(db: Database, now: datetime, batch: int = 200) -> LegalForceReport:
    """Write the legal-force events that are due at `now`, each once."""
    report = LegalForceReport()
    today = today_in_stockholm(now)
    while True:
        with UnitOfWork(db, SYSTEM, now) as uow:
            decisions = uow.session.execute(
                select(models.Decision, models.Version.program_id)
                .join(models.Version, models.Version.id == models.Decision.version_id)
                .where(*_due(models.Decision, today))
                .where(models.Decision.status == DecisionStatus.STANDING)
                .order_by(models.Decision.final_on, models.Decision.id)
                .limit(batch)
                .with_for_update(of=models.Decision, skip_locked=True)
            ).all()
            versions = uow.session.scalars(
                select(models.Version)
                .where(*_due(models.Version, today))
                .where(models.Version.state == VersionState.IN_FORCE)
                .order_by(models.Version.final_on, models.Version.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            events = [_decision_final(row, program_id) for row, program_id in decisions]
            events += [_version_final(row) for row in versions]
            taken = _taken(uow.session, [e.once for e in events if e.once])
            for event in events:
                if event.once not in taken:
                    uow.record(event)
            for row, _program_id in decisions:
                row.final_noted_on = row.final_on
            for version in versions:
                version.final_noted_on = version.final_on
            uow.commit()
        report.decisions += len(decisions)
        report.versions += len(versions)
        if len(decisions) < batch and len(versions) < batch:
            return report


def _decision_final(row: models.Decision, program_id: str) -> Event:
    final_on = row.final_on.isoformat() if row.final_on else None
    return Event(
        EventType.DECISION_FINAL,
        program_id,
        row.version_id,
        row.board_id,
        {"decision_id": row.id, "outcome": row.outcome, "final_on": final_on},
        once=f"decision.final:{row.id}:{final_on}",
    )


def _version_final(row: models.Version) -> Event:
    final_on = row.final_on.isoformat() if row.final_on else None
    in_force_from = row.in_force_from.isoformat() if row.in_force_from else None
    return Event(
        EventType.VERSION_FINAL,
        row.program_id,
        row.id,
        data={"final_on": final_on, "in_force_from": in_force_from},
        once=f"version.final:{row.id}:{row.entries}:{final_on}",
    )
