"""The PostgreSQL pool pings a connection only when it may be dead, and replaces a dead one."""

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

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
