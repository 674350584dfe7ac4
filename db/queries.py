"""Read models: the contract's JSON shapes, built straight from the tables."""

import base64
import hashlib
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from db import models
from db.repositories import program_members
from workflow.states import BoardStatus

View = dict[str, Any]


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def etag(view: View) -> str:
    """A strong ETag over the whole representation of a resource."""
    body = json.dumps(view, sort_keys=True, default=_iso, separators=(",", ":")).encode()
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def encode_cursor(value: str) -> str:
    """An opaque cursor for keyset paging."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The key a cursor stands for; ValueError when it is not one of ours."""
    padded = cursor + "=" * (-len(cursor) % 4)
    return base64.urlsafe_b64decode(padded.encode()).decode()


def page(session: Session, query: Select[Any], key: Any, limit: int, cursor: str | None) -> Any:
    """Rows after `cursor` by `key`, at most `limit`, and the next cursor or None."""
    if cursor is not None:
        query = query.where(key > decode_cursor(cursor))
    rows = list(session.scalars(query.order_by(key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(str(getattr(rows[-1], key.key))) if more else None)


def board_view(row: models.Board) -> View:
    """Board as the contract shows it."""
    return {
        "id": row.id,
        "municipality": row.municipality,
        "name": row.name,
        "municipality_code": row.municipality_code,
        "email": row.email,
    }


def program_view(session: Session, row: models.Program) -> View:
    """Program, with its boards and the version in force today."""
    in_force = session.scalar(
        select(models.Version.id).where(
            models.Version.program_id == row.id, models.Version.state == "in_force"
        )
    )
    return {
        "id": row.id,
        "title": row.title,
        "owner": row.owner,
        "boards": list(program_members(session, row.id)),
        "in_force_version_id": in_force,
    }


def board_statuses(session: Session, version: models.Version) -> list[View]:
    """One BoardStatus per member board, from its latest decision."""
    latest: dict[str, models.Decision] = {}
    for decision in session.scalars(
        select(models.Decision)
        .where(models.Decision.version_id == version.id)
        .order_by(models.Decision.recorded_at, models.Decision.id)
    ):
        latest[decision.board_id] = decision
    undecided = BoardStatus.UNKNOWN if version.imported else BoardStatus.PENDING
    statuses = []
    for board_id in program_members(session, version.program_id):
        d = latest.get(board_id)
        statuses.append(
            {
                "board_id": board_id,
                "status": d.outcome if d else undecided.value,
                "decided_on": d.decided_on if d else None,
                "paragraph": d.paragraph if d else None,
                "case_number": d.case_number if d else None,
                "recorded_by": d.recorded_by if d else None,
                "recorded_at": d.recorded_at if d else None,
            }
        )
    return statuses


def version_view(session: Session, row: models.Version) -> View:
    """Version as the contract shows it, with every member board's status."""
    document = (
        {"title": row.document_title, "url": row.document_url, "sha256": row.document_sha256}
        if row.document_title or row.document_url or row.document_sha256
        else None
    )
    return {
        "id": row.id,
        "program_id": row.program_id,
        "label": row.label,
        "state": row.state,
        "drafted_on": row.drafted_on,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "replaces": row.replaces,
        "superseded_by": row.superseded_by,
        "sent_out_at": row.sent_out_at,
        "respond_by": row.respond_by,
        "in_force_from": row.in_force_from,
        "superseded_on": row.superseded_on,
        "imported": row.imported,
        "document": document,
        "boards": board_statuses(session, row),
    }


def decision_view(row: models.Decision, version_state: str) -> View:
    """Decision as the contract shows it."""
    return {
        "id": row.id,
        "version_id": row.version_id,
        "board_id": row.board_id,
        "outcome": row.outcome,
        "decided_on": row.decided_on,
        "paragraph": row.paragraph,
        "case_number": row.case_number,
        "document_sha256": row.document_sha256,
        "minutes_attested_on": row.minutes_attested_on,
        "announced_on": row.announced_on,
        "note": row.note,
        "recorded_by": row.recorded_by,
        "recorded_at": row.recorded_at,
        "final_on": row.final_on,
        "version_state": version_state,
    }


def decisions_of(session: Session, version: models.Version) -> list[View]:
    """Every decision recorded on a version, oldest first."""
    rows = session.scalars(
        select(models.Decision)
        .where(models.Decision.version_id == version.id)
        .order_by(models.Decision.recorded_at, models.Decision.id)
    )
    return [decision_view(r, version.state) for r in rows]


def in_force_on(session: Session, program_id: str, day: date) -> models.Version | None:
    """The version of the program that was in force on `day`, if any."""
    return session.scalars(
        select(models.Version).where(
            models.Version.program_id == program_id,
            models.Version.state.in_(("in_force", "superseded")),
            models.Version.in_force_from <= day,
            or_(
                models.Version.superseded_on.is_(None),
                and_(models.Version.superseded_on > day),
            ),
        )
    ).first()
