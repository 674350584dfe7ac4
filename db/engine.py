"""Engines and session factories for SQLite (embedded default) and PostgreSQL."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from db.models import Event as EventRow

WRITE = "ratify_write"


def _sqlite_setup(engine: Engine) -> None:
    """Foreign keys on, WAL, and `BEGIN IMMEDIATE` for writes so writers queue, not deadlock."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=30, max_overflow=10, **kwargs)


OutboxWriter = Callable[[Session, Sequence[EventRow]], None]
"""Called by the unit of work with each transaction's new audit events, before commit."""


@dataclass(frozen=True)
class Database:
    """The engine, the two kinds of session, and what reacts to events in-transaction."""

    engine: Engine
    reads: sessionmaker[Session]
    writes: sessionmaker[Session]
    lookups: sessionmaker[Session]
    """Single-statement reads: autocommit on PostgreSQL, so no BEGIN/ROLLBACK round trips."""
    outbox_writers: list[OutboxWriter] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: str, **kwargs: Any) -> Database:
    """Connect to `url` (nothing is created or migrated here)."""
    engine = make_engine(url, **kwargs)
    reads = sessionmaker(engine, expire_on_commit=False)
    lookups = reads
    if engine.dialect.name == "postgresql":
        lookups = sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    return Database(
        engine=engine,
        reads=reads,
        writes=sessionmaker(engine.execution_options(**{WRITE: True}), expire_on_commit=False),
        lookups=lookups,
    )
