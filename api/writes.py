"""Running a write: one unit of work, idempotent replays, the response stored with it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from api.auth import Clock
from api.deps import ClockDep, DbDep, InfoDep, RequestInfo
from api.encoding import dumps
from api.errors import ApiError
from db import idempotency
from db.engine import Database
from db.uow import UnitOfWork
from workflow.actors import Actor


@dataclass(frozen=True)
class Result:
    """What a write answers: status, JSON body and optional headers."""

    status: int
    body: Any
    location: str | None = None
    etag: str | None = None
    replay: Any = None
    """What a replay for the same `Idempotency-Key` answers, when it must not be `body`
    (a secret shown once is never stored); None: `body` itself."""


@dataclass(frozen=True)
class Write:
    """What a write route needs besides its own input: the database, the clock and the
    request's headers (`Idempotency-Key`, `If-Match`) — one dependency for all three."""

    db: Database
    clock: Clock
    info: RequestInfo

    def __call__(
        self, actor: Actor, payload: BaseModel | None, command: Callable[[UnitOfWork], Result]
    ) -> Response:
        """`run_write` for this request."""
        return run_write(self.db, self.clock, actor, self.info, payload, command)


async def write(db: DbDep, clock: ClockDep, info: InfoDep) -> Write:
    """The write context of a request (`async`: no I/O, so no worker-thread hop)."""
    return Write(db, clock, info)


WriteDep = Annotated[Write, Depends(write)]


def run_write(
    db: Database,
    clock: Clock,
    actor: Actor,
    info: RequestInfo,
    payload: BaseModel | None,
    command: Callable[[UnitOfWork], Result],
) -> Response:
    """Run `command` in one transaction; replay the stored answer for a repeated key.

    The key row is inserted before the command runs, so a concurrent request
    with the same key waits on it and then replays the first answer.
    """
    fingerprint = info.fingerprint(payload.model_dump_json().encode() if payload else b"")
    context = {
        "client": info.client,
        "user_agent": info.user_agent,
        "idempotency_key": info.idempotency_key,
    }
    for _attempt in range(3):
        try:
            return _attempt_write(db, clock, actor, info, fingerprint, context, command)
        except IntegrityError:
            if info.idempotency_key is None:
                raise
    raise ApiError(409, "conflict", "A concurrent change won", "retry the request")


def _attempt_write(
    db: Database,
    clock: Clock,
    actor: Actor,
    info: RequestInfo,
    fingerprint: str,
    context: dict[str, Any],
    command: Callable[[UnitOfWork], Result],
) -> Response:
    with UnitOfWork(db, actor, clock(), context) as uow:
        reserved = None
        if info.idempotency_key is not None:
            stored = idempotency.find(uow, info.idempotency_key)
            if stored is not None:
                if stored.fingerprint != fingerprint or stored.status is None:
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        "Idempotency-Key was used for another request",
                        "send a new Idempotency-Key for a different request",
                    )
                return _replay(stored)
            reserved = idempotency.reserve(uow, info.idempotency_key, fingerprint)
        result = command(uow)
        uow.flush()
        body = dumps(result.body)
        if reserved is not None:
            kept = body if result.replay is None else dumps(result.replay)
            idempotency.keep(reserved, result.status, kept.decode(), result.location)
        uow.commit()
    return _response(result.status, body, result.location, result.etag)


def _replay(stored: idempotency.Stored) -> Response:
    assert stored.status is not None
    assert stored.body is not None
    response = _response(stored.status, stored.body.encode(), stored.location, None)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _response(status: int, body: bytes, location: str | None, etag: str | None) -> Response:
    headers = {}
    if location:
        headers["Location"] = location
    if etag:
        headers["ETag"] = etag
    if status == 204:  # No Content: no body, and no type for it
        return Response(None, status, headers=headers)
    return Response(body, status, headers=headers, media_type="application/json")
