"""Engines and session factories for SQLite (embedded default) and PostgreSQL.

Two kinds of engine, one kind of code. The CLI, the scheduler and the tests
use plain (blocking) drivers. The HTTP server opens the same database
`on_loop`: on asyncio drivers (psycopg's async connections, aiosqlite),
and it runs the same sync code -- commands, queries, the unit of work -- in
a greenlet on the event loop (`db.loop`), where each statement awaits the
driver instead of holding a worker thread.
"""

import asyncio
import select
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
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


def make_engine(url: str, on_loop: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created.

    `on_loop`: the sync face of an asyncio engine (aiosqlite, psycopg async),
    usable only inside `db.loop.run`.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if on_loop:
            engine = _asyncio_engine(parsed.set(drivername="sqlite+aiosqlite"), **kwargs)
        else:
            engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _sqlite_setup(engine)
        return engine
    kwargs = {"pool_size": 20, "max_overflow": 10, **kwargs}
    if on_loop:
        engine = _asyncio_engine(parsed.set(drivername="postgresql+psycopg"), **kwargs)
    else:
        engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


def _asyncio_engine(url: URL, **kwargs: Any) -> Engine:
    return create_async_engine(url, **kwargs).sync_engine


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
        fresh = time.monotonic() - since < IDLE_BEFORE_PING
        if fresh and not _has_news(record.driver_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool retries the checkout with a new connection.
            raise DisconnectionError(str(exc)) from exc


def _has_news(driver_connection: Any) -> bool:
    """Whether an idle connection's socket is readable (or gone): worth a ping."""
    try:
        readable, _, _ = select.select([driver_connection.fileno()], [], [], 0)
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
    """The engine `lookups` uses, for a Core statement without a session (`lookup`): on
    PostgreSQL a pool of its own, opened in autocommit."""
    url: str
    options: dict[str, Any]
    """The engine's keyword arguments (pool sizes), for `on_loop`."""
    outbox_writers: list[OutboxWriter] = field(default_factory=list)
    _on_loop: list["Database"] = field(default_factory=list)

    def on_loop(self) -> "Database":
        """The same database on asyncio drivers, for code run by `db.loop.run` (the HTTP
        server); one per `Database`, disposed with it."""
        if not self._on_loop:
            self._on_loop.append(open_database(self.url, on_loop=True, **self.options))
        return self._on_loop[0]

    @property
    def is_on_loop(self) -> bool:
        """Whether this database was opened `on_loop` (asyncio drivers)."""
        return self.engine.dialect.is_async

    def lookup(self) -> Connection:
        """A connection for a one-statement Core read, as `lookups` (cheaper: no session)."""
        return self.lookup_engine.connect()

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection (this database's and its `on_loop` one's).

        Called from sync code (tests, the CLI); the server awaits `dispose_on_loop`.
        """
        for other in self._on_loop:
            asyncio.run(other.dispose_on_loop())
        self._on_loop.clear()
        if not self.is_on_loop:
            for engine in self._engines():
                engine.dispose()

    async def dispose_on_loop(self) -> None:
        """Close every pooled connection of a database opened `on_loop`."""
        for engine in self._engines():
            await AsyncEngine(engine).dispose()

    def _engines(self) -> list[Engine]:
        """The engine, and the look-ups' when they have their own (PostgreSQL)."""
        return (
            [self.engine]
            if self.lookup_engine is self.engine
            else [self.engine, self.lookup_engine]
        )


def open_database(url: str, on_loop: bool = False, **kwargs: Any) -> Database:
    """Connect to `url` (nothing is created or migrated here); `on_loop`: on asyncio
    drivers, for code run by `db.loop.run`."""
    engine = make_engine(url, on_loop, **kwargs)
    reads = sessionmaker(engine, expire_on_commit=False)
    lookup_engine = engine
    if engine.dialect.name == "postgresql":
        # Look-ups have a pool of their own, opened in autocommit: switching a pooled
        # connection to autocommit and back cost 41 µs a checkout (a read makes two).
        lookup_pool = {"pool_size": 5, "max_overflow": 5, **kwargs}
        lookup_engine = make_engine(url, on_loop, isolation_level="AUTOCOMMIT", **lookup_pool)
    return Database(
        engine=engine,
        reads=reads,
        writes=sessionmaker(engine.execution_options(**{WRITE: True}), expire_on_commit=False),
        lookups=sessionmaker(lookup_engine, expire_on_commit=False),
        lookup_engine=lookup_engine,
        url=url,
        options=kwargs,
    )
