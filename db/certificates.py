"""The facts a certificate of adoption states, read in one snapshot of the database.

The program and its member boards, the version, the decision that stands for
each member board, and the program's audit chain from the version's
`version.drafted` event to the chain's head, each event with every field
its hash covers (`db.audit.hashed_fields`). Everything is handed on as JSON
values, so what is signed is exactly what is served. Building and checking
the statement is `workflow.certificates` and `workflow.certificate_check`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.audit import hashed_fields
from db.engine import Database
from db.queries import boards_by_id
from db.repositories import program_members, standing_decisions

Json = dict[str, Any]


@dataclass(frozen=True)
class Facts:
    """What a certificate of one version states, as JSON values."""

    program: Json
    version: Json
    members: list[Json]
    events: list[Json]
    head: Json


def day(value: date | None) -> str | None:
    """A date as the contract writes it."""
    return value.isoformat() if value else None


def instant(value: datetime | None) -> str | None:
    """A timestamp as the contract writes it (RFC 3339, UTC, `Z`)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _snapshot(db: Database) -> Session:
    """A read session that sees one snapshot (the chain's head and its events agree)."""
    session = db.reads()
    if db.dialect == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return session


def facts(db: Database, version_id: str) -> Facts | None:
    """The facts of a certificate of the version, or None when there is no such version."""
    with _snapshot(db) as session:
        version = session.get(models.Version, version_id)
        if version is None:
            return None
        program = session.get_one(models.Program, version.program_id)
        return Facts(
            program={
                "id": program.id,
                "title": program.title,
                "owner": program.owner,
                "boards": list(program_members(session, program.id)),
            },
            version=_version(session, version),
            members=_members(session, version),
            events=_segment(session, version),
            head=_head(session, program.id),
        )


def _labelled(session: Session, version_id: str | None) -> Json | None:
    if version_id is None:
        return None
    label = session.scalar(select(models.Version.label).where(models.Version.id == version_id))
    return {"id": version_id, "label": label}


def _version(session: Session, row: models.Version) -> Json:
    document = None
    if row.document_title or row.document_url or row.document_sha256:
        document = {
            "title": row.document_title,
            "url": row.document_url,
            "sha256": row.document_sha256,
        }
    return {
        "id": row.id,
        "label": row.label,
        "state": row.state,
        "imported": row.imported,
        "drafted_on": day(row.drafted_on),
        "valid_from": day(row.valid_from),
        "valid_until": day(row.valid_until),
        "replaces": _labelled(session, row.replaces),
        "superseded_by": _labelled(session, row.superseded_by),
        "sent_out_at": instant(row.sent_out_at),
        "respond_by": day(row.respond_by),
        "in_force_from": day(row.in_force_from),
        "superseded_on": day(row.superseded_on),
        "final_on": day(row.final_on),
        "document": document,
    }


def _members(session: Session, version: models.Version) -> list[Json]:
    """Each member board, in the program's order, with the decision that stands for it."""
    boards = boards_by_id(session)
    members = []
    for board_id, d in standing_decisions(session, version.id, version.program_id).items():
        board = boards[board_id]
        decision = None
        if d is not None:
            decision = {
                "id": d.id,
                "outcome": d.outcome,
                "decided_on": day(d.decided_on),
                "paragraph": d.paragraph,
                "case_number": d.case_number,
                "document_sha256": d.document_sha256,
                "minutes_attested_on": day(d.minutes_attested_on),
                "announced_on": day(d.announced_on),
                "appeal_until": day(d.appeal_until),
                "final_on": day(d.final_on),
                "status": d.status,
                "corrected": bool(d.corrected),
                "note": d.note,
                "recorded_by": {
                    "name": d.recorded_by,
                    "role": d.recorded_by_role,
                    "board_id": d.recorded_by_board,
                },
                "recorded_at": instant(d.recorded_at),
            }
        members.append(
            {
                "board": {
                    "id": board.id,
                    "municipality": board.municipality,
                    "name": board.name,
                    "municipality_code": board.municipality_code,
                },
                "decision": decision,
            }
        )
    return members


def _segment(session: Session, version: models.Version) -> list[Json]:
    """The program's chain from the version's `version.drafted` (or `version.imported`)
    event to its head, each event with every field its hash covers."""
    e = models.Event
    first = session.scalar(
        select(e.seq)
        .where(e.version_id == version.id, e.type.in_(("version.drafted", "version.imported")))
        .order_by(e.seq)
        .limit(1)
    )
    if first is None:
        return []
    rows = session.scalars(
        select(e).where(e.chain == version.program_id, e.seq >= first).order_by(e.seq)
    )
    return [{"seq": row.seq, "hash": row.hash, **hashed_fields(row)} for row in rows]


def _head(session: Session, chain: str) -> Json:
    head = session.get(models.ChainHead, chain)
    return {"seq": head.seq, "hash": head.hash} if head else {"seq": 0, "hash": ""}
