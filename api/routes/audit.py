"""The audit trail: filtered pages, streaming export, verification and checkpoints, the
decision register, and the public key that signs checkpoints."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Body, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime

from api import auth, checkpoints, responses
from api.checkpoints import verification_view
from api.deps import DbDep, SessionDep, now
from api.encoding import dumps
from api.errors import ApiError
from api.openapi import CsvText, content, problems, request_body
from api.routes.common import Cursor, Limit, Line, json_response, version_or_404
from api.routing import Router
from api.spreadsheet import csv_cell
from db import audit_queries, audit_verify, loop
from db.audit_queries import Filters
from db.engine import Database
from workflow import signatures
from workflow.actors import Actor
from workflow.errors import BadSignature, InvalidValue

router = Router(tags=["audit"])
NowDep = Annotated[datetime, Depends(now)]

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
    program_id: Annotated[Line | None, Query(max_length=64)] = None,
    version_id: Annotated[Line | None, Query(max_length=64)] = None,
    board_id: Annotated[Line | None, Query(max_length=64)] = None,
    actor: Annotated[Line | None, Query(max_length=200, description="the actor's name")] = None,
    type: Annotated[Line | None, Query(max_length=64, description="e.g. decision.recorded")] = None,
    since: Annotated[AwareDatetime | None, Query(description="RFC 3339, inclusive")] = None,
    until: Annotated[AwareDatetime | None, Query(description="RFC 3339, exclusive")] = None,
) -> Filters:
    """The contract's audit filters from the query string.

    `async`, as it does no I/O: FastAPI runs a plain `def` dependency in a
    worker thread, a hop there and back for nothing.
    """
    return Filters(program_id, version_id, board_id, actor, type, since, until)


FiltersDep = Annotated[Filters, Depends(filters)]


@router.get("/v1/audit", response_model=responses.EventPage, operation_id="list_events")
def list_events(
    session: SessionDep,
    where: FiltersDep,
    _actor: Annotated[Actor, Depends(auth.AUDIT_READ)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Events in `seq` order; the cursor is stable while new events arrive."""
    return json_response(audit_queries.list_events(session, where, limit, cursor))


@router.get(
    "/v1/audit/verify", response_model=responses.Verification, operation_id="verify_audit_trail"
)
def verify(
    db: DbDep,
    now: NowDep,
    _actor: Annotated[Actor, Depends(auth.AUDIT_VERIFY)],
    incremental: Annotated[
        bool,
        Query(description="re-hash only the events after where the last check found the trail"),
    ] = False,
) -> Response:
    """Re-compute the hash chains: `ok`, or the first broken `seq` and its chain.

    A full check by default. `?incremental=true` starts each chain where the
    last check that found it intact ended (see the README: it cannot see an
    edit before that point).
    """
    return json_response(verification_view(audit_verify.verify_database(db, now, incremental)))


@router.post(
    "/v1/audit/verify",
    response_model=responses.VerificationAgainstCheckpoint,
    operation_id="verify_against_checkpoint",
    responses=problems(BadSignature, InvalidValue),
    openapi_extra=request_body(responses.SignedCheckpoint),
)
def verify_against_checkpoint(
    document: Annotated[dict[str, Any], Body(description="from GET /v1/audit/checkpoint")],
    request: Request,
    db: DbDep,
    now: NowDep,
    _actor: Annotated[Actor, Depends(auth.AUDIT_VERIFY)],
) -> Response:
    """A full check, and the trail must still hold every chain head the checkpoint saw.

    `ok: false` names the chain and `seq` that are gone or changed; a
    checkpoint not signed by this server's key is 422 `bad_signature`.
    """
    key: Ed25519PrivateKey = request.app.state.signing_key
    result, checkpoint = checkpoints.check(db, key.public_key(), document, now)
    view = verification_view(result)
    view["checkpoint"] = {"at": checkpoint.at, "chains": len(checkpoint.chains)}
    return json_response(view)


@router.get(
    "/v1/audit/checkpoint",
    response_model=responses.SignedCheckpoint,
    operation_id="get_checkpoint",
    responses=problems("chain_broken"),
)
def checkpoint(
    request: Request,
    db: DbDep,
    now: NowDep,
    _actor: Annotated[Actor, Depends(auth.AUDIT_VERIFY)],
) -> Response:
    """A signed statement of every chain's head `seq` and `hash` now, to keep outside the
    database (`POST /v1/audit/verify` checks the trail against it later).

    The trail is checked first (from the verified heads); when it is broken
    there is no checkpoint: 409 `chain_broken` names the first bad `seq`.
    """
    key: Ed25519PrivateKey = request.app.state.signing_key
    result, document = checkpoints.take(db, key, now)
    if document is None:
        raise ApiError(
            409,
            "chain_broken",
            "The audit trail is broken: nothing is signed for it",
            f"chain {result.chain} breaks at seq {result.first_bad_seq}: {result.reason}",
        )
    return json_response(document)


@router.get(
    "/v1/certificate-key", response_model=responses.PublicKey, operation_id="get_certificate_key"
)
def certificate_key(request: Request, _actor: Annotated[Actor, Depends(auth.READ)]) -> Response:
    """The public Ed25519 key that signs audit checkpoints (and certificates of adoption):
    `{"algorithm", "key_id", "public_key" (base64 of the raw 32 bytes), "pem"}`."""
    key: Ed25519PrivateKey = request.app.state.signing_key
    return json_response(signatures.public_key_view(key.public_key()))


@router.get(
    "/v1/audit/export",
    response_class=CsvText,
    operation_id="export_events",
    responses=content(200, "application/json", list[responses.Event]),
)
def export(
    db: DbDep,
    where: FiltersDep,
    _actor: Annotated[Actor, Depends(auth.AUDIT_READ)],
    format: Literal["csv", "json"] = "csv",
) -> Response:
    """Every matching event, streamed (constant memory) as CSV or a JSON array."""
    if format == "csv":
        return StreamingResponse(
            loop.iterate(_csv(db, where)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ratify-audit.csv"'},
        )
    return StreamingResponse(loop.iterate(_json(db, where)), media_type="application/json")


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
    parts = [b"["]
    with db.reads() as session:
        for n, row in enumerate(audit_queries.stream_events(session, where)):
            parts.append((b"," if n else b"") + dumps(audit_queries.event_view(row)))
            if n % 500 == 0:
                yield b"".join(parts)
                parts.clear()
    parts.append(b"]")
    yield b"".join(parts)


@router.get(
    "/v1/versions/{version_id}/register",
    response_model=responses.Register,
    operation_id="get_register",
    responses=content(200, "text/csv"),
)
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
