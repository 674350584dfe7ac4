"""The audit trail: filtered pages, streaming export, verification, the decision register."""

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime

from api import auth
from api.deps import DbDep, SessionDep
from api.encoding import dumps
from api.routes.common import Cursor, Limit, json_response, version_or_404
from api.spreadsheet import csv_cell
from db import audit_queries
from db.audit_queries import Filters
from db.engine import Database
from workflow.actors import Actor

router = APIRouter(tags=["audit"])

EVENT_COLUMNS = [
    "seq",
    "at",
    "type",
    "actor_name",
    "actor_role",
    "actor_board_id",
    "program_id",
    "version_id",
    "board_id",
    "data",
    "prev_hash",
    "hash",
]


async def filters(
    program_id: Annotated[str | None, Query(max_length=64)] = None,
    version_id: Annotated[str | None, Query(max_length=64)] = None,
    board_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200, description="the actor's name")] = None,
    type: Annotated[str | None, Query(max_length=64, description="e.g. decision.recorded")] = None,
    since: Annotated[AwareDatetime | None, Query(description="RFC 3339, inclusive")] = None,
    until: Annotated[AwareDatetime | None, Query(description="RFC 3339, exclusive")] = None,
) -> Filters:
    """The contract's audit filters from the query string.

    `async`, as it does no I/O: FastAPI runs a plain `def` dependency in a
    worker thread, a hop there and back for nothing.
    """
    return Filters(program_id, version_id, board_id, actor, type, since, until)


FiltersDep = Annotated[Filters, Depends(filters)]


@router.get("/v1/audit")
def list_events(
    session: SessionDep,
    where: FiltersDep,
    _actor: Annotated[Actor, Depends(auth.AUDIT_READ)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Events in `seq` order; the cursor is stable while new events arrive."""
    return json_response(audit_queries.list_events(session, where, limit, cursor))


@router.get("/v1/audit/verify")
def verify(db: DbDep, _actor: Annotated[Actor, Depends(auth.AUDIT_VERIFY)]) -> Response:
    """Re-compute the hash chains: `ok`, or the first broken `seq`."""
    result = audit_queries.verify_database(db)
    if result.ok:
        return json_response({"ok": True, "events": result.events, "head": result.head})
    return json_response(
        {
            "ok": False,
            "first_bad_seq": result.first_bad_seq,
            "reason": result.reason,
            "events": result.events,
        }
    )


@router.get("/v1/audit/export")
def export(
    db: DbDep,
    where: FiltersDep,
    _actor: Annotated[Actor, Depends(auth.AUDIT_READ)],
    format: Literal["csv", "json"] = "csv",
) -> Response:
    """Every matching event, streamed (constant memory) as CSV or a JSON array."""
    if format == "csv":
        return StreamingResponse(
            _csv(db, where),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ratify-audit.csv"'},
        )
    return StreamingResponse(_json(db, where), media_type="application/json")


def _csv(db: Database, where: Filters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVENT_COLUMNS)
    with db.reads() as session:
        for n, row in enumerate(audit_queries.stream_events(session, where)):
            writer.writerow(
                [
                    csv_cell(value) for value in (
                        row.seq, row.at, row.type, row.actor_name, row.actor_role,
                        row.actor_board_id, row.program_id, row.version_id, row.board_id,
                        row.data, row.prev_hash, row.hash,
                    )
                ]
            )  # fmt: skip
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _json(db: Database, where: Filters) -> Iterator[bytes]:
    yield b"["
    with db.reads() as session:
        for n, row in enumerate(audit_queries.stream_events(session, where)):
            yield (b"," if n else b"") + dumps(audit_queries.event_view(row))
    yield b"]"


@router.get("/v1/versions/{version_id}/register")
def register(
    version_id: str,
    session: SessionDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    format: Literal["json", "csv"] = "json",
) -> Response:
    """The decision register: one row per member board, as JSON or CSV."""
    version = version_or_404(session, version_id)
    rows = audit_queries.register(session, version)
    if format == "json":
        return json_response(
            {
                "version_id": version.id,
                "label": version.label,
                "state": version.state,
                "items": rows,
            }
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=audit_queries.REGISTER_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="register-{version.id}.csv"'},
    )
