"""PostgreSQL stopped under a running server: requests fail fast with 503
`database_unavailable` problems and succeed once it is back, without restarting
the server; failures under the audit horizon's lock and after a read are clean.
"""

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import make_url

from api.app import create_app
from api.clock import utc_now
from api.settings import Settings
from db import seed
from db.audit import WRITERS_LOCK
from db.engine import Database, open_database
from tests import databases
from tests.conftest import SUP_2013, SUP_2035, Api, make_key
from tests.e2e.fleet import (
    HTTP_TIMEOUT,
    OUTAGE_BOUND,
    PG_TIMEOUT,
    Fleet,
    approval,
    assert_audit_verifies,
    assert_invariants,
    assert_problem,
    caller,
    draft,
    needs_postgres,
    respond_by,
)
from workflow.actors import Role

# --- PostgreSQL restarted under a running server --------------------------------


def pg_cluster(action: str) -> None:
    """`pg_ctlcluster VERSION main ACTION` for the local cluster (fast shutdown on stop)."""
    host = make_url(databases.POSTGRES_ADMIN_URL).host
    assert host in ("127.0.0.1", "localhost"), f"the tests' PostgreSQL on {host} is not ours"
    versions = sorted(os.listdir("/etc/postgresql"))
    assert versions, "no local PostgreSQL cluster under /etc/postgresql"
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", action],
        check=True,
        capture_output=True,
        timeout=PG_TIMEOUT,
    )


def pg_ready() -> bool:
    """Whether the tests' PostgreSQL accepts connections."""
    url = make_url(databases.POSTGRES_ADMIN_URL)
    probe = ["pg_isready", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-q"]
    return subprocess.run(probe, capture_output=True, timeout=PG_TIMEOUT).returncode == 0


def pg_wait(up: bool) -> None:
    """Wait until PostgreSQL is up (or down), or fail after `PG_TIMEOUT`."""
    deadline = time.monotonic() + PG_TIMEOUT
    while pg_ready() != up:
        if time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL did not come {'up' if up else 'down'} in {PG_TIMEOUT}s")
        time.sleep(0.2)


@pytest.fixture
def pg_seeded(postgres_url: str) -> Iterator[tuple[Database, dict[str, str]]]:
    """The session's PostgreSQL test database, emptied and seeded, with a few keys."""
    db = open_database(postgres_url)
    try:
        databases.reset_postgres(db)
        seed.seed(db, utc_now())
        tokens = {
            "secretariat": make_key(db, "secretariat", Role.SECRETARIAT),
            "auditor": make_key(db, "auditor", Role.AUDITOR),
            "tyreso": make_key(db, "tyreso-system", Role.BOARD, "tyreso"),
        }
        yield db, tokens
    finally:
        db.dispose()


@dataclass(frozen=True)
class Seen:
    """One answer the hammer got: when, what, how long it took."""

    at: float
    request: str
    status: int
    code: str | None
    took: float


class Hammer:
    """Threads that keep reading and writing through the outage, recording every answer."""

    def __init__(self, base_url: str, tokens: Mapping[str, str], threads: int = 4) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.done = threading.Event()
        self.seen: list[Seen] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(threads)
        ]

    def _loop(self, n: int) -> None:
        requests = [
            ("auditor", "GET", "/v1/programs/sup", None),
            ("auditor", "GET", f"/v1/versions/{SUP_2035}", None),
            ("auditor", "GET", "/v1/audit?limit=20", None),
            ("secretariat", "POST", "/v1/programs/sup/versions", "hammer"),
        ]
        with caller(self.base_url, self.tokens) as call:
            for i in range(100_000):
                if self.done.is_set():
                    return
                who, method, path, label = requests[i % len(requests)]
                body = draft(f"Hammer {n}-{i}") if label else None
                started = time.monotonic()
                try:
                    r = call(who, method, path, body)
                except httpx.TransportError as exc:
                    with self.lock:
                        self.failures.append(f"{method} {path}: {exc!r}")
                    continue
                took = time.monotonic() - started
                code = None
                if r.status_code >= 400:
                    try:
                        code = r.json().get("code")
                    except ValueError:
                        code = f"not JSON: {r.text[:200]!r}"
                with self.lock:
                    self.seen.append(Seen(started, f"{method} {path}", r.status_code, code, took))
                time.sleep(0.01)

    def __enter__(self) -> "Hammer":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=HTTP_TIMEOUT.read or 30.0)

    def hanging(self) -> bool:
        """Whether a thread is still stuck in a request."""
        return any(thread.is_alive() for thread in self.threads)


@needs_postgres
@pytest.mark.exclusive
def test_postgres_restart_fails_requests_cleanly_and_the_service_recovers(
    pg_seeded: tuple[Database, dict[str, str]], postgres_url: str, tmp_path: Path
) -> None:
    db, tokens = pg_seeded
    fleet = Fleet(tmp_path / "fleet", postgres_url)
    try:
        server = fleet.server()
        with caller(server.base_url, tokens) as call:
            call.ok("secretariat", "POST", f"/v1/versions/{SUP_2035}/send-out", respond_by())
            decision = approval("tyreso")
            path = f"/v1/versions/{SUP_2035}/decisions"
            outage = [
                ("auditor", "GET", "/v1/programs/sup", None, None),
                ("auditor", "GET", f"/v1/versions/{SUP_2035}", None, None),
                ("tyreso", "POST", path, decision, "during-the-outage"),
                ("secretariat", "POST", "/v1/programs/sup/versions", draft("Outage"), None),
                ("auditor", "GET", "/v1/audit/verify", None, None),
                ("auditor", "GET", "/v1/audit/export?format=json", None, None),
            ]
            with Hammer(server.base_url, tokens) as hammer:
                time.sleep(0.5)
                try:
                    pg_cluster("stop")
                    pg_wait(up=False)
                    for who, method, target, body, key in outage * 2:
                        started = time.monotonic()
                        r = call(who, method, target, body, key)
                        took = time.monotonic() - started
                        assert took < OUTAGE_BOUND, f"{method} {target} took {took:.1f}s"
                        assert_problem(r, 503, "database_unavailable")
                        assert r.headers["retry-after"].isdigit()
                    assert call.client.get("/healthz").status_code == 200
                    ready = call.client.get("/readyz")
                    assert ready.status_code == 503, ready.text
                finally:
                    if not pg_ready():
                        pg_cluster("start")
                    pg_wait(up=True)
                # Back, without restarting the server: the pool's pre-ping replaces the
                # connections the restart broke, so the very first request succeeds.
                back = time.monotonic()
                r = call("auditor", "GET", "/v1/programs/sup")
                assert r.status_code == 200, r.text
                assert r.json()["in_force_version_id"] == SUP_2013
                assert call.client.get("/readyz").status_code == 200
                time.sleep(1.0)

            # Under load too: every answer was a success or a quick 503 problem.
            assert not hammer.hanging()
            assert hammer.failures == []
            wrong = [
                seen
                for seen in hammer.seen
                if seen.status not in (200, 201)
                and (seen.status, seen.code) != (503, "database_unavailable")
            ]
            assert wrong == []
            assert max(seen.took for seen in hammer.seen) < OUTAGE_BOUND
            assert any(seen.status == 503 for seen in hammer.seen), "the outage went unseen"
            after = [seen for seen in hammer.seen if seen.at > back]
            assert after
            assert [seen for seen in after if seen.status not in (200, 201)] == []

            # What failed during the outage left nothing behind, and applies once now.
            r = call("tyreso", "POST", path, decision, "during-the-outage")
            assert r.status_code == 201, r.text
            assert r.headers.get("idempotent-replayed") is None
            again = call("tyreso", "POST", path, decision, "during-the-outage")
            assert (again.status_code, again.json()) == (201, r.json())
            assert again.headers["idempotent-replayed"] == "true"
            listed = call.ok("auditor", "GET", path)["items"]
            assert [d["board_id"] for d in listed] == ["tyreso"]
            versions = call.ok("auditor", "GET", "/v1/programs/sup/versions?limit=1000")
            assert "Outage" not in [v["label"] for v in versions["items"]]
            assert_audit_verifies(call)
        assert_invariants(db)
        assert server.problems(allowed=("database_unavailable",)) == [], server.log()
        assert server.popen.poll() is None, "the server died"
    finally:
        fleet.close()


def terminate_backend(connection: Any) -> None:
    """Have PostgreSQL end this connection's server process, as a restart does."""
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    admin = make_url(databases.POSTGRES_ADMIN_URL).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as other:
        # With a timeout, it returns once the server process has ended (not merely been told to).
        other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def advisory_locks(url: str) -> int:
    """How many advisory locks sessions of this database hold (`pg_locks` spans the cluster)."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as other:
        row = other.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        found = row.fetchone()
    assert found is not None
    count: int = found[0]
    return count


def cancel_statement(connection: Any) -> None:
    """Make the statement about to run fail, as a statement timeout does; the connection lives.

    Another session holds the writers' lock, so the statement waits for it,
    and a statement timeout on this connection cancels it. The holder goes
    away with the armed failure (`HOLDERS`).
    """
    libpq = connection.engine.url.set(drivername="postgresql")
    holder = psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True)
    holder.execute("SELECT pg_advisory_lock_shared(%s)", (WRITERS_LOCK,))
    HOLDERS.append(holder)
    connection.exec_driver_sql("SET statement_timeout = 50")


HOLDERS: list[psycopg.Connection[Any]] = []
"""Sessions `cancel_statement` opened; closed when the test is done with them."""


@needs_postgres
@pytest.mark.parametrize("failure", [terminate_backend, cancel_statement])
def test_a_failure_under_the_audit_horizon_lock_is_a_503_and_leaves_no_lock(
    pg_seeded: tuple[Database, dict[str, str]],
    postgres_url: str,
    tmp_path: Path,
    failure: Callable[[Any], None],
) -> None:
    """The connection fails as it reads the horizon under the readers' lock."""
    db, tokens = pg_seeded
    armed = [True]

    def before(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if armed and "pg_advisory_lock(" in statement:
            armed.clear()
            failure(connection)

    settings = Settings(maildir=tmp_path / "mail", run_scheduler=False)
    app = create_app(db, settings)
    engine = app.state.db.lookup_engine  # the routes' reads: on the event loop, in autocommit
    event.listen(engine, "before_cursor_execute", before)
    try:
        with TestClient(app, raise_server_exceptions=True) as client:
            api = Api(client, tokens)
            r = api.get("/v1/audit?limit=5", as_="auditor")
            assert not armed
            assert (r.status_code, r.json()["code"]) == (503, "database_unavailable"), r.text
            while HOLDERS:
                HOLDERS.pop().close()
            assert advisory_locks(postgres_url) == 0
            # No lock was left behind on a pooled connection: writers and readers go on.
            r = api.post("/v1/programs/sup/versions", draft("After"))
            assert r.status_code == 201, r.text
            assert api.get("/v1/audit?limit=5", as_="auditor").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
        while HOLDERS:
            HOLDERS.pop().close()


@needs_postgres
def test_a_connection_lost_after_a_read_does_not_cut_the_answer_off(
    pg_seeded: tuple[Database, dict[str, str]], tmp_path: Path
) -> None:
    """The connection dies after the route has read everything, as its session closes."""
    db, tokens = pg_seeded
    stage = ["waiting"]

    def after(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if stage == ["waiting"] and "FROM versions" in statement:
            stage[0] = "read"

    def on_rollback(connection: Any) -> None:
        if stage == ["read"]:
            stage[0] = "terminated"
            terminate_backend(connection)

    settings = Settings(maildir=tmp_path / "mail", run_scheduler=False)
    app = create_app(db, settings)
    engine = app.state.db.lookup_engine  # the routes' reads: on the event loop, in autocommit
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "rollback", on_rollback)
    try:
        with TestClient(app, raise_server_exceptions=True) as client:
            api = Api(client, tokens)
            r = api.get(f"/v1/versions/{SUP_2035}", as_="auditor")
            assert stage == ["terminated"]
            assert r.status_code == 200, r.text
            assert r.json()["id"] == SUP_2035
            again = api.get(f"/v1/versions/{SUP_2035}", as_="auditor")
            assert again.status_code == 200, again.text
    finally:
        event.remove(engine, "after_cursor_execute", after)
        event.remove(engine, "rollback", on_rollback)
