"""The app as uvicorn loads it in each worker process: `api.main:app_from_env`."""

from fastapi import FastAPI

from api.app import create_app
from api.logging import configure_logging
from api.settings import Settings
from db.engine import open_database


def app_from_env() -> FastAPI:
    """An app configured from `RATIFY_*` settings (the schema is migrated by `serve`)."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(open_database(settings.database_url), settings)
