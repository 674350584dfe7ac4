"""Token hygiene, end to end: a token is shown once, at creation, and nowhere after.

A real `ratify serve` on a SQLite file, keys made with `ratify keys create`,
authenticated requests that succeed and fail (wrong board, wrong role,
revoked, unknown, malformed); then no token, and no credential a client
presented, may appear in the server's logs, in any response, in
`ratify keys list`, or in any byte of any file the service wrote (the
database and its WAL included), while each token's SHA-256 is in the
database.
"""

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Ratify, Server
from workflow.dates import today_in_stockholm

SUP_2035 = "a5d6e1f0-2035-4000-8000-000000002035"
TOKEN = re.compile(r"rat_[A-Za-z0-9_-]{43,}")
KEYS: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", None),
    "secretariat": ("secretariat", None),  # revoked half-way
    "tyreso-system": ("board", "tyreso"),
    "huddinge-system": ("board", "huddinge"),
}
"""Few keys, since every `ratify` run costs a Python start; each is created by its own run."""


class DebugRatify(Ratify):
    """Processes as the e2e fixtures run them, logging at DEBUG: the chattiest they get."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "RATIFY_LOG_LEVEL": "DEBUG"}


class Service:
    """One server on a SQLite file, its keys, and every response it gave."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.database = root / "data" / "ratify.db"
        self.ratify = DebugRatify(root / "run", f"sqlite:///{self.database}")
        self.server: Server | None = None
        self.created: dict[str, Any] = {}
        self.tokens: dict[str, str] = {}
        self.responses: list[httpx.Response] = []

    def start(self) -> None:
        [self.server] = self.ratify.serve()
        running = {
            name: self.ratify.start_cli(*self.ratify.key_args(name, role, board))
            for name, (role, board) in KEYS.items()
        }
        for name, process in running.items():
            result = self.ratify.finish(process)
            assert result.returncode == 0, result.stderr
            self.created[name] = result
            self.tokens[name] = result.stdout.strip().splitlines()[-1]

    def request(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        """Send a request, with `Authorization: Bearer <token>` when a token is given."""
        assert self.server is not None
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        with httpx.Client(base_url=self.server.base_url, trust_env=False, timeout=30) as client:
            response = client.request(method, path, headers=headers, **kw)
        self.responses.append(response)
        return response

    def logs(self) -> bytes:
        assert self.server is not None
        return self.server.stdout_path.read_bytes() + self.server.stderr_path.read_bytes()

    def database_bytes(self) -> bytes:
        """The database file and its write-ahead log, as they are on disk now."""
        wal = self.database.with_name(self.database.name + "-wal")
        return self.database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    def files(self) -> Iterator[tuple[Path, bytes]]:
        """Every file under the test's folder: logs, database, WAL, mail, anything."""
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                yield path, path.read_bytes()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = Service(tmp_path_factory.mktemp("hygiene"))
    try:
        service.start()
        yield service
    finally:
        service.ratify.close()


def test_tokens_are_long_random_and_distinct(service: Service) -> None:
    tokens = list(service.tokens.values())
    for name, token in service.tokens.items():
        assert TOKEN.fullmatch(token), (name, len(token))
        secret = token.removeprefix("rat_")
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        assert len(raw) * 8 >= 128, name
        assert len(set(secret)) >= 16, f"{name}: too few distinct characters for random bytes"
        result = service.created[name]
        assert result.stdout.count(token) == 1, "printed once, as the last line of stdout"
        assert token not in result.stderr
    assert len(set(tokens)) == len(tokens)
    assert len({t[:12] for t in tokens}) == len(tokens)


def decision(board_id: str) -> dict[str, Any]:
    return {
        "board_id": board_id,
        "outcome": "approved",
        "decided_on": "2019-06-10",
        "paragraph": "§ 60",
        "case_number": "2019/KS 0260 005",
    }


def exercise(service: Service) -> list[str]:
    """Requests that succeed and fail, with every key; returns the credentials presented."""
    t = service.tokens
    respond_by = (today_in_stockholm(datetime.now(UTC)) + timedelta(days=30)).isoformat()
    expect = [
        (200, None, service.request("GET", "/v1/boards", t["admin"])),
        (
            200,
            None,
            service.request(
                "POST",
                f"/v1/versions/{SUP_2035}/send-out",
                t["secretariat"],
                json={"respond_by": respond_by},
                headers={"Idempotency-Key": "send-out-1"},
            ),
        ),
        (
            403,
            "forbidden_board",
            service.request(
                "POST",
                f"/v1/versions/{SUP_2035}/decisions",
                t["huddinge-system"],
                json=decision("tyreso"),
            ),
        ),
        (
            201,
            None,
            service.request(
                "POST",
                f"/v1/versions/{SUP_2035}/decisions",
                t["tyreso-system"],
                json=decision("tyreso"),
                headers={"Idempotency-Key": "tyreso-1"},
            ),
        ),
        (
            403,
            "forbidden",
            service.request("POST", "/v1/boards", t["huddinge-system"], json={"id": "x"}),
        ),
        (422, "validation_error", service.request("POST", "/v1/boards", t["admin"], json={})),
        (200, None, service.request("GET", "/v1/audit", t["admin"])),
        (200, None, service.request("GET", "/v1/audit/export?format=csv", t["admin"])),
        (200, None, service.request("GET", f"/v1/versions/{SUP_2035}", t["huddinge-system"])),
        (200, None, service.request("GET", "/v1/programs", t["secretariat"])),
    ]
    recorded = expect[3][2].json()
    assert recorded["recorded_by"] == "tyreso-system"

    service.ratify.cli("keys", "revoke", "secretariat")
    unknown = "rat_" + secrets.token_urlsafe(32)
    admin = t["admin"]
    expect += [
        (401, "unauthenticated", service.request("GET", "/v1/programs", t["secretariat"])),
        (401, "unauthenticated", service.request("GET", "/v1/programs", unknown)),
        (
            401,
            "unauthenticated",
            service.request("GET", "/v1/boards", headers={"Authorization": f"Basic {admin}"}),
        ),
        (
            401,
            "unauthenticated",
            service.request("GET", "/v1/boards", headers={"Authorization": admin}),
        ),
        (401, "unauthenticated", service.request("GET", "/v1/boards", f"{admin}x")),
    ]
    for status, code, response in expect:
        assert response.status_code == status, (response.request.url, response.text)
        if code is not None:
            assert response.json()["code"] == code, response.text
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
    return [unknown, f"{admin}x"]


def test_a_token_appears_nowhere_after_its_creation(service: Service) -> None:
    presented = exercise(service)
    secrets_ = [*service.tokens.values(), *presented]
    random_parts = [s.removeprefix("rat_") for s in secrets_]

    for response in service.responses:
        for secret in random_parts:
            assert secret.encode() not in response.content, response.request.url
            for name, value in response.headers.items():
                assert secret not in value, (response.request.url, name)

    listing = service.ratify.cli("keys", "list")
    for name in KEYS:
        assert name in listing.stdout
    for secret in random_parts:
        assert secret not in listing.stdout
        assert secret not in listing.stderr
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert rows["secretariat"][-1] != "-", "revoked keys show when"
    assert rows["admin"][-1] == "-"
    assert rows["admin"][4] != "-", "a used key shows when it was last used"

    stored = service.database_bytes()
    for name, token in service.tokens.items():
        assert hashlib.sha256(token.encode()).hexdigest().encode() in stored, name

    logs = service.logs()
    assert service.server is not None
    assert len(service.server.log_records()) >= 3, "JSON logs were written, so this means something"
    for secret in random_parts:
        assert secret.encode() not in logs

    service.server.stop()  # SQLite checkpoints the WAL into the database file
    seen = 0
    for path, content in service.files():
        seen += 1
        for secret in random_parts:
            assert secret.encode() not in content, f"a credential is in {path}"
    assert seen >= 3, "logs and the database were scanned"
    stored = service.database_bytes()
    for name, token in service.tokens.items():
        assert hashlib.sha256(token.encode()).hexdigest().encode() in stored, name
