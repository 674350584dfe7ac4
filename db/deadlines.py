"""The facts of a program's deadlines: its versions, their standing decisions, and the
audit events about each (for the calendar's SEQUENCE and DTSTAMP). See `workflow.deadlines`."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.queries import boards_by_id
from db.repositories import standing_decisions
from workflow.deadlines import DecisionFacts, VersionFacts
from workflow.events import EventType

ABOUT_VERSIONS_AND_DECISIONS = tuple(
    t.value for t in EventType if t.value.split(".")[0] in ("version", "decision", "appeal")
)
"""The event types that can move a deadline (reminders, mails and the like cannot)."""


def facts(
    session: Session, program_id: str
) -> tuple[list[VersionFacts], list[tuple[str, datetime]]]:
    """The program's versions with their standing decisions, and (subject, at) for each
    event about a version or a decision, in `seq` order (subject: the decision's id for an
    event about a decision, else the version's)."""
    boards = boards_by_id(session)
    versions = []
    for row in session.scalars(
        select(models.Version)
        .where(models.Version.program_id == program_id)
        .order_by(models.Version.created_at, models.Version.id)
    ):
        decisions = [
            DecisionFacts(
                id=d.id,
                board_id=board_id,
                municipality=boards[board_id].municipality,
                paragraph=d.paragraph,
                case_number=d.case_number,
                appeal_until=d.appeal_until,
                final_on=d.final_on,
                status=d.status,
            )
            for board_id, d in standing_decisions(session, row.id, program_id).items()
            if d is not None
        ]
        versions.append(
            VersionFacts(row.id, row.label, row.state, row.respond_by, row.final_on, decisions)
        )
    e = models.Event
    rows = session.execute(
        select(e.at, e.version_id, e.data)
        .where(e.program_id == program_id, e.type.in_(ABOUT_VERSIONS_AND_DECISIONS))
        .order_by(e.seq)
    )
    events = []
    for at, version_id, data in rows:
        subject = data.get("decision_id") if isinstance(data, dict) else None
        subject = subject or version_id
        if isinstance(subject, str):
            events.append((subject, at))
    return versions, events
