"""The FastAPI application: the composition root of the HTTP service."""

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from api import errors
from api.limits import BodyLimit
from api.routes import audit, boards, ops, programs, versions, webhooks
from api.settings import Settings
from db.engine import Database
from notifications.webhooks import enqueue as enqueue_webhooks

DESCRIPTION = """
Approval of programs that several municipalities draft together: a version is
in force only when the board of every member municipality has approved it.

Errors are RFC 9457 problem documents with a stable `code`. Writes accept an
`Idempotency-Key`; version transitions accept `If-Match` with the version's ETag.
"""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def create_app(
    db: Database, settings: Settings | None = None, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """The app, wired to `db` (already migrated) and `clock`."""
    settings = settings or Settings()
    app = FastAPI(title="ratify", version="1", description=DESCRIPTION)
    app.state.db = db
    if enqueue_webhooks not in db.outbox_writers:
        db.outbox_writers.append(enqueue_webhooks)
    app.state.clock = clock
    app.state.settings = settings
    errors.install(app)
    for module in (ops, boards, programs, versions, audit, webhooks):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
