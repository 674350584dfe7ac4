"""Fixtures: every integration test runs on real SQLite and real PostgreSQL."""

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.clock import utc_now
from api.settings import Settings, sealer
from db import keys, seed
from db.engine import Database, open_database
from db.uow import UnitOfWork
from notifications.webhook_delivery import WebhookPolicy
from tests import databases
from workflow.actors import SYSTEM, Role
from workflow.dates import today_in_stockholm

# Property tests check what the code does, not how fast: on two cores shared by the
# suite's workers and PostgreSQL, an example or its generation can wait seconds for the
# CPU (one draw took 2.97 s), so neither Hypothesis's deadline nor its too-slow check
# may fail a test. Speed is measured under `bench/`.
settings.register_profile("ratify", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ratify")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first (in their order), and so, with `-n --dist loadscope`, their
    modules: no worker is left running a long module alone while the others wait."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """An `exclusive` test stops the PostgreSQL every other test uses: beside parallel
    workers it would fail their tests, so there it fails at once, saying how to run it."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and item.get_closest_marker("exclusive"):
        pytest.fail(
            "this test restarts the shared PostgreSQL: with -n, add -m 'not exclusive' and "
            "run -m exclusive alone afterwards, as `make test` does",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def session_secret_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The status page's secret in the run's temporary folder, not the checkout's var/.

    Servers the tests start inherit it, so they share it as one service's processes do.
    """
    path = tmp_path_factory.mktemp("secret") / "session-secret"
    before = os.environ.get("RATIFY_SESSION_SECRET_FILE")
    os.environ["RATIFY_SESSION_SECRET_FILE"] = str(path)
    yield path
    if before is None:
        del os.environ["RATIFY_SESSION_SECRET_FILE"]
    else:
        os.environ["RATIFY_SESSION_SECRET_FILE"] = before


@pytest.fixture(scope="session", autouse=True)
def server_key_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sealing and signing keys in the run's temporary folder, not the checkout's var/.

    Made on first use like the session secret; every app, in-process CLI run
    and policy of the run (`sealed`) shares them, as one service's processes do.
    """
    folder = tmp_path_factory.mktemp("keys")
    names = {"RATIFY_SEALING_KEY_FILE": "sealing-keys", "RATIFY_SIGNING_KEY_FILE": "signing-key"}
    before = {name: os.environ.get(name) for name in names}
    for name, file in names.items():
        os.environ[name] = str(folder / file)
    yield folder
    for name, value in before.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value


def sealed(policy: WebhookPolicy) -> WebhookPolicy:
    """`policy` with the run's sealer, which opens the secrets the test apps sealed."""
    return replace(policy, sealer=sealer(Settings()))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with databases.postgres_database() as url:
        yield url


@pytest.fixture(params=databases.BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """The URL of an empty, migrated database of each backend."""
    if request.param == "sqlite":
        yield databases.fresh_sqlite(sqlite_template, tmp_path)
        return
    url: str = request.getfixturevalue("postgres_url")
    db = open_database(url)
    databases.reset_postgres(db)
    db.dispose()
    yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def seeded(db: Database) -> Database:
    seed.seed(db, utc_now())
    return db


def make_key(db: Database, name: str, role: Role, board_id: str | None = None) -> str:
    """Create an API key directly, as `ratify keys create` does."""
    with UnitOfWork(db, SYSTEM, utc_now()) as uow:
        token = keys.create(uow, name, role, board_id)
        uow.commit()
    return token


def revoke_key(db: Database, name: str) -> None:
    """Revoke an API key directly, as `ratify keys revoke` does."""
    with UnitOfWork(db, SYSTEM, utc_now()) as uow:
        keys.revoke(uow, name)
        uow.commit()


@pytest.fixture
def tokens(seeded: Database) -> dict[str, str]:
    """A token per role, and one per seeded board (keyed by board id)."""
    found = {
        "admin": make_key(seeded, "admin", Role.ADMIN),
        "secretariat": make_key(seeded, "secretariat", Role.SECRETARIAT),
        "auditor": make_key(seeded, "auditor", Role.AUDITOR),
    }
    for board_id, _code, _name in seed.BOARDS:
        found[board_id] = make_key(seeded, f"{board_id}-system", Role.BOARD, board_id)
    return found


class Api:
    """A TestClient that sends a named token."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def _headers(self, as_: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        result = dict(headers or {})
        if as_ is not None:
            result["Authorization"] = f"Bearer {self.tokens[as_]}"
        return result

    def get(self, path: str, as_: str | None = "secretariat", **kw: Any) -> Any:
        return self.client.get(path, headers=self._headers(as_, kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, as_: str | None = "secretariat", **kw: Any) -> Any:
        return self.client.post(
            path, json=json, headers=self._headers(as_, kw.pop("headers", None)), **kw
        )


@pytest.fixture
def api(seeded: Database, tokens: dict[str, str]) -> Iterator[Api]:
    with TestClient(create_app(seeded), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def today() -> date:
    """Today in Europe/Stockholm."""
    return today_in_stockholm(datetime.now(UTC))


def respond_by() -> str:
    """An answer date a month ahead."""
    return (today() + timedelta(days=30)).isoformat()


SUP_2013 = seed.SUP_2013
SUP_2035 = seed.SUP_2035
BOARD_IDS = [b[0] for b in seed.BOARDS]


def decision(
    board_id: str, outcome: str = "approved", decided_on: str = "2019-06-10", **extra: Any
) -> dict[str, Any]:
    """A decision body with plausible Swedish minutes fields."""
    return {
        "board_id": board_id,
        "outcome": outcome,
        "decided_on": decided_on,
        "paragraph": "§ 60",
        "case_number": f"2019/KS 0260 005-{board_id}",
        **extra,
    }
