"""Idempotency keys expire (issue 13, item 9): replayed inside the window, fresh after it.

The app and the scheduler's tick run on a clock the test moves. A key is
kept for `RATIFY_IDEMPOTENCY_TTL_HOURS` (72 by default); the tick deletes
older keys in one statement, with no audit event (they are bookkeeping).
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.settings import Settings, notifications_config
from db import models
from db.engine import Database
from notifications import scheduler
from tests.conftest import Api
from tests.integration.test_rules import assert_problem

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
TTL = timedelta(hours=72)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(maildir=tmp_path / "mail")


@pytest.fixture
def timed(
    seeded: Database, tokens: dict[str, str], clock: Clock, settings: Settings
) -> Iterator[Api]:
    app = create_app(seeded, settings, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def create(api: Api, label: str, key: str = "k-1") -> Any:
    body = {"label": label, "drafted_on": "2019-05-28", "valid_from": "2019-01-01"}
    return api.post("/v1/programs/sup/versions", body, headers={"Idempotency-Key": key})


def tick(db: Database, settings: Settings, now: datetime) -> int:
    return scheduler.tick(db, notifications_config(settings), now).expired_keys


def stored_keys(db: Database) -> int:
    with db.reads() as session:
        return session.scalar(select(func.count()).select_from(models.IdempotencyKey)) or 0


def events(db: Database) -> int:
    with db.reads() as session:
        return session.scalar(select(func.count()).select_from(models.Event)) or 0


def test_a_key_replays_inside_the_window_and_is_fresh_after_it(
    timed: Api, seeded: Database, clock: Clock, settings: Settings
) -> None:
    first = create(timed, "SUP 2040")
    assert first.status_code == 201, first.text

    clock.now = T0 + TTL - timedelta(minutes=1)
    assert tick(seeded, settings, clock.now) == 0
    retry = create(timed, "SUP 2040")
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert_problem(create(timed, "SUP 2041"), 422, "idempotency_key_reused")

    clock.now = T0 + TTL + timedelta(minutes=1)
    before = events(seeded)
    assert tick(seeded, settings, clock.now) == 1
    assert stored_keys(seeded) == 0
    assert events(seeded) == before  # bookkeeping: no audit event

    fresh = create(timed, "SUP 2041")  # the same key, now for another request
    assert fresh.status_code == 201, fresh.text
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]
    assert create(timed, "SUP 2041").headers["idempotent-replayed"] == "true"


def test_the_tick_deletes_only_keys_older_than_the_ttl(
    timed: Api, seeded: Database, clock: Clock, settings: Settings
) -> None:
    for hours, label in ((0, "A"), (24, "B"), (71, "C"), (72, "D")):
        clock.now = T0 + timedelta(hours=hours)
        assert create(timed, f"SUP {label}", key=f"key-{label}").status_code == 201
    assert stored_keys(seeded) == 4
    assert tick(seeded, settings, T0 + TTL + timedelta(hours=24, seconds=1)) == 2  # A and B
    assert stored_keys(seeded) == 2
    assert tick(seeded, settings, T0 + TTL + timedelta(hours=24, seconds=1)) == 0


def test_the_ttl_is_configurable_and_72_hours_by_default() -> None:
    assert notifications_config(Settings()).idempotency_ttl == timedelta(hours=72)
    configured = Settings(idempotency_ttl_hours=1.5)
    assert notifications_config(configured).idempotency_ttl == timedelta(minutes=90)
    with pytest.raises(ValueError, match="greater than 0"):
        Settings(idempotency_ttl_hours=0)
