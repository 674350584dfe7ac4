"""A board's webhook subscriptions are capped (issue 13, item 5).

`RATIFY_WEBHOOK_MAX_PER_BOARD` (default 10) live subscriptions per board,
whoever subscribes for it (its own key, or an admin naming the board); one
more is 409 `too_many_webhooks` and writes nothing. Deleted subscriptions
free their place; admin subscriptions without a board are not counted.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.settings import Settings
from db import models
from db.engine import Database
from tests.conftest import Api
from tests.integration.test_rules import assert_problem

URL = "http://127.0.0.1:9/hook"


def hooks_api(db: Database, tokens: dict[str, str], **settings: Any) -> Iterator[Api]:
    app = create_app(db, Settings(webhook_allowed_hosts="127.0.0.1", **settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tokens)


@pytest.fixture
def capped(seeded: Database, tokens: dict[str, str]) -> Iterator[Api]:
    yield from hooks_api(seeded, tokens, webhook_max_per_board=2)


def subscribe(api: Api, as_: str, **extra: Any) -> Any:
    return api.post("/v1/webhooks", {"url": URL, "events": ["*"], **extra}, as_=as_)


def live_webhooks(db: Database) -> int:
    with db.reads() as session:
        query = select(func.count()).select_from(models.Webhook)
        return session.scalar(query.where(models.Webhook.deleted_at.is_(None))) or 0


def test_a_board_gets_409_past_its_cap_and_nothing_is_written(
    capped: Api, seeded: Database
) -> None:
    first = subscribe(capped, "tyreso")
    assert first.status_code == 201, first.text
    assert subscribe(capped, "admin", board_id="tyreso").status_code == 201  # counts for Tyresö
    before = live_webhooks(seeded)

    body = assert_problem(subscribe(capped, "tyreso"), 409, "too_many_webhooks")
    assert "tyreso" in body["detail"]
    assert_problem(subscribe(capped, "admin", board_id="tyreso"), 409, "too_many_webhooks")
    assert live_webhooks(seeded) == before

    # Other boards and board-less admin subscriptions have their own count (none for admin).
    assert subscribe(capped, "haninge").status_code == 201
    for _ in range(3):
        assert subscribe(capped, "admin").status_code == 201

    # A deleted subscription frees its place.
    r = capped.client.delete(
        f"/v1/webhooks/{first.json()['id']}",
        headers={"Authorization": f"Bearer {capped.tokens['tyreso']}"},
    )
    assert r.status_code == 204, r.text
    assert subscribe(capped, "tyreso").status_code == 201


def test_the_default_cap_is_ten(seeded: Database, tokens: dict[str, str]) -> None:
    assert Settings().webhook_max_per_board == 10
    for api in hooks_api(seeded, tokens):
        for n in range(10):
            assert subscribe(api, "tyreso").status_code == 201, n
        assert_problem(subscribe(api, "tyreso"), 409, "too_many_webhooks")
