"""End-to-end fixtures: real `ratify serve` processes and real `ratify` CLI runs.

Every process is started from the project's virtual environment with its own
working directory, `RATIFY_DATABASE_URL` pointing at the test database and
JSON logs. Servers listen on a free loopback port; the fixture waits for
`/readyz` and stops them (SIGTERM, then SIGKILL) on teardown. Any number of
servers may share one database, as the design's scale-out does.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from unittest import mock

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from api.cli_guard import at_head
from api.settings import Settings
from db import keys
from db.uow import UnitOfWork
from tests import databases
from workflow.actors import SYSTEM, Role

if TYPE_CHECKING:
    from tests.e2e.fleet import Fleet

READY_TIMEOUT = 60.0
"""Seconds a server may take to answer `/readyz` (two CPUs, several processes starting)."""

CLI_TIMEOUT = 120.0
"""Seconds one `ratify` CLI run may take."""


PROBLEM_SIGNS = (
    "traceback",
    "database is locked",
    "deadlock",
    "integrity_conflict",
    "database_unavailable",
    '"level": "error"',
    '"level": "critical"',
)
"""Lower-cased fragments of a server log line that show something went wrong."""


def ratify_command() -> list[str]:
    """The `ratify` entry point of the interpreter running the tests."""
    found = shutil.which("ratify", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "api.cli"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def backend_of(url: str) -> str:
    """`sqlite` or `postgresql`."""
    return make_url(url).get_backend_name()


def last_line(text: str) -> str:
    """The last non-empty line of `text` ('' when there is none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


@dataclass
class Server:
    """One running `ratify serve` process."""

    process: "subprocess.Popen[bytes]"
    base_url: str
    stdout_path: Path
    stderr_path: Path
    files: list[IO[bytes]] = field(default_factory=list)

    def stderr(self) -> str:
        """What the server has written to stderr so far (its logs)."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (lines that are not JSON are skipped)."""
        records = []
        for line in self.stderr().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def problems(self) -> list[str]:
        """Log lines that show something went wrong: errors, tracebacks, lock errors, 409s."""
        found = []
        for line in self.stderr().splitlines():
            lowered = line.lower()
            if any(sign in lowered for sign in PROBLEM_SIGNS):
                found.append(line)
        return found

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL if it does not go; close the log files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        for file in self.files:
            file.close()
        self.files.clear()


class Ratify:
    """Servers, CLI runs and HTTP clients for one database; `close` ends them all."""

    def __init__(self, workdir: Path, database_url: str | None) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.servers: list[Server] = []
        self.clients: list[httpx.Client] = []
        self.extra_env: dict[str, str] = {}
        """More `RATIFY_*` settings for every process started from here on."""
        self.serve_args: list[str] = []
        """More arguments for `ratify serve` (e.g. `--workers 2`)."""
        workdir.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """The environment of every process: ours, minus other `RATIFY_*` settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RATIFY_")}
        if self.database_url is not None:
            env["RATIFY_DATABASE_URL"] = self.database_url
        env["RATIFY_LOG_FORMAT"] = "json"
        return env | self.extra_env

    # --- the CLI ---------------------------------------------------------

    def start_cli(self, *args: str) -> "subprocess.Popen[str]":
        """Start `ratify ARGS` without waiting for it."""
        return subprocess.Popen(
            [*ratify_command(), *args],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def finish(process: "subprocess.Popen[str]") -> "subprocess.CompletedProcess[str]":
        """Wait for a CLI run and collect its output."""
        with process:
            try:
                out, err = process.communicate(timeout=CLI_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                pytest.fail(f"{process.args!r} did not finish:\n{err}")
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def cli(self, *args: str, check: bool = True) -> "subprocess.CompletedProcess[str]":
        """Run `ratify ARGS`; with `check`, fail the test on a non-zero exit."""
        result = self.finish(self.start_cli(*args))
        if check and result.returncode != 0:
            pytest.fail(
                f"ratify {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    @staticmethod
    def key_args(name: str, role: str, board: str | None) -> list[str]:
        """The arguments of `ratify keys create`."""
        args = ["keys", "create", "--role", role, "--name", name]
        return [*args, "--board", board] if board is not None else args

    def create_key(self, name: str, role: str, board: str | None = None) -> str:
        """`ratify keys create`; the token is the last line of stdout."""
        token = last_line(self.cli(*self.key_args(name, role, board)).stdout)
        assert token.startswith("rat_"), token
        return token

    def create_keys(self, specs: Mapping[str, tuple[str, str | None]]) -> dict[str, str]:
        """Keys for a test's setup: {name: (role, board)} → {name: token}.

        The first is made by `ratify keys create` (which brings the schema to
        head); the others in this process by the same code the command runs
        (`db.keys.create` in a unit of work on `at_head`'s database, with
        this test's settings), since a process each costs two seconds of
        start-up on this machine. `tests/e2e/test_cli.py` holds the command
        itself to the contract.
        """
        names = list(specs)
        tokens = {names[0]: self.create_key(names[0], *specs[names[0]])}
        url = self.database_url or f"sqlite:///{self.workdir / 'var' / 'ratify.db'}"
        env = {**self.env(), "RATIFY_DATABASE_URL": url}
        with mock.patch.dict(os.environ, env, clear=True):
            settings = Settings()
        with at_head(settings) as db, UnitOfWork(db, SYSTEM, datetime.now(UTC)) as uow:
            for name in names[1:]:
                role, board = specs[name]
                tokens[name] = keys.create(uow, name, Role(role), board)
            uow.commit()
        return tokens

    # --- servers ---------------------------------------------------------

    def serve(self, count: int = 1) -> list[Server]:
        """Start `count` servers at once on the database and wait until all are ready."""
        starting = [self._spawn() for _ in range(count)]
        return [self._wait_ready(server) for server in starting]

    def _spawn(self, attempt: int = 0) -> Server:
        port = free_port()
        index = len(self.servers)
        stdout_path = self.workdir / f"server-{index}-{attempt}.out"
        stderr_path = self.workdir / f"server-{index}-{attempt}.err"
        stdout = stdout_path.open("wb")
        stderr = stderr_path.open("wb")
        process = subprocess.Popen(
            [
                *ratify_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-scheduler",
                *self.serve_args,
            ],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
        server = Server(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
        server.files.extend([stdout, stderr])
        self.servers.append(server)
        return server

    def _wait_ready(self, server: Server, attempt: int = 0) -> Server:
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(base_url=server.base_url, trust_env=False, timeout=5) as probe:
            while time.monotonic() < deadline:
                if server.process.poll() is not None:
                    server.stop()
                    log = server.stderr()
                    if "address already in use" in log.lower() and attempt < 3:
                        self.servers.remove(server)
                        return self._wait_ready(self._spawn(attempt + 1), attempt + 1)
                    pytest.fail(
                        f"ratify serve exited {server.process.returncode} before it was ready;"
                        f" stderr:\n{log}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if probe.get("/readyz").status_code == 200:
                        return server
                time.sleep(0.05)
        server.stop()
        pytest.fail(f"ratify serve was not ready in {READY_TIMEOUT}s; stderr:\n{server.stderr()}")

    def client(self, server: Server, token: str | None = None) -> httpx.Client:
        """A client of `server` that sends `token`; closed with the fixture."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(
            base_url=server.base_url, headers=headers, trust_env=False, timeout=60
        )
        self.clients.append(client)
        return client

    def problems(self) -> list[str]:
        """Error log lines of every server so far."""
        return [line for server in self.servers for line in server.problems()]

    def close(self) -> None:
        """Close every client and stop every server."""
        for client in self.clients:
            client.close()
        self.clients.clear()
        for server in self.servers:
            server.stop()


@pytest.fixture
def ratify_factory(tmp_path: Path) -> Iterator[Callable[[str | None], Ratify]]:
    """Make a `Ratify` for any database URL (None: the CLI's default, under its cwd)."""
    made: list[Ratify] = []

    def make(database_url: str | None) -> Ratify:
        ratify = Ratify(tmp_path / f"run-{len(made)}", database_url)
        made.append(ratify)
        return ratify

    yield make
    for ratify in made:
        ratify.close()


@pytest.fixture
def ratify(database_url: str, ratify_factory: Callable[[str | None], Ratify]) -> Ratify:
    """Processes on the migrated, empty test database of each backend."""
    return ratify_factory(database_url)


@pytest.fixture(scope="module", params=databases.BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each backend that one test module shares.

    Like `database_url`, but set up once per module, so that expensive
    process fleets (servers and a key per board) serve several tests. On
    PostgreSQL it is a database of its own, so no other fixture truncates it.
    """
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        yield databases.fresh_sqlite(template, tmp_path_factory.mktemp("module-db"))
        return
    with databases.postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def module_ratify(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ratify]:
    """Processes on the module's shared database; stopped when the module is done."""
    ratify = Ratify(tmp_path_factory.mktemp("module-run"), module_database_url)
    try:
        yield ratify
    finally:
        ratify.close()


@contextlib.contextmanager
def empty_postgres_database() -> Iterator[str]:
    """A PostgreSQL database with nothing in it (not even migrated); dropped afterwards."""
    name = f"ratify_e2e_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(databases.POSTGRES_ADMIN_URL)
    libpq = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=databases.BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database that does not exist yet (SQLite) or is empty (PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'var' / 'ratify.db'}"
        return
    with empty_postgres_database() as url:
        yield url


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> "Iterator[Fleet]":
    """A fleet of `ratify serve` / `ratify worker` processes on the migrated, empty test
    database of each backend (the hardening tests; `tests/e2e/fleet.py`)."""
    from tests.e2e.fleet import Fleet

    made = Fleet(tmp_path / "fleet", database_url)
    try:
        yield made
    finally:
        made.close()
