"""Read models of decisions: the contract's Decision, Appeal and Correction shapes."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.queries import View, page
from workflow.dates import late_announcement

DECISION_FIELDS = (
    "id",
    "version_id",
    "board_id",
    "outcome",
    "decided_on",
    "paragraph",
    "case_number",
    "document_sha256",
    "minutes_attested_on",
    "announced_on",
    "note",
    "recorded_by",
    "recorded_by_subject",
    "recorded_by_email",
    "recorded_at",
    "appeal_until",
    "final_on",
    "status",
    "corrected",
)
"""A decision's own fields as the contract shows them (then the derived ones)."""

APPEAL_FIELDS = (
    "id",
    "decision_id",
    "lodged_on",
    "court",
    "case_number",
    "late",
    "outcome",
    "ruled_on",
    "ruling_final_on",
    "recorded_by",
    "recorded_at",
)
CORRECTION_FIELDS = ("id", "decision_id", "changes", "reason", "recorded_by", "recorded_at")


def decision_view(
    fields: Mapping[str, Any],
    version_state: str,
    appeals: list[View] | None = None,
    corrections: list[View] | None = None,
) -> View:
    """Decision as the contract shows it, from a row (or the mapping a row was written from)."""
    return {
        **{f: fields[f] for f in DECISION_FIELDS},
        "late_announcement": late_announcement(
            fields["minutes_attested_on"], fields["announced_on"]
        ),
        "appeals": appeals or [],
        "corrections": corrections or [],
        "version_state": version_state,
    }


def _mapping(row: models.Decision) -> dict[str, Any]:
    return {f: getattr(row, f) for f in DECISION_FIELDS}


def appeal_view(row: models.Appeal) -> View:
    """Appeal as the contract shows it."""
    return {f: getattr(row, f) for f in APPEAL_FIELDS}


def correction_view(row: models.Correction) -> View:
    """Correction as the contract shows it."""
    return {f: getattr(row, f) for f in CORRECTION_FIELDS}


def _details(session: Session, decision_ids: list[str]) -> tuple[dict[str, list[View]], ...]:
    """The appeals and corrections of several decisions, by decision id (two statements)."""
    appeals: dict[str, list[View]] = {}
    corrections: dict[str, list[View]] = {}
    if decision_ids:
        for a in session.scalars(
            select(models.Appeal)
            .where(models.Appeal.decision_id.in_(decision_ids))
            .order_by(models.Appeal.recorded_at, models.Appeal.id)
        ):
            appeals.setdefault(a.decision_id, []).append(appeal_view(a))
        for c in session.scalars(
            select(models.Correction)
            .where(models.Correction.decision_id.in_(decision_ids))
            .order_by(models.Correction.recorded_at, models.Correction.id)
        ):
            corrections.setdefault(c.decision_id, []).append(correction_view(c))
    return appeals, corrections


def get_decision(session: Session, decision_id: str) -> View | None:
    """The decision with that id, with its appeals and corrections; None when there is none."""
    found = session.execute(
        select(models.Decision, models.Version.state)
        .join(models.Version, models.Version.id == models.Decision.version_id)
        .where(models.Decision.id == decision_id)
    ).first()
    if found is None:
        return None
    row, state = found
    appeals, corrections = _details(session, [row.id])
    return decision_view(_mapping(row), state, appeals.get(row.id), corrections.get(row.id))


def list_decisions(
    session: Session, version: models.Version, limit: int, cursor: str | None
) -> View:
    """A page of the decisions recorded on a version, in the order they were recorded."""
    query = select(models.Decision).where(models.Decision.version_id == version.id)
    keys = (models.Decision.recorded_at, models.Decision.id)
    rows, next_cursor = page(session, query, keys, limit, cursor)
    appeals, corrections = _details(session, [r.id for r in rows])
    items = [
        decision_view(_mapping(r), version.state, appeals.get(r.id), corrections.get(r.id))
        for r in rows
    ]
    return {"items": items, "next_cursor": next_cursor}


def appeal(session: Session, appeal_id: str) -> View | None:
    """The appeal with that id, if any."""
    row = session.get(models.Appeal, appeal_id)
    return None if row is None else appeal_view(row)


def board_of_decision(session: Session, decision_id: str) -> str | None:
    """The board whose decision it is (to check who may act on it), if there is one."""
    return session.scalar(select(models.Decision.board_id).where(models.Decision.id == decision_id))


def board_of_appeal(session: Session, appeal_id: str) -> str | None:
    """The board whose decision an appeal is of, if there is such an appeal."""
    return session.scalar(
        select(models.Decision.board_id)
        .join(models.Appeal, models.Appeal.decision_id == models.Decision.id)
        .where(models.Appeal.id == appeal_id)
    )
