"""The PostgreSQL pool pings a connection only when it may be dead, and replaces a dead one."""

import psycopg
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from db import engine as engine_module
from db.engine import Database, open_database
from tests import databases

pytestmark = pytest.mark.skipif(
    "postgresql" not in databases.BACKENDS, reason="RATIFY_TEST_BACKENDS excludes postgresql"
)


def _kill_pooled_connection(url: str) -> Database:
    """Use the pool's one connection, then have PostgreSQL end it (as a restart does)."""
    db = open_database(url, pool_size=1, max_overflow=0)
    with db.engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    with psycopg.connect(databases.libpq(url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits for it to end
    return db


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_url


def test_a_connection_the_server_ended_is_replaced_before_use(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Used a moment ago, but its socket says the server ended it: pinged, replaced.
    monkeypatch.setattr(engine_module, "IDLE_BEFORE_PING", 3600.0)
    db = _kill_pooled_connection(url)
    try:
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        db.dispose()


def test_a_connection_that_sat_idle_is_pinged_even_when_its_socket_is_quiet(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "IDLE_BEFORE_PING", 0.0)
    monkeypatch.setattr(engine_module, "_has_news", lambda _connection: False)
    db = _kill_pooled_connection(url)
    try:
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        db.dispose()


def test_without_either_sign_a_dead_connection_reaches_the_caller(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The counterpart: the two checks above are what replaced the connection.
    monkeypatch.setattr(engine_module, "IDLE_BEFORE_PING", 3600.0)
    monkeypatch.setattr(engine_module, "_has_news", lambda _connection: False)
    db = _kill_pooled_connection(url)
    try:
        with pytest.raises(OperationalError), db.engine.connect() as conn:
            conn.scalar(text("SELECT 1"))
        with db.engine.connect() as conn:  # the pool replaced it after the failure
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        db.dispose()


def _autocommit(connection: Connection) -> bool:
    driver = connection.connection.driver_connection
    assert driver is not None
    return bool(driver.autocommit)


def test_look_ups_have_a_pool_of_their_own_opened_in_autocommit(url: str) -> None:
    """No switch to autocommit and back on each checkout; writers still get transactions;
    the two pools together hold no more connections than the one pool did (40)."""
    db = open_database(url)
    pools = [db.engine.pool, db.lookup_engine.pool]
    assert all(isinstance(p, QueuePool) for p in pools)
    queues = [p for p in pools if isinstance(p, QueuePool)]
    try:
        assert db.lookup_engine.pool is not db.engine.pool
        for _ in range(2):  # the second checkout finds it as the first left it
            with db.lookup() as connection:
                assert _autocommit(connection)
        with db.writes() as session:
            assert not _autocommit(session.connection())
        assert sum(q.size() + q._max_overflow for q in queues) == 40
    finally:
        db.dispose()
    assert [q.checkedin() for q in queues] == [0, 0]
