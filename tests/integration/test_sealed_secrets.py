"""Webhook secrets at rest: sealed under the server's key, never in replays, cleared after
their overlap, and still signing deliveries that the Standard Webhooks library accepts."""

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import standardwebhooks
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from api.app import create_app
from api.settings import Settings, sealer
from db import models, subscriptions
from db.engine import Database
from db.sealing import Sealer, Unsealable, new_key
from db.webhook_queue import signing_secrets
from notifications import scheduler, targets
from notifications import webhook_delivery as webhooks
from tests.conftest import SUP_2035, Api, respond_by, sealed
from tests.receiver import Received, receiver

POLICY = webhooks.WebhookPolicy(
    allowed_hosts=frozenset({"127.0.0.1"}), timeout=httpx.Timeout(2.0, connect=2.0)
)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def hooks_api(seeded: Database, tokens: dict[str, str]) -> Iterator[Api]:
    settings = Settings(webhook_allowed_hosts="127.0.0.1")
    with TestClient(create_app(seeded, settings), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def every_row(db: Database) -> str:
    """Every value of every table, as one text: what a copy of the database gives away."""
    with db.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in sorted(inspect(connection).get_table_names())
            for row in connection.execute(text(f'SELECT * FROM "{table}"'))
        )


def hook_row(db: Database, hook_id: str) -> models.Webhook:
    with db.reads() as session:
        row = session.get_one(models.Webhook, hook_id)
        session.expunge(row)
        return row


def admin_post(api: Api, path: str, body: Any = None, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return api.post(path, body, as_="admin", headers=headers)


def deliver_now(db: Database, policy: webhooks.WebhookPolicy) -> None:
    with targets.PinnedClient(policy.allowed_hosts) as client:
        while webhooks.deliver_due(db, client, datetime.now(UTC), policy):
            pass


def standard_verify(secret: str, received: Received) -> bool:
    """The reference library's verdict on one delivery."""
    try:
        standardwebhooks.Webhook(secret).verify(received.body, received.headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


def test_a_copy_of_the_database_holds_no_webhook_secret(hooks_api: Api, seeded: Database) -> None:
    created = admin_post(
        hooks_api, "/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, "c-1"
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    rotated = admin_post(hooks_api, f"/v1/webhooks/{hook['id']}/rotate-secret", None, "r-1")
    assert rotated.status_code == 200, rotated.text
    secrets = [hook["secret"], rotated.json()["secret"]]

    dump = every_row(seeded)
    for secret in secrets:
        assert secret not in dump
        assert secret.removeprefix("whsec_") not in dump  # nor its key bytes
        raw = base64.b64decode(secret.removeprefix("whsec_"))
        assert raw.hex() not in dump
    assert "whsec_" not in dump
    row = hook_row(seeded, hook["id"])
    keys = sealer(Settings())
    assert keys.unseal(row.sealed_secret) == secrets[1]
    assert row.sealed_previous_secret is not None
    assert keys.unseal(row.sealed_previous_secret) == secrets[0]
    with pytest.raises(Unsealable):
        Sealer([new_key()]).unseal(row.sealed_secret)  # another server's key opens nothing


def test_deliveries_signed_with_sealed_secrets_verify_with_standardwebhooks(
    hooks_api: Api, seeded: Database
) -> None:
    with receiver() as rx:
        hook = admin_post(hooks_api, "/v1/webhooks", {"url": rx.url, "events": ["*"]}).json()
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        deliver_now(seeded, sealed(POLICY))
        rotated = admin_post(hooks_api, f"/v1/webhooks/{hook['id']}/rotate-secret").json()
        hooks_api.post(f"/v1/versions/{SUP_2035}/withdraw", {"reason": "omtag"})
        deliver_now(seeded, sealed(POLICY))
    by_type = {json.loads(r.body)["type"]: r for r in rx.received}
    sent_out, rotation = by_type["version.sent_out"], by_type["webhook.secret_rotated"]
    assert standard_verify(hook["secret"], sent_out)
    assert not standard_verify(rotated["secret"], sent_out)
    for during_overlap in (rotation, by_type["version.withdrawn"]):
        assert standard_verify(hook["secret"], during_overlap)
        assert standard_verify(rotated["secret"], during_overlap)
    assert not standard_verify(webhooks.generate_secret(), sent_out)
    assert json.loads(rotation.body)["data"]["previous_secret_valid_until"].endswith("Z")


def test_without_the_sealing_key_a_delivery_fails_and_says_why(
    hooks_api: Api, seeded: Database
) -> None:
    with receiver() as rx:
        admin_post(hooks_api, "/v1/webhooks", {"url": rx.url, "events": ["*"]})
        deliver_now(seeded, replace(POLICY, sealer=Sealer([new_key()])))
    assert rx.received == []
    with seeded.reads() as session:
        attempt = session.scalars(select(models.Attempt)).one()
    assert attempt.error is not None
    assert attempt.error.startswith("Unsealable")


def test_a_replay_answers_without_the_secret_and_says_so(hooks_api: Api) -> None:
    body = {"url": "http://127.0.0.1:9/x", "events": ["version.in_force"]}
    first = admin_post(hooks_api, "/v1/webhooks", body, "same-key")
    again = admin_post(hooks_api, "/v1/webhooks", body, "same-key")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    shown, replayed = first.json(), again.json()
    assert shown["secret"].startswith("whsec_")
    assert "secret_withheld" not in shown
    assert replayed["secret"] is None
    assert "shown once" in replayed["secret_withheld"]
    assert {k: v for k, v in replayed.items() if not k.startswith("secret")} == {
        k: v for k, v in shown.items() if k != "secret"
    }
    assert len(hooks_api.get("/v1/webhooks", as_="admin").json()["items"]) == 1

    path = f"/v1/webhooks/{shown['id']}/rotate-secret"
    rotated = admin_post(hooks_api, path, None, "rotate-key")
    rotated_again = admin_post(hooks_api, path, None, "rotate-key")
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated_again.headers["Idempotent-Replayed"] == "true"
    assert rotated_again.json()["secret"] is None
    assert "rotate-secret" in rotated_again.json()["secret_withheld"]


def test_a_rotated_sealing_key_still_opens_what_the_old_one_sealed(
    seeded: Database, tokens: dict[str, str]
) -> None:
    old, new = new_key(), new_key()
    before = Settings(webhook_allowed_hosts="127.0.0.1", sealing_keys=old)
    after = Settings(webhook_allowed_hosts="127.0.0.1", sealing_keys=f"{new},{old}")
    with receiver() as rx:
        with TestClient(create_app(seeded, before), raise_server_exceptions=False) as client:
            hook = admin_post(Api(client, tokens), "/v1/webhooks", {"url": rx.url, "events": ["*"]})
        secret = hook.json()["secret"]
        with TestClient(create_app(seeded, after), raise_server_exceptions=False) as client:
            api = Api(client, tokens)
            api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
            deliver_now(seeded, replace(POLICY, sealer=sealer(after)))
        assert len(rx.received) == 2
        assert all(standard_verify(secret, r) for r in rx.received)

    assert Sealer([old]).unseal(hook_row(seeded, hook.json()["id"]).sealed_secret) == secret
    assert subscriptions.reseal_all(seeded, sealer(after).reseal) == 1
    resealed = hook_row(seeded, hook.json()["id"]).sealed_secret
    assert Sealer([new]).unseal(resealed) == secret  # the old key can now be dropped
    with pytest.raises(Unsealable):
        Sealer([old]).unseal(resealed)


def test_the_previous_secret_is_cleared_when_its_24_hours_end(
    seeded: Database, tokens: dict[str, str]
) -> None:
    clock = Clock(T0)
    settings = Settings(webhook_allowed_hosts="127.0.0.1")
    app = create_app(seeded, settings, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, tokens)
        hook = admin_post(api, "/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]})
        hook_id = hook.json()["id"]
        clock.now = T0 + timedelta(hours=1)
        admin_post(api, f"/v1/webhooks/{hook_id}/rotate-secret")
        shown = api.get(f"/v1/webhooks/{hook_id}", as_="admin").json()
    assert shown["previous_secret_valid_until"] == "2026-12-01T10:00:00Z"
    ends = T0 + timedelta(hours=25)
    policy = sealed(POLICY)

    scheduler.deliver_webhooks(seeded, policy, ends - timedelta(seconds=1))
    row = hook_row(seeded, hook_id)
    assert row.sealed_previous_secret is not None
    assert len(signing_secrets(row, ends - timedelta(seconds=1))) == 2
    assert signing_secrets(row, ends) == (row.sealed_secret,)  # never signs once ended

    scheduler.deliver_webhooks(seeded, policy, ends)  # what each scheduler tick runs
    row = hook_row(seeded, hook_id)
    assert (row.sealed_previous_secret, row.previous_secret_until) == (None, None)
    assert row.sealed_secret
