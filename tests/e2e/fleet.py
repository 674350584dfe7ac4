"""Shared by the hardening tests: real `ratify serve` / `ratify worker` processes, HTTP
callers, and the invariants of design.md read straight from the database.

Every process runs in a process group of its own, on the test database; HTTP
and SMTP on 127.0.0.1 only. Every wait has a deadline and every process group
is ended in `finally`.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import func, select

from db import models
from db.engine import Database
from db.models import OutboxMail
from tests import databases
from tests.conftest import BOARD_IDS, decision
from tests.e2e.conftest import PROBLEM_SIGNS, READY_TIMEOUT, free_port, ratify_command
from workflow.dates import today_in_stockholm

STOP_TIMEOUT = 15.0
"""Seconds a process group gets to go after SIGTERM (then SIGKILL)."""

HTTP_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
OUTAGE_BOUND = 10.0
"""Seconds a request may take while the database is down: it fails, it does not hang."""

PG_TIMEOUT = 60.0
"""Seconds PostgreSQL may take to stop or to accept connections again."""

QUIET_TIMEOUT = 60.0
"""Seconds the workers may take to send everything that is due."""

needs_postgres = pytest.mark.skipif(
    "postgresql" not in databases.BACKENDS, reason="RATIFY_TEST_BACKENDS excludes postgresql"
)


# --- processes ---------------------------------------------------------------


@dataclass
class Process:
    """A `ratify` process in a session (so a process group) of its own."""

    name: str
    popen: "subprocess.Popen[bytes]"
    log_path: Path
    log_file: IO[bytes]
    base_url: str = ""

    def log(self) -> str:
        """What it has written so far (stdout and stderr)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def problems(self, allowed: Sequence[str] = ()) -> list[str]:
        """Log lines that show something went wrong, but for the `allowed` fragments."""
        return [
            line
            for line in self.log().splitlines()
            if any(sign in line.lower() for sign in PROBLEM_SIGNS)
            and not any(fragment in line for fragment in allowed)
        ]

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the whole process group while its leader runs."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def kill(self) -> None:
        """SIGKILL to the group, and reap the leader."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> int:
        """SIGTERM to the group, SIGKILL when it does not go in time; the exit code."""
        self.signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self.log_file.close()
        return self.popen.returncode


class Fleet:
    """`ratify serve` and `ratify worker` processes on one database; `close` ends them all."""

    def __init__(self, workdir: Path, database_url: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.extra_env: dict[str, str] = {}
        self.processes: list[Process] = []
        workdir.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """Ours, minus other `RATIFY_*` settings, plus the database, JSON logs and extras."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RATIFY_")}
        env |= {"RATIFY_DATABASE_URL": self.database_url, "RATIFY_LOG_FORMAT": "json"}
        return env | self.extra_env

    def _start(self, name: str, *args: str) -> Process:
        log_path = self.workdir / f"{name}-{len(self.processes)}.log"
        log_file = log_path.open("wb")
        popen = subprocess.Popen(
            [*ratify_command(), *args],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log_path, log_file)
        self.processes.append(process)
        return process

    def _spawn_server(self) -> Process:
        port = free_port()
        server = self._start(
            "server", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"
        )
        server.base_url = f"http://127.0.0.1:{port}"
        return server

    def servers(self, count: int) -> list[Process]:
        """Start `count` servers at once and wait until each answers `/readyz`."""
        starting = [self._spawn_server() for _ in range(count)]
        return [self._ready(server) for server in starting]

    def server(self) -> Process:
        """One more server, ready."""
        return self.servers(1)[0]

    def worker(self) -> Process:
        """Start `ratify worker` (the scheduler without HTTP); it is not waited for."""
        return self._start("worker", "worker")

    def _ready(self, server: Process, attempt: int = 0) -> Process:
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(base_url=server.base_url, trust_env=False, timeout=5) as probe:
            while time.monotonic() < deadline:
                if server.popen.poll() is not None:
                    server.stop()
                    if "address already in use" in server.log().lower() and attempt < 3:
                        return self._ready(self._spawn_server(), attempt + 1)
                    pytest.fail(f"ratify serve exited before it was ready:\n{server.log()}")
                with contextlib.suppress(httpx.TransportError):
                    if probe.get("/readyz").status_code == 200:
                        return server
                time.sleep(0.05)
        pytest.fail(f"ratify serve was not ready in {READY_TIMEOUT}s:\n{server.log()}")

    def close(self) -> None:
        """End every process group (SIGTERM, then SIGKILL), even when one of them resists."""
        stuck = []
        for process in self.processes:
            try:
                process.stop()
            except subprocess.TimeoutExpired as exc:
                stuck.append(exc)
        if stuck:
            raise stuck[0]


# --- HTTP --------------------------------------------------------------------


class Caller:
    """An HTTP client of one server that sends any of the test's tokens."""

    def __init__(self, base_url: str, tokens: Mapping[str, str]) -> None:
        self.client = httpx.Client(base_url=base_url, trust_env=False, timeout=HTTP_TIMEOUT)
        self.tokens = tokens

    def __call__(
        self,
        who: str,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.request(method, path, json=body, headers=headers)

    def ok(self, who: str, method: str, path: str, body: Any = None) -> Any:
        """The JSON of a call that must succeed."""
        r = self(who, method, path, body)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json()

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def caller(base_url: str, tokens: Mapping[str, str]) -> Iterator[Caller]:
    """A `Caller`, closed afterwards."""
    made = Caller(base_url, tokens)
    try:
        yield made
    finally:
        made.close()


def today() -> date:
    """Today in Europe/Stockholm."""
    return today_in_stockholm(datetime.now(UTC))


def approval(board_id: str, decided_on: str = "2019-06-10", outcome: str = "approved") -> Any:
    """A decision body as a board's case-management system sends it."""
    return decision(board_id, outcome, decided_on)


def draft(label: str, replaces: str | None = None) -> Any:
    """A new version's body."""
    return {
        "label": label,
        "drafted_on": "2019-05-28",
        "valid_from": "2019-01-01",
        "valid_until": "2030-12-31",
        "replaces": replaces,
    }


def members(offset: int, count: int = 4) -> list[str]:
    """`count` seeded boards, starting at `offset` (wrapping)."""
    return [BOARD_IDS[(offset + i) % len(BOARD_IDS)] for i in range(count)]


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    """`response` is an RFC 9457 problem with `status` and `code`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert (body["status"], body["code"]) == (status, code), body


# --- the invariants of design.md, straight from the database ------------------


NOTICES = {
    "version.sent_out": "sent-out",
    "version.in_force": "in-force",
    "version.rejected": "rejected",
}
"""Events that e-mail every member board, and the outbox key prefix of those e-mails."""


def assert_invariants(db: Database) -> None:
    """Invariants 1-5 of design.md, and that nothing is half-written."""
    with db.reads() as session:
        versions = {v.id: v for v in session.scalars(select(models.Version))}
        member_rows = session.execute(
            select(models.ProgramBoard.program_id, models.ProgramBoard.board_id)
        ).all()
        decisions = list(session.scalars(select(models.Decision)))
        events = list(session.scalars(select(models.Event)))
        open_keys = session.scalar(
            select(func.count())
            .select_from(models.IdempotencyKey)
            .where(models.IdempotencyKey.status_code.is_(None))
        )
        notices = Counter(
            key
            for key in session.scalars(select(OutboxMail.key))
            if not key.startswith("reminder-")
        )
    program_members: dict[str, set[str]] = defaultdict(set)
    for program_id, board_id in member_rows:
        program_members[program_id].add(board_id)
    count = Counter((e.type, e.version_id) for e in events)

    # Decisions and their events: neither without the other.
    recorded = Counter(e.data.get("decision_id") for e in events if e.type == "decision.recorded")
    imported = Counter((e.version_id, e.board_id) for e in events if e.type == "decision.imported")
    live = [d for d in decisions if not versions[d.version_id].imported]
    assert recorded == Counter(d.id for d in live), "a decision and its event disagree"
    assert imported == Counter(
        (d.version_id, d.board_id) for d in decisions if versions[d.version_id].imported
    )
    final = Counter(
        (d.version_id, d.board_id)
        for d in decisions
        if d.outcome in ("approved", "rejected", "amended")
    )
    assert all(n == 1 for n in final.values()), "a board decided twice"

    in_force = Counter(v.program_id for v in versions.values() if v.state == "in_force")
    assert all(n == 1 for n in in_force.values()), f"several versions in force: {in_force}"

    for v in versions.values():
        assert count["version.drafted", v.id] + count["version.imported", v.id] == 1, v.id
        assert count["version.sent_out", v.id] == (0 if v.sent_out_at is None else 1), v.id
        entered = v.state in ("in_force", "superseded")
        if entered and not v.imported:
            approved = {
                d.board_id: d.decided_on
                for d in decisions
                if d.version_id == v.id and d.outcome == "approved"
            }
            assert set(approved) == program_members[v.program_id], f"{v.id} lacks approvals"
            assert v.in_force_from == max(max(approved.values()), v.valid_from), v.id
            assert count["version.in_force", v.id] == 1, v.id
        else:
            assert count["version.in_force", v.id] == 0, v.id
        if entered and v.replaces is not None:
            predecessor = versions[v.replaces]
            assert predecessor.state == "superseded", v.id
            assert predecessor.superseded_by == v.id
            assert predecessor.superseded_on == v.in_force_from
        if v.state == "superseded":
            assert v.superseded_by is not None
            assert versions[v.superseded_by].replaces == v.id
            assert count["version.superseded", v.id] == 1, v.id
        else:
            assert count["version.superseded", v.id] == 0, v.id
        assert count["version.rejected", v.id] == (1 if v.state == "rejected" else 0), v.id
    assert open_keys == 0, "an Idempotency-Key row without its stored answer"

    # An e-mail exists exactly when the state change that causes it does.
    expected = Counter(
        f"{kind}-{e.version_id}-{board}"
        for e in events
        if (kind := NOTICES.get(e.type)) and e.version_id is not None
        for board in program_members[versions[e.version_id].program_id]
    )
    assert notices == expected, "notices and the events that cause them disagree"


def assert_audit_verifies(call: Caller) -> None:
    """`GET /v1/audit/verify` says every chain is intact."""
    r = call("auditor", "GET", "/v1/audit/verify")
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True, r.json()


def respond_by() -> Any:
    """A send-out body: the answer date a month ahead."""
    return {"respond_by": (today() + timedelta(days=30)).isoformat()}
