"""Webhooks against real local HTTP receivers: signatures, retries, ordering, isolation."""

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from db.engine import Database
from notifications import targets
from notifications import webhook_delivery as webhooks
from tests.conftest import BOARD_IDS, SUP_2035, Api, decision, respond_by, sealed
from tests.receiver import Received, receiver

FAST = webhooks.WebhookPolicy(
    allowed_hosts=frozenset({"127.0.0.1"}),
    timeout=httpx.Timeout(2.0, connect=2.0),
    retry_schedule=(timedelta(seconds=5), timedelta(minutes=5)),
)


@pytest.fixture
def hooks_api(seeded: Database, tokens: dict[str, str]) -> Iterator[Api]:
    settings = Settings(webhook_allowed_hosts="127.0.0.1")
    with TestClient(create_app(seeded, settings), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


@pytest.fixture
def http() -> Iterator[targets.PinnedClient]:
    with targets.PinnedClient(FAST.allowed_hosts) as client:
        yield client


def verify_signature(secret: str, received: Received) -> bool:
    """Standard Webhooks verification, written from the spec (not with our signer)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode()
    expected = base64.b64encode(hmac.new(key, signed + received.body, hashlib.sha256).digest())
    return any(
        hmac.compare_digest(sig.split(",", 1)[1].encode(), expected)
        for sig in received.headers["webhook-signature"].split(" ")
    )


def subscribe(api: Api, url: str, events: list[str], as_: str = "admin") -> dict[str, Any]:
    r = api.post("/v1/webhooks", {"url": url, "events": events}, as_=as_)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def deliver(
    db: Database, http: targets.PinnedClient, now: datetime, policy: webhooks.WebhookPolicy = FAST
) -> int:
    return webhooks.deliver_due(db, http, now, sealed(policy))


def types(received: list[Received]) -> list[str]:
    return [json.loads(r.body)["type"] for r in received]


def test_loopback_targets_are_refused_unless_allowed(api: Api, hooks_api: Api) -> None:
    r = api.post("/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, as_="admin")
    assert r.status_code == 422
    assert "RATIFY_WEBHOOK_ALLOWED_HOSTS" in r.json()["detail"]
    for url in ("ftp://example.org/x", "http://169.254.169.254/latest", "http://10.0.0.1/x", "x"):
        r = hooks_api.post("/v1/webhooks", {"url": url, "events": ["*"]}, as_="admin")
        assert r.status_code == 422, url
    r = hooks_api.post(
        "/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["nope"]}, as_="admin"
    )
    assert r.status_code == 422
    assert hooks_api.get("/v1/webhooks", as_="admin").json()["items"] == []


def test_create_list_show_delete_and_the_secret_is_shown_once(hooks_api: Api) -> None:
    created = subscribe(hooks_api, "http://127.0.0.1:9/x", ["version.in_force"])
    assert created["secret"].startswith("whsec_")
    listed = hooks_api.get("/v1/webhooks", as_="admin").json()["items"]
    assert [w["id"] for w in listed] == [created["id"]]
    shown = hooks_api.get(f"/v1/webhooks/{created['id']}", as_="admin")
    assert created["secret"] not in shown.text
    assert created["secret"] not in hooks_api.get("/v1/webhooks", as_="admin").text
    r = hooks_api.client.delete(
        f"/v1/webhooks/{created['id']}",
        headers={"Authorization": f"Bearer {hooks_api.tokens['admin']}"},
    )
    assert r.status_code == 204
    assert hooks_api.get(f"/v1/webhooks/{created['id']}", as_="admin").status_code == 404
    assert hooks_api.get("/v1/webhooks", as_="secretariat").status_code == 403


def test_deliveries_are_signed_and_carry_the_event(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    with receiver() as rx:
        hook = subscribe(hooks_api, rx.url, ["*"])
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        while deliver(seeded, http, datetime.now(UTC)):
            pass
    assert types(rx.received) == ["webhook.created", "version.sent_out"]  # "*" is everything
    got = rx.received[1]
    assert verify_signature(hook["secret"], got)
    assert not verify_signature(webhooks.generate_secret(), got)
    body = json.loads(got.body)
    assert set(body) == {"id", "type", "occurred_at", "data"}
    assert body["id"] == got.headers["webhook-id"]
    assert body["occurred_at"].endswith("Z")
    assert body["data"]["version_id"] == SUP_2035
    assert body["data"]["actor"]["name"] == "secretariat"
    assert "request" not in body["data"]


def test_a_receiver_failing_twice_gets_the_event_again_after_each_failure_then_stops(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    with receiver(script=[500, 503]) as rx:
        hook = subscribe(hooks_api, rx.url, ["version.sent_out"])
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        now = datetime.now(UTC)
        assert deliver(seeded, http, now) == 1
        assert deliver(seeded, http, now + timedelta(seconds=1)) == 0  # not due yet
        assert deliver(seeded, http, now + timedelta(seconds=10)) == 1
        assert deliver(seeded, http, now + timedelta(minutes=10)) == 1
        for hours in (1, 5, 30):
            assert deliver(seeded, http, now + timedelta(hours=hours)) == 0
    ids = {r.headers["webhook-id"] for r in rx.received}
    assert len(rx.received) == 3
    assert len(ids) == 1
    items = hooks_api.get(f"/v1/webhooks/{hook['id']}/deliveries", as_="admin").json()["items"]
    assert len(items) == 1
    assert items[0]["status"] == "delivered"
    assert [a["status_code"] for a in items[0]["attempts"]] == [500, 503, 200]
    assert len(items[0]["attempts"][0]["response"]) == 1024


def test_after_the_schedule_a_delivery_is_failed_and_can_be_redelivered(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    with receiver(script=[500, 500, 500]) as rx:
        hook = subscribe(hooks_api, rx.url, ["version.sent_out"])
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        now = datetime.now(UTC)
        for minutes in (0, 1, 10, 60, 600):
            deliver(seeded, http, now + timedelta(minutes=minutes))
        items = hooks_api.get(f"/v1/webhooks/{hook['id']}/deliveries", as_="admin").json()["items"]
        assert items[0]["status"] == "failed"
        assert len(rx.received) == 3
        r = hooks_api.post(
            f"/v1/webhooks/{hook['id']}/deliveries/{items[0]['id']}/redeliver", as_="admin"
        )
        assert r.status_code == 202
        assert deliver(seeded, http, now + timedelta(minutes=601)) == 1
    items = hooks_api.get(f"/v1/webhooks/{hook['id']}/deliveries", as_="admin").json()["items"]
    assert items[0]["status"] == "delivered"
    assert len(rx.received) == 4


def test_the_default_schedule_retries_for_at_least_24_hours() -> None:
    policy = webhooks.WebhookPolicy()
    assert sum(policy.retry_schedule, timedelta()) * (1 - policy.jitter) >= timedelta(hours=24)


def test_a_hanging_receiver_does_not_block_other_deliveries(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    release = threading.Event()
    with receiver(hang=release) as slow, receiver() as fast:
        subscribe(hooks_api, slow.url, ["version.sent_out"])
        subscribe(hooks_api, fast.url, ["version.sent_out"])
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        round_ = threading.Thread(target=deliver, args=(seeded, http, datetime.now(UTC)))
        round_.start()
        assert slow.arrived.wait(10)
        assert fast.arrived.wait(10)  # while the slow one still hangs
        assert not release.is_set()
        release.set()
        round_.join()
    assert len(fast.received) == 1


def test_each_subscription_receives_events_in_seq_order(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    with receiver(script=[500]) as rx:
        subscribe(hooks_api, rx.url, ["version.sent_out", "decision.recorded"])
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        for board_id in BOARD_IDS[:3]:
            hooks_api.post(f"/v1/versions/{SUP_2035}/decisions", decision(board_id), as_=board_id)
        now = datetime.now(UTC)
        deliver(seeded, http, now)  # the first fails; the rest wait behind it
        assert len(rx.received) == 1
        while deliver(seeded, http, now + timedelta(minutes=1)):
            pass
    seqs = [json.loads(r.body)["data"]["seq"] for r in rx.received]
    assert types(rx.received) == ["version.sent_out"] * 2 + ["decision.recorded"] * 3
    assert seqs[1:] == sorted(seqs[1:])


def test_a_board_subscription_sees_only_its_own_versions(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    hooks_api.post("/v1/programs", {"id": "two", "title": "T", "owner": "O", "boards": ["haninge"]})
    other = hooks_api.post(
        "/v1/programs/two/versions",
        {"label": "T1", "drafted_on": "2019-01-01", "valid_from": "2019-01-01"},
    ).json()["id"]
    with receiver() as rx:
        mine = subscribe(hooks_api, rx.url, ["version.sent_out"], as_="tyreso")
        assert mine["board_id"] == "tyreso"
        admins = subscribe(hooks_api, rx.url + "?admin", ["version.sent_out"])
        assert hooks_api.get(f"/v1/webhooks/{admins['id']}", as_="tyreso").status_code == 404
        assert [w["id"] for w in hooks_api.get("/v1/webhooks", as_="tyreso").json()["items"]] == [
            mine["id"]
        ]
        hooks_api.post(f"/v1/versions/{other}/send-out", {"respond_by": respond_by()})
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        while deliver(seeded, http, datetime.now(UTC)):
            pass

    def versions(path: str) -> list[str]:
        return sorted(
            json.loads(r.body)["data"]["version_id"] for r in rx.received if r.path == path
        )

    assert versions("/hook") == [SUP_2035]
    assert versions("/hook?admin") == sorted([SUP_2035, other])
    r = hooks_api.post(
        "/v1/webhooks", {"url": rx.url, "events": ["*"], "board_id": "haninge"}, as_="tyreso"
    )
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden_board"


def test_a_rotated_secret_signs_alongside_the_old_one_for_24_hours(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    with receiver() as rx:
        hook = subscribe(hooks_api, rx.url, ["version.sent_out", "version.withdrawn"])
        rotated = hooks_api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", as_="admin").json()
        assert rotated["secret"] != hook["secret"]
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        deliver(seeded, http, datetime.now(UTC))
        hooks_api.post(f"/v1/versions/{SUP_2035}/withdraw", {"reason": "omtag"})
        deliver(seeded, http, datetime.now(UTC) + timedelta(hours=25))
    first, second = rx.received
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert verify_signature(hook["secret"], first)
    assert verify_signature(rotated["secret"], first)
    assert verify_signature(rotated["secret"], second)
    assert not verify_signature(hook["secret"], second)


def test_concurrent_delivery_rounds_never_send_the_same_attempt_twice(
    hooks_api: Api, seeded: Database, http: targets.PinnedClient
) -> None:
    with receiver() as rx:
        subscribe(hooks_api, rx.url, ["decision.recorded"])
        subscribe(hooks_api, rx.url + "?second", ["decision.recorded"])
        hooks_api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        for board_id in BOARD_IDS:
            hooks_api.post(
                f"/v1/versions/{SUP_2035}/decisions",
                decision(board_id, outcome="tabled"),
                as_=board_id,
            )
        now = datetime.now(UTC)

        def rounds() -> None:
            while deliver(seeded, http, now):
                pass

        threads = [threading.Thread(target=rounds) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(rx.received) == 16
    for path in ("/hook", "/hook?second"):
        ids = [r.headers["webhook-id"] for r in rx.received if r.path == path]
        assert len(ids) == len(set(ids)) == 8  # each event once per subscription, never twice
