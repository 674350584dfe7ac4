"""Which programs are public, and what their public notice page (anslagstavla) shows.

A program is public when its secretariat says so (`PATCH /v1/programs/{id}`,
events `program.published` / `program.unpublished`). The public view is
built field by field from a list of what may be shown: the versions, which
is in force since when, and each member municipality's decision (§,
diarienummer, dates, appeal period, legal force) — never who recorded a
decision, no e-mail address, no key.
"""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.queries import board_status, boards_by_id, in_force_on, undecided_status
from db.repositories import standing_decisions
from db.uow import UnitOfWork
from workflow.errors import NotFound
from workflow.events import Event, EventType
from workflow.states import VersionState

View = dict[str, Any]


def set_public(uow: UnitOfWork, program_id: str, public: bool) -> bool:
    """Make a program public or private; True when that changed anything (and an event
    says so), False when it already was."""
    program = uow.session.get(models.Program, program_id, with_for_update=True)
    if program is None:
        raise NotFound(f"no program {program_id}")
    if program.public == public:
        return False
    program.public = public
    kind = EventType.PROGRAM_PUBLISHED if public else EventType.PROGRAM_UNPUBLISHED
    uow.record(Event(kind, program_id, data={"public": public}))
    return True


def public_program(session: Session, program_id: str) -> models.Program | None:
    """The program with that id if it is public; None for one that is not, as for none."""
    program = session.get(models.Program, program_id)
    return program if program is not None and program.public else None


SHOWN_VERSION_FIELDS = (
    "id",
    "label",
    "state",
    "drafted_on",
    "valid_from",
    "valid_until",
    "respond_by",
    "in_force_from",
    "superseded_on",
    "final_on",
)
SHOWN_DECISION_FIELDS = (
    "outcome",
    "decided_on",
    "paragraph",
    "case_number",
    "minutes_attested_on",
    "announced_on",
    "appeal_until",
    "final_on",
    "status",
    "corrected",
)
"""What the public page shows of a version and of a decision: nothing else is read out."""


def notice_board(session: Session, program: models.Program, today: date) -> View:
    """Everything the public notice page of a public program shows.

    Versions still drafts are not shown (nothing has been sent to the boards);
    the others newest first, each with every member municipality's decision.
    """
    boards = boards_by_id(session)
    rows = session.scalars(
        select(models.Version)
        .where(
            models.Version.program_id == program.id,
            models.Version.state != VersionState.DRAFTED,
        )
        .order_by(models.Version.created_at.desc(), models.Version.id.desc())
    )
    versions = []
    for row in rows:
        version: View = {name: getattr(row, name) for name in SHOWN_VERSION_FIELDS}
        version["document"] = (
            {"title": row.document_title, "url": row.document_url, "sha256": row.document_sha256}
            if row.document_url or row.document_title
            else None
        )
        undecided = undecided_status(row)
        version["boards"] = [
            {
                "board_id": board_id,
                "municipality": boards[board_id].municipality,
                "body": boards[board_id].name,
                "board_status": board_status(d, undecided),
                **{name: getattr(d, name) if d else None for name in SHOWN_DECISION_FIELDS},
            }
            for board_id, d in standing_decisions(session, row.id, row.program_id).items()
        ]
        versions.append(version)
    current = in_force_on(session, program.id, today)
    in_force = next((v for v in versions if current and v["id"] == current.id), None)
    return {
        "program": {"id": program.id, "title": program.title, "owner": program.owner},
        "versions": versions,
        "in_force": in_force,
    }
