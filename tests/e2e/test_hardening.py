"""Hardening: a crash mid-burst, a PostgreSQL restart, and a scaled-out fleet.

Real `ratify serve` and `ratify worker` processes, each in a process group of
its own, on the test database; HTTP and SMTP on 127.0.0.1 only. Every wait
has a deadline and every process group is ended in `finally`.

- `kill -9` of a server in the middle of a burst of writes, then a restart
  on the same database: every write that was answered 2xx is stored as
  answered, nothing is half-written, the chains verify, and retrying each
  request with its Idempotency-Key returns the stored answer or applies it
  once.
- PostgreSQL stopped under a running server: requests fail fast with 503
  `database_unavailable` problems and succeed once it is back, without
  restarting the server.
- Two servers and two workers on one database under a burst of decisions
  while the workers sweep reminders and deliver mail: every invariant of
  design.md holds and every e-mail arrives exactly once.
"""

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from api.app import create_app
from api.clock import utc_now
from api.settings import Settings
from db import models, seed
from db.audit import WRITERS_LOCK
from db.engine import Database, open_database
from db.outbox import OutboxMail, ReminderSchedule
from tests import databases
from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035, Api, make_key
from tests.e2e.conftest import PROBLEM_SIGNS, READY_TIMEOUT, free_port, ratify_command
from tests.e2e.smtp import SmtpServer
from workflow.actors import Role
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


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> Iterator[Fleet]:
    """A fleet on the migrated, empty test database of each backend."""
    fleet = Fleet(tmp_path / "fleet", database_url)
    try:
        yield fleet
    finally:
        fleet.close()


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
    return {
        "board_id": board_id,
        "outcome": outcome,
        "decided_on": decided_on,
        "paragraph": "§ 60",
        "case_number": f"2019/KS 0260 005-{board_id}",
    }


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


# --- kill -9 in the middle of a burst -----------------------------------------


@dataclass
class Call:
    """One write of the burst, with its own Idempotency-Key, and what came of it."""

    who: str
    method: str
    path: str
    body: Any
    key: str = field(default_factory=lambda: f"burst-{uuid.uuid4()}")
    status: int | None = None
    answer: Any = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None


class Burst:
    """Calls on `lanes` threads, one client each, and a SIGKILL to the server mid-way."""

    def __init__(self, calls: Sequence[Call], lanes: int) -> None:
        self.calls = calls
        self.lanes = lanes
        self.answers = 0
        self.lock = threading.Lock()
        self.killed = threading.Event()

    def _lane(self, base_url: str, tokens: Mapping[str, str], calls: Sequence[Call]) -> None:
        with caller(base_url, tokens) as call:
            for item in calls:
                if self.killed.is_set():
                    return  # never sent
                try:
                    r = call(item.who, item.method, item.path, item.body, item.key)
                except httpx.TransportError as exc:
                    item.error = repr(exc)
                    continue
                item.status, item.answer = r.status_code, r.json()
                with self.lock:
                    self.answers += 1

    def run(
        self, server: Process, tokens: Mapping[str, str], kill_after: int, deadline: float
    ) -> None:
        """Fire the burst at `server` and kill its process group mid-way."""
        with ThreadPoolExecutor(max_workers=self.lanes) as pool:
            futures = [
                pool.submit(self._lane, server.base_url, tokens, self.calls[i :: self.lanes])
                for i in range(self.lanes)
            ]
            until = time.monotonic() + deadline
            while (
                self.answers < kill_after
                and not all(f.done() for f in futures)
                and time.monotonic() < until
            ):
                time.sleep(0.002)
            server.kill()
            self.killed.set()
            for future in futures:
                future.result(timeout=deadline)


def respond_by() -> Any:
    """A send-out body: the answer date a month ahead."""
    return {"respond_by": (today() + timedelta(days=30)).isoformat()}


def assert_stored(call: Caller, item: Call) -> None:
    """The resource a 2xx answer describes reads back with the same fields."""
    answer = item.answer
    if item.path.endswith("/decisions"):
        listed = call.ok("auditor", "GET", item.path)["items"]
        stored = [d for d in listed if d["id"] == answer["id"]]
        assert len(stored) == 1, (answer, listed)
        fields = set(answer) - {"version_state"}
        assert {k: stored[0][k] for k in fields} == {k: answer[k] for k in fields}
    elif item.path.endswith(("/versions", "/send-out")):
        # Nothing in the burst changes a version it drafts or sends out after that.
        assert call.ok("auditor", "GET", f"/v1/versions/{answer['id']}") == answer
    else:
        assert item.path == "/v1/programs"
        assert call.ok("auditor", "GET", f"/v1/programs/{answer['id']}") == answer


def test_kill_9_mid_burst_loses_no_answered_write_and_half_writes_nothing(
    seeded: Database, tokens: dict[str, str], fleet: Fleet
) -> None:
    first = fleet.server()
    fresh, successors, drafts = [], [], []
    with caller(first.base_url, tokens) as call:
        call.ok("secretariat", "POST", f"/v1/versions/{SUP_2035}/send-out", respond_by())
        for i in range(4):
            boards = members(2 * i)
            program = {"id": f"fresh-{i}", "title": "F", "owner": "O", "boards": boards}
            call.ok("secretariat", "POST", "/v1/programs", program)
            version = call.ok("secretariat", "POST", f"/v1/programs/fresh-{i}/versions", draft("F"))
            call.ok("secretariat", "POST", f"/v1/versions/{version['id']}/send-out", respond_by())
            fresh.append((version["id"], boards))
            later = call.ok("secretariat", "POST", f"/v1/programs/fresh-{i}/versions", draft("D"))
            drafts.append(later["id"])
        for i in range(3):
            boards = members(2 * i + 1)
            program = {"id": f"succ-{i}", "title": "S", "owner": "O", "boards": boards}
            call.ok("secretariat", "POST", "/v1/programs", program)
            old = call.ok("secretariat", "POST", f"/v1/programs/succ-{i}/versions", draft("A"))
            call.ok("secretariat", "POST", f"/v1/versions/{old['id']}/send-out", respond_by())
            for board in boards:
                call.ok(board, "POST", f"/v1/versions/{old['id']}/decisions", approval(board))
            new = call.ok(
                "secretariat", "POST", f"/v1/programs/succ-{i}/versions", draft("B", old["id"])
            )
            call.ok("secretariat", "POST", f"/v1/versions/{new['id']}/send-out", respond_by())
            successors.append((new["id"], boards))

    calls = [
        Call(board, "POST", f"/v1/versions/{version}/decisions", approval(board, f"2019-06-{n:02}"))
        for n, (version, boards) in enumerate([(SUP_2035, BOARD_IDS), *fresh, *successors], 10)
        for board in boards
    ]
    calls += [
        Call("secretariat", "POST", f"/v1/versions/{v}/send-out", respond_by()) for v in drafts
    ]
    calls += [
        Call("secretariat", "POST", f"/v1/programs/fresh-{k % 4}/versions", draft(f"Burst {k}"))
        for k in range(24)
    ]
    calls += [
        Call("admin", "POST", "/v1/programs", {"id": f"burst-{k}", "title": "B", "owner": "O"})
        for k in range(4)
    ]
    for k, program_call in enumerate(calls[-4:]):
        program_call.body["boards"] = members(k, 2 + k)
    random.Random(20190610).shuffle(calls)

    burst = Burst(calls, lanes=8)
    burst.run(first, tokens, kill_after=len(calls) // 3, deadline=120.0)

    answered = [c for c in calls if c.answered]
    unanswered = [c for c in calls if not c.answered]
    assert len(answered) >= len(calls) // 3
    assert unanswered, "the burst was over before the kill: nothing was cut short"
    assert all(c.status in (200, 201) for c in answered), [c.answer for c in answered]

    second = fleet.server()
    with caller(second.base_url, tokens) as call:
        # Every write that was answered 2xx is stored, exactly as answered.
        for item in answered:
            assert_stored(call, item)
        assert_invariants(seeded)
        assert_audit_verifies(call)

        # A retry with the same key replays the answer, or applies the write once.
        for item in calls:
            r = call(item.who, item.method, item.path, item.body, item.key)
            assert r.status_code in (200, 201), (item.path, r.text)
            if item.answered:
                assert (r.status_code, r.json()) == (item.status, item.answer)
                assert r.headers.get("idempotent-replayed") == "true"
            else:
                item.status, item.answer = r.status_code, r.json()
        for item in calls:
            assert_stored(call, item)
            again = call(item.who, item.method, item.path, item.body, item.key)
            assert (again.status_code, again.json()) == (item.status, item.answer)

        # Everything the burst asked for happened, once.
        for version, boards in [(SUP_2035, BOARD_IDS), *fresh, *successors]:
            view = call.ok("auditor", "GET", f"/v1/versions/{version}")
            assert view["state"] == "in_force", view
            listed = call.ok("auditor", "GET", f"/v1/versions/{version}/decisions")["items"]
            assert sorted(d["board_id"] for d in listed) == sorted(boards)
        for version in drafts:
            assert call.ok("auditor", "GET", f"/v1/versions/{version}")["state"] == "sent_out"
        for i in range(4):
            labels = [
                v["label"]
                for v in call.ok("auditor", "GET", f"/v1/programs/fresh-{i}/versions")["items"]
            ]
            assert sorted(labels) == sorted(["F", "D", *(f"Burst {k}" for k in range(i, 24, 4))])
        assert call.ok("auditor", "GET", f"/v1/versions/{SUP_2013}")["state"] == "superseded"
        assert_invariants(seeded)
        assert_audit_verifies(call)
    assert first.problems() == []
    assert second.problems() == []


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
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


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
    event.listen(db.engine, "before_cursor_execute", before)
    try:
        with TestClient(create_app(db, settings), raise_server_exceptions=True) as client:
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
        event.remove(db.engine, "before_cursor_execute", before)
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
    event.listen(db.engine, "after_cursor_execute", after)
    event.listen(db.engine, "rollback", on_rollback)
    try:
        with TestClient(create_app(db, settings), raise_server_exceptions=True) as client:
            api = Api(client, tokens)
            r = api.get(f"/v1/versions/{SUP_2035}", as_="auditor")
            assert stage == ["terminated"]
            assert r.status_code == 200, r.text
            assert r.json()["id"] == SUP_2035
            assert api.get(f"/v1/versions/{SUP_2035}", as_="auditor").status_code == 200
    finally:
        event.remove(db.engine, "after_cursor_execute", after)
        event.remove(db.engine, "rollback", on_rollback)


# --- two servers and two workers on one database -------------------------------


@dataclass
class History:
    """What the secretariat sent out ten days ago, as the burst will decide it."""

    members: dict[str, list[str]] = field(default_factory=dict)
    """Version id → its program's boards."""
    decide: list[tuple[str, str, str]] = field(default_factory=list)
    """(version id, board, outcome) for the burst."""
    silent: list[tuple[str, str]] = field(default_factory=list)
    """(version id, board) that will still owe a decision: reminded."""
    in_force: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    race: tuple[str, str] = ("", "")


def sent_out_ten_days_ago(db: Database, tokens: dict[str, str], tmp_path: Path) -> History:
    """Versions sent out ten days ago, with an answer date three days ago (so reminders are due)."""
    then = utc_now() - timedelta(days=10)
    answer_by = {"respond_by": (today() - timedelta(days=3)).isoformat()}
    settings = Settings(maildir=tmp_path / "unused-maildir", run_scheduler=False)
    history = History()
    with TestClient(create_app(db, settings, clock=lambda: then)) as client:
        api = Api(client, tokens)

        def ok(r: Any) -> Any:
            assert r.status_code < 300, r.text
            return r.json()

        def version(program: str, boards: list[str], label: str, replaces: str | None) -> str:
            if replaces is None:
                body = {"id": program, "title": program, "owner": "O", "boards": boards}
                ok(api.post("/v1/programs", body))
            version_id: str = ok(
                api.post(f"/v1/programs/{program}/versions", draft(label, replaces))
            )["id"]
            ok(api.post(f"/v1/versions/{version_id}/send-out", answer_by))
            history.members[version_id] = boards
            return version_id

        ok(api.post(f"/v1/versions/{SUP_2035}/send-out", answer_by))
        history.members[SUP_2035] = BOARD_IDS
        history.decide += [(SUP_2035, b, "approved") for b in BOARD_IDS]
        history.in_force.append(SUP_2035)

        boards = members(0)
        old = version("race", boards, "Old", None)
        for board in boards:
            ok(api.post(f"/v1/versions/{old}/decisions", approval(board, "2019-06-03"), as_=board))
        history.in_force.append(old)  # until the race supersedes it
        history.race = (version("race", boards, "A", old), version("race", boards, "B", old))
        history.decide += [(v, b, "approved") for v in history.race for b in boards]

        for i in range(4):
            boards = members(4 + i)
            plain = version(f"plain-{i}", boards, "P", None)
            history.decide += [(plain, b, "approved") for b in boards]
            history.in_force.append(plain)

        boards = members(1)
        partly = version("partly", boards, "P", None)
        history.decide += [(partly, b, "approved") for b in boards[:2]]
        history.decide.append((partly, boards[2], "referred_back"))
        history.silent += [(partly, boards[2]), (partly, boards[3])]

        boards = members(2)
        no = version("no", boards, "N", None)
        history.decide.append((no, boards[0], "rejected"))
        history.rejected.append(no)

        boards = members(3)
        waiting = version("waiting", boards, "W", None)
        history.decide += [(waiting, b, "approved") for b in boards[:3]]
        history.silent.append((waiting, boards[3]))
    return history


def wait_until_quiet(db: Database, smtp: SmtpServer) -> None:
    """Until nothing is due or being sent and SMTP got every sent e-mail, for a second."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    quiet_since: float | None = None
    while True:
        now = datetime.now(UTC)
        with db.reads() as session:
            busy = session.scalar(
                select(func.count())
                .select_from(OutboxMail)
                .where(OutboxMail.status.in_(["pending", "sending"]))
            )
            due = session.scalar(
                select(func.count())
                .select_from(ReminderSchedule)
                .where(ReminderSchedule.next_due_at <= now)
            )
            sent = session.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "sent")
            )
        if busy == 0 and due == 0 and len(smtp.received) >= (sent or 0):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 1.0:
                return
        else:
            quiet_since = None
        if time.monotonic() > deadline:
            pytest.fail(f"not quiet in {QUIET_TIMEOUT}s: {busy} e-mails open, {due} schedules due")
        time.sleep(0.2)


def wait_for_log(process: Process, fragment: str) -> None:
    """Until `process` logs `fragment`; fail when it exits first or after `READY_TIMEOUT`."""
    deadline = time.monotonic() + READY_TIMEOUT
    while fragment not in process.log():
        if process.popen.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{process.name} never logged {fragment!r}:\n{process.log()}")
        time.sleep(0.05)


def test_two_servers_and_two_workers_hold_every_invariant_and_send_each_mail_once(
    seeded: Database, tokens: dict[str, str], fleet: Fleet, tmp_path: Path
) -> None:
    smtp = SmtpServer()
    smtp.start()
    try:
        history = sent_out_ten_days_ago(seeded, tokens, tmp_path)
        fleet.extra_env |= {
            "RATIFY_SMTP_HOST": "127.0.0.1",
            "RATIFY_SMTP_PORT": str(smtp.port),
            "RATIFY_SMTP_STARTTLS": "false",
            "RATIFY_SMTP_TIMEOUT": "10",
            "RATIFY_SCHEDULER_INTERVAL_SECONDS": "0.3",
        }
        servers = fleet.servers(2)
        callers = [Caller(s.base_url, tokens) for s in servers]
        try:
            workers = [fleet.worker(), fleet.worker()]
            calls = list(history.decide)
            random.Random(20190528).shuffle(calls)
            half = len(calls) // 2

            def decide(item: tuple[str, str, str]) -> httpx.Response:
                version_id, board, outcome = item
                call = callers[BOARD_IDS.index(board) % 2]
                body = approval(board, "2019-06-12", outcome)
                return call(board, "POST", f"/v1/versions/{version_id}/decisions", body)

            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(pool.map(decide, calls[:half]))  # while the workers start
                for worker in workers:
                    wait_for_log(worker, "scheduler started")
                # Each worker sweeps and delivers on its first tick, at once: during this half.
                answers += pool.map(decide, calls[half:])
            wait_until_quiet(seeded, smtp)
            for worker in workers:
                assert worker.stop() == 0, worker.log()

            refused = [r for r in answers if r.status_code != 201]
            assert len(refused) == 1, [r.text for r in refused]
            assert_problem(refused[0], 409, "predecessor_not_in_force")
            states = {
                v: callers[0].ok("auditor", "GET", f"/v1/versions/{v}")["state"]
                for v in history.race
            }
            assert sorted(states.values()) == ["in_force", "sent_out"], states
            assert_invariants(seeded)
            assert_audit_verifies(callers[1])
        finally:
            for call in callers:
                call.close()
        assert_mail_sent_once(seeded, smtp, history, states)
        for process in fleet.processes:
            assert process.problems() == [], process.log()
    finally:
        smtp.stop()


def assert_mail_sent_once(
    db: Database, smtp: SmtpServer, history: History, race: Mapping[str, str]
) -> None:
    """Every e-mail arrived exactly once, and the ones that had to go out did."""
    received = smtp.message_ids()
    assert received, "no e-mail arrived"
    twice = {m: n for m, n in received.items() if n != 1}
    assert not twice, f"e-mails that arrived more than once: {twice}"
    with db.reads() as session:
        rows = list(session.scalars(select(OutboxMail)))
        sent_events = [
            e.data["message_id"]
            for e in session.scalars(
                select(models.Event).where(models.Event.type.in_(["mail.sent", "reminder.sent"]))
            )
        ]
    assert {r.status for r in rows} <= {"sent", "cancelled"}, Counter(r.status for r in rows)
    sent = {r.message_id for r in rows if r.status == "sent"}
    assert set(received) == sent
    assert Counter(sent_events) == Counter(sent), "a sent e-mail without its one audit event"

    winner = next(v for v, state in race.items() if state == "in_force")
    for version_id, boards in history.members.items():
        for board in boards:
            assert f"<sent-out-{version_id}-{board}@ratify>" in received
            if version_id in [*history.in_force, winner]:
                assert f"<in-force-{version_id}-{board}@ratify>" in received
            if version_id in history.rejected:
                assert f"<rejected-{version_id}-{board}@ratify>" in received
    for version_id, board in history.silent:
        prefix = f"<reminder-{version_id}-{board}-d"
        assert any(m.startswith(prefix) for m in received), f"no reminder to {board}"
