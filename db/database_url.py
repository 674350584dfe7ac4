"""`RATIFY_DATABASE_URL`: which URLs ratify can use, and how to name one in a message."""

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED = "sqlite:///… or postgresql+psycopg://…"


def _parsed(url: str) -> URL | None:
    try:
        return make_url(url)
    except ArgumentError:
        return None


def problem(url: str) -> str | None:
    """Why ratify cannot use `url` (not a URL, another database or driver), or None."""
    parsed = _parsed(url)
    if parsed is None:
        return f"is not a database URL; use {SUPPORTED}"
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if (backend, driver) in {("sqlite", "pysqlite"), ("postgresql", "psycopg")}:
        return None
    if backend == "postgresql":
        return "names another PostgreSQL driver; use postgresql+psycopg://…"
    return f"names a database ratify does not use ({backend}); use {SUPPORTED}"


def shown(url: str) -> str:
    """`url` fit for a message: its password hidden."""
    parsed = _parsed(url)
    return parsed.render_as_string(hide_password=True) if parsed is not None else "?"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    parsed = _parsed(url)
    if parsed is None or parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)
