"""Engines and session factories for SQLite (embedded default) and PostgreSQL."""

import select
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
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
    engine = create_engine(url, **{"pool_size": 30, "max_overflow": 10, **kwargs})
    _ping_when_idle(engine)
    return engine


IDLE_BEFORE_PING = 1.0
"""Seconds a pooled connection may sit unused and be handed out without a ping."""


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled PostgreSQL connection before use only when it may be dead.

    `pool_pre_ping` costs a round trip on every checkout, two per request.
    Here a connection is pinged (and, if dead, replaced before use) when its
    socket has something to read while idle -- a server that ends a session,
    on restart or `pg_terminate_backend`, says so and closes it -- or when it
    has sat unused for more than IDLE_BEFORE_PING seconds (a peer that
    vanished without a word). Checking the socket costs no round trip.
    """

    @event.listens_for(engine.pool, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None:
            return  # new
        if time.monotonic() - since < IDLE_BEFORE_PING and not _has_news(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool retries the checkout with a new connection.
            raise DisconnectionError(str(exc)) from exc


def _has_news(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket is readable (or gone): worth a ping."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


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
    lookup_engine: Engine
    """The engine `lookups` uses, for a Core statement without a session (`lookup`)."""
    outbox_writers: list[OutboxWriter] = field(default_factory=list)

    def lookup(self) -> Connection:
        """A connection for a one-statement Core read, as `lookups` (cheaper: no session)."""
        return self.lookup_engine.connect()

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
    lookup_engine = engine
    if engine.dialect.name == "postgresql":
        lookup_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return Database(
        engine=engine,
        reads=reads,
        writes=sessionmaker(engine.execution_options(**{WRITE: True}), expire_on_commit=False),
        lookups=sessionmaker(lookup_engine, expire_on_commit=False),
        lookup_engine=lookup_engine,
    )
