"""The FastAPI application: the composition root of the HTTP service."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from api import errors, metrics, openapi, openapi_info, ui
from api.bootstrap import bootstrap
from api.clock import utc_now
from api.limits import BodyLimit, BodyTimeout
from api.query_bytes import AsciiQuery
from api.routes import (
    audit,
    boards,
    decisions,
    evidence,
    ops,
    programs,
    public,
    reminders,
    versions,
    webhooks,
)
from api.settings import Settings, notifications_config, signing_key
from db.engine import Database
from notifications.scheduler import start_scheduler

DESCRIPTION = """
Approval of programs that several municipalities draft together: a version is
in force only when the board of every member municipality has approved it.

Errors are RFC 9457 problem documents with a stable `code`. Writes accept an
`Idempotency-Key`; version transitions accept `If-Match` with the version's ETag.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the reminder and e-mail clock beside HTTP when the settings ask for it (`serve`),
    and the metrics listener when `RATIFY_METRICS_LISTEN` names an address."""
    settings: Settings = app.state.settings
    listener = metrics.start(settings.metrics_listen) if settings.metrics_listen else None
    scheduler = None
    if settings.run_scheduler:
        scheduler = start_scheduler(
            app.state.scheduler_db,
            app.state.config,
            app.state.clock,
            settings.scheduler_interval_seconds,
        )
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        if listener is not None:
            listener.close()
        await app.state.db.dispose_on_loop()


def create_app(
    db: Database, settings: Settings | None = None, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """The app, wired to `db` (already migrated; bootstrapped here, and opened again
    `on_loop` for the routes) and `clock`."""
    settings = settings or Settings()
    app = FastAPI(
        title="ratify",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan,
        openapi_tags=openapi_info.TAGS,
        servers=[{"url": (settings.public_url or "").rstrip("/") or "/"}],
        contact=openapi_info.CONTACT,
        license_info=openapi_info.LICENSE,
        generate_unique_id_function=openapi.operation_id,
        # ratify reports through Prometheus metrics and JSON logs; FastAPI's own
        # OpenTelemetry asked for its providers on every request (2% of a decision).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.config = notifications_config(settings)
    # Routes reach the database on the event loop (api/routing.py, db/loop.py); the
    # scheduler's threads use `db` itself.
    app.state.db = bootstrap(settings, db.on_loop(), app.state.config)
    app.state.scheduler_db = bootstrap(settings, db, app.state.config)
    app.state.clock = clock
    app.state.settings = settings
    app.state.signing_key = signing_key(settings)
    errors.install(app)
    for module in (ops, boards, programs, versions, decisions, reminders, audit, webhooks):
        app.include_router(module.router)
    for module in (evidence, public):  # certificates, publishing, calendars; the public page
        app.include_router(module.router)
    ui.install(app)
    openapi.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_seconds)
    app.add_middleware(AsciiQuery)
    return app
