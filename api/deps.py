"""FastAPI dependencies: the database, the clock, the caller, the write context."""

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.auth import Clock
from db import loop
from db.engine import Database


async def get_db(request: Request) -> Database:
    """The process's database handle."""
    db: Database = request.app.state.db
    return db


async def get_clock(request: Request) -> Clock:
    """The clock (tests may set another)."""
    clock: Clock = request.app.state.clock
    return clock


async def read_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[Session]:
    """A session for reading; nothing it does is committed.

    On PostgreSQL it runs in autocommit (each statement its own snapshot, as
    under READ COMMITTED anyway), which saves the BEGIN and ROLLBACK round
    trips; a read that needs one snapshot opens its own transaction.

    It is closed once the response has started, when an error can no longer
    become a problem response: a connection that broke by then (the reads
    had succeeded) is dropped quietly instead of cutting the response off.

    The statements run in the route (`db.loop.run`); closing returns the
    connection to the pool on the loop too.
    """
    session = db.lookups()
    try:
        yield session
    finally:
        try:
            await loop.run(session.close)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise


DbDep = Annotated[Database, Depends(get_db)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SessionDep = Annotated[Session, Depends(read_session)]


@dataclass(frozen=True)
class RequestInfo:
    """What a write records about the request that made it."""

    method: str
    path: str
    idempotency_key: str | None
    if_match: str | None
    client: str | None
    user_agent: str | None

    def fingerprint(self, body: bytes) -> str:
        """Same method, path and (canonical) body give the same fingerprint."""
        return hashlib.sha256(
            b"\n".join([self.method.encode(), self.path.encode(), body])
        ).hexdigest()


async def request_info(
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> RequestInfo:
    """The headers and client details of a write.

    `If-Match` is read here but is no parameter of every write: only the
    routes that hand it to their command honour it, and the OpenAPI schema
    declares it on those alone (`api/openapi.py`).
    """
    return RequestInfo(
        method=request.method,
        path=request.url.path,
        idempotency_key=idempotency_key,
        if_match=request.headers.get("if-match"),
        client=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


InfoDep = Annotated[RequestInfo, Depends(request_info)]


async def now(clock: ClockDep) -> datetime:
    """The current instant by the app's clock."""
    return clock()
