"""Real test databases: a migrated SQLite file per test, a migrated PostgreSQL database per run."""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db import migrate
from db.engine import Database, open_database

POSTGRES_ADMIN_URL = os.environ.get(
    "RATIFY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = [
    b.strip()
    for b in os.environ.get("RATIFY_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if b.strip()
]
TABLES = [
    "outbox_mail",
    "reminders",
    "reminder_schedule",
    "webhook_attempts",
    "webhook_deliveries",
    "webhooks",
    "idempotency_keys",
    "api_keys",
    "decisions",
    "versions",
    "program_boards",
    "programs",
    "boards",
    "events",
    "chain_heads",
    "verified_heads",
]


def libpq(url: str) -> str:
    """`url` as libpq (and psycopg) take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def postgres_database(migrated: bool = True) -> Iterator[str]:
    """A fresh PostgreSQL database (migrated to head unless not `migrated`); dropped afterwards."""
    name = f"ratify_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    if migrated:
        db = open_database(url)
        migrate.upgrade(db.engine)
        db.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_template(folder: Path) -> Path:
    """A migrated SQLite file to copy for each test."""
    path = folder / "template.db"
    db = open_database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


def fresh_sqlite(template: Path, folder: Path) -> str:
    """A copy of the migrated template, as a URL."""
    path = folder / "ratify.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def reset_postgres(db: Database) -> None:
    """Empty every table, leaving the schema (and the global chain's genesis head); the
    append-only trigger back on, should a tampering test have left it off."""
    with db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE events ENABLE TRIGGER ALL"))
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        connection.execute(
            text("INSERT INTO chain_heads (chain, seq, hash) VALUES ('_global', 0, :h)"),
            {"h": "0" * 64},
        )


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a database with no schema at all, of `backend`; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'empty.db'}"
        return
    name = f"ratify_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
