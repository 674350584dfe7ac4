"""Migration 0007 carries the webhook secrets that exist: sealed with the server's key in the
same transaction, an ended previous secret dropped, replays stripped of secrets, and
without the key it changes nothing."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from db import migrate
from db.engine import Database, open_database
from db.sealing import Sealer, new_key
from tests import databases

BEFORE = "0004"
"""The revision before the sealing one (the integrator may put others in between)."""


@pytest.fixture(params=databases.BACKENDS)
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each backend, its schema at `BEFORE`."""
    if request.param == "sqlite":
        db = open_database(f"sqlite:///{tmp_path / 'old.db'}")
        migrate.upgrade(db.engine, revision=BEFORE)
        yield db
        db.dispose()
        return
    with databases.postgres_database(migrated=False) as url:
        db = open_database(url)
        migrate.upgrade(db.engine, revision=BEFORE)
        yield db
        db.dispose()


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def old_rows(db: Database) -> None:
    """What a database at 0004 holds: two subscriptions in clear, one mid-rotation, one
    whose previous secret has ended, and the create answer kept for a replay."""
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        insert = text(
            "INSERT INTO webhooks (id, url, events, secret, previous_secret,"
            " previous_secret_until, created_by, created_at)"
            " VALUES (:id, 'https://x.example/', '[\"*\"]', :secret, :previous, :until, 'a', :at)"
        )
        connection.execute(
            insert,
            {
                "id": "rotating",
                "secret": "whsec_bmV3",
                "previous": "whsec_b2xk",
                "until": naive(now + timedelta(hours=3)),
                "at": naive(now),
            },
        )
        connection.execute(
            insert,
            {
                "id": "ended",
                "secret": "whsec_Y3Vy",
                "previous": "whsec_Z29uZQ==",
                "until": naive(now - timedelta(hours=3)),
                "at": naive(now),
            },
        )
        body = {"id": "rotating", "url": "https://x.example/", "secret": "whsec_bmV3"}
        connection.execute(
            text(
                "INSERT INTO idempotency_keys (actor_name, key, fingerprint, status_code, body,"
                " location, created_at) VALUES ('admin', 'k', 'f', 201, :body, NULL, :at)"
            ),
            {"body": json.dumps(body, separators=(",", ":")), "at": naive(now)},
        )


def test_the_secrets_that_exist_are_sealed_by_the_upgrade(unmigrated: Database) -> None:
    old_rows(unmigrated)
    keys = Sealer([new_key()])
    migrate.upgrade(unmigrated.engine, keys)
    assert migrate.at_head(unmigrated.engine)
    with unmigrated.engine.connect() as connection:
        rows = {
            row.id: row
            for row in connection.execute(
                text(
                    "SELECT id, sealed_secret, sealed_previous_secret, previous_secret_until"
                    " FROM webhooks"
                )
            )
        }
        replay = connection.execute(text("SELECT body FROM idempotency_keys")).scalar_one()
        everything = " ".join(
            str(row)
            for table in ("webhooks", "idempotency_keys")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        )
    assert "whsec_" not in everything
    assert keys.unseal(rows["rotating"].sealed_secret) == "whsec_bmV3"
    assert keys.unseal(rows["rotating"].sealed_previous_secret) == "whsec_b2xk"
    assert rows["rotating"].previous_secret_until is not None
    assert keys.unseal(rows["ended"].sealed_secret) == "whsec_Y3Vy"
    assert rows["ended"].sealed_previous_secret is None  # its 24 hours were over: dropped
    assert rows["ended"].previous_secret_until is None
    kept = json.loads(replay)
    assert kept["secret"] is None
    assert "shown once" in kept["secret_withheld"]
    assert kept["id"] == "rotating"


def test_without_the_key_the_upgrade_stops_and_changes_nothing(unmigrated: Database) -> None:
    old_rows(unmigrated)
    with pytest.raises(RuntimeError, match="ratify db upgrade"):
        migrate.upgrade(unmigrated.engine)
    assert migrate.current_revision(unmigrated.engine) == BEFORE
    with unmigrated.engine.connect() as connection:
        secrets = connection.execute(text("SELECT secret FROM webhooks ORDER BY id")).scalars()
        assert list(secrets) == ["whsec_Y3Vy", "whsec_bmV3"]


def test_an_empty_database_needs_no_key(unmigrated: Database) -> None:
    migrate.upgrade(unmigrated.engine)
    assert migrate.at_head(unmigrated.engine)
