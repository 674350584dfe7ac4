"""The app as uvicorn loads it in each worker process: `api.main:app_from_env`."""

import gc

from fastapi import FastAPI

from api.app import create_app
from api.logging import configure_logging
from api.settings import Settings
from db.engine import open_database


def app_from_env() -> FastAPI:
    """An app configured from `RATIFY_*` settings (the schema is migrated by `serve`).

    What start-up built (modules, routes, models, compiled statements: some
    200,000 objects) lives as long as the worker, so it is frozen out of the
    garbage collector's sight. A full collection walked all of it, holding
    the event loop, and every request, for up to 150 ms: the decisions' p99.
    No collection comes first: it would add 100 ms to each worker's start
    to free some hundred objects.
    """
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(open_database(settings.database_url), settings)
    gc.freeze()
    return app
