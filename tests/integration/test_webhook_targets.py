"""Webhook targets against real loopback servers: rebinding, pinning, rechecks, TLS, redirects.

Name resolution is the one thing injected (a `Dns` table per test); every
request is real HTTP(S) on 127.0.0.1. The host names used (`*.test`) do not
resolve on a real system, so a request that arrives at all proves that the
connection went to the address the transport checked, not to a fresh lookup.
"""

import re
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings, sealer
from db import commands
from db.engine import Database
from db.models import Webhook
from notifications import targets
from notifications import webhook_delivery as webhooks
from tests.conftest import SUP_2035, Api, respond_by, sealed
from tests.receiver import receiver

POLICY = webhooks.WebhookPolicy(
    timeout=httpx.Timeout(2.0, connect=2.0),
    retry_schedule=(timedelta(seconds=5), timedelta(minutes=5)),
)
PUBLIC = "93.184.216.34"


class Dns:
    """Answers per host, one list per question in turn (the last one repeats); counts questions."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, host: str, port: int) -> Sequence[str]:
        with self.lock:
            self.asked.append(host)
            script = self.answers.get(host)
            if not script:
                raise OSError(f"{host}: no such host")
            return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
def hooks_api(seeded: Database, tokens: dict[str, str]) -> Iterator[Api]:
    settings = Settings(webhook_allowed_hosts="127.0.0.1")
    with TestClient(create_app(seeded, settings), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def subscribe_checked(db: Database, url: str, dns: Dns, allowed: frozenset[str]) -> str:
    """A subscription accepted as `POST /v1/webhooks` accepts one, with the given DNS."""
    targets.check_url(url, allowed, dns)
    with db.writes() as session:
        row = Webhook(
            id=commands.new_id(),
            url=url,
            events=["version.sent_out"],
            board_id=None,
            sealed_secret=sealer(Settings()).seal(webhooks.generate_secret()),
            created_by="admin",
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.commit()
        return row.id


def attempts(api: Api, hook_id: str) -> list[dict[str, Any]]:
    items = api.get(f"/v1/webhooks/{hook_id}/deliveries", as_="admin").json()["items"]
    assert len(items) == 1
    found: list[dict[str, Any]] = items[0]["attempts"]
    return found


def delivery(api: Api, hook_id: str) -> dict[str, Any]:
    items = api.get(f"/v1/webhooks/{hook_id}/deliveries", as_="admin").json()["items"]
    found: dict[str, Any] = items[0]
    return found


def send_out(api: Api) -> None:
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text


def test_a_name_rebound_to_loopback_after_the_subscription_check_is_refused_at_delivery(
    hooks_api: Api, seeded: Database
) -> None:
    with receiver() as rx:
        url = f"http://rebind.test:{rx.port}/hook"
        dns = Dns({"rebind.test": [[PUBLIC], ["127.0.0.1"]]})
        hook_id = subscribe_checked(seeded, url, dns, frozenset())  # public: accepted
        send_out(hooks_api)
        with targets.PinnedClient(resolver=dns) as client:
            assert webhooks.deliver_due(seeded, client, datetime.now(UTC), sealed(POLICY)) == 1
    assert rx.received == []
    assert dns.asked == ["rebind.test", "rebind.test"]  # once to subscribe, once to send
    [attempt] = attempts(hooks_api, hook_id)
    assert attempt["status_code"] is None
    assert attempt["response"] is None
    assert attempt["error"] == (
        "TargetRefused: url host rebind.test resolves to 127.0.0.1, a loopback address; "
        "allow it with RATIFY_WEBHOOK_ALLOWED_HOSTS"
    )
    assert delivery(hooks_api, hook_id)["status"] == "pending"  # refused is retried like down


def test_one_loopback_address_among_public_ones_refuses_the_delivery(
    hooks_api: Api, seeded: Database
) -> None:
    with receiver() as rx:
        url = f"http://mixed.test:{rx.port}/hook"
        dns = Dns({"mixed.test": [[PUBLIC], [PUBLIC, "::ffff:127.0.0.1"]]})
        hook_id = subscribe_checked(seeded, url, dns, frozenset())
        send_out(hooks_api)
        with targets.PinnedClient(resolver=dns) as client:
            webhooks.deliver_due(seeded, client, datetime.now(UTC), sealed(POLICY))
    assert rx.received == []
    [attempt] = attempts(hooks_api, hook_id)
    assert "IPv4-mapped address embedding 127.0.0.1, a loopback address" in attempt["error"]


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(
    hooks_api: Api, seeded: Database
) -> None:
    with receiver() as rx:
        url = f"http://hook.test:{rx.port}/hook"
        # Any later question would get 127.0.0.2, where nothing listens on this port.
        dns = Dns({"hook.test": [["127.0.0.1"], ["127.0.0.2"]]})
        hook_id = subscribe_checked(seeded, url, dns, frozenset({"hook.test"}))
        send_out(hooks_api)
        with targets.PinnedClient({"hook.test"}, resolver=dns) as client:
            assert webhooks.deliver_due(seeded, client, datetime.now(UTC), sealed(POLICY)) == 1
    assert dns.asked == ["hook.test"]  # allow-listed: no lookup to subscribe, one to send
    [got] = rx.received
    assert got.headers["host"] == f"hook.test:{rx.port}"
    assert got.path == "/hook"
    assert delivery(hooks_api, hook_id)["status"] == "delivered"
    assert attempts(hooks_api, hook_id)[0]["status_code"] == 200


def test_every_request_looks_up_once_and_uses_the_first_checked_address() -> None:
    with receiver() as rx:
        dns = Dns({"hook.test": [["127.0.0.1", "127.0.0.2"], ["127.0.0.2"]]})
        with targets.PinnedClient({"hook.test"}, resolver=dns) as client:
            first = client.post(f"http://hook.test:{rx.port}/a", content=b"{}")
            with pytest.raises(httpx.ConnectError):  # the DNS moved: so does the connection
                client.post(f"http://hook.test:{rx.port}/b", content=b"{}")
    assert first.status_code == 200
    assert dns.asked == ["hook.test", "hook.test"]
    assert [r.path for r in rx.received] == ["/a"]


def test_retries_and_redeliveries_check_the_target_again_with_the_dns_of_the_moment(
    hooks_api: Api, seeded: Database
) -> None:
    with receiver() as rx:
        url = f"http://moving.test:{rx.port}/hook"
        dns = Dns({"moving.test": [[PUBLIC], ["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"]]})
        hook_id = subscribe_checked(seeded, url, dns, frozenset())
        send_out(hooks_api)
        now = datetime.now(UTC)
        with targets.PinnedClient(resolver=dns) as client:
            for minutes in (0, 1, 10):
                later = now + timedelta(minutes=minutes)
                webhooks.deliver_due(seeded, client, later, sealed(POLICY))
            assert delivery(hooks_api, hook_id)["status"] == "failed"
            r = hooks_api.post(
                f"/v1/webhooks/{hook_id}/deliveries/{delivery(hooks_api, hook_id)['id']}/redeliver",
                as_="admin",
            )
            assert r.status_code == 202
            webhooks.deliver_due(seeded, client, now + timedelta(minutes=11), sealed(POLICY))
    assert rx.received == []
    assert len(dns.asked) == 5  # the subscription, then each of the four attempts
    errors = [a["error"] for a in attempts(hooks_api, hook_id)]
    assert [e.split(" resolves to ")[1].split(",")[0] for e in errors] == [
        "127.0.0.1",
        "10.0.0.5",
        "169.254.169.254",
        "169.254.169.254",
    ]
    assert all(e.startswith("TargetRefused: url host moving.test") for e in errors)


def test_a_redelivery_is_refused_once_the_host_is_no_longer_allow_listed(
    hooks_api: Api, seeded: Database
) -> None:
    with receiver() as rx:
        hook = hooks_api.post(
            "/v1/webhooks", {"url": rx.url, "events": ["version.sent_out"]}, as_="admin"
        ).json()
        send_out(hooks_api)
        with targets.PinnedClient({"127.0.0.1"}) as client:
            assert webhooks.deliver_due(seeded, client, datetime.now(UTC), sealed(POLICY)) == 1
        delivery_id = delivery(hooks_api, hook["id"])["id"]
        r = hooks_api.post(
            f"/v1/webhooks/{hook['id']}/deliveries/{delivery_id}/redeliver", as_="admin"
        )
        assert r.status_code == 202
        with targets.PinnedClient() as client:  # restarted without the allow-list entry
            assert webhooks.deliver_due(seeded, client, datetime.now(UTC), sealed(POLICY)) == 1
    assert len(rx.received) == 1
    first, second = attempts(hooks_api, hook["id"])
    assert first["status_code"] == 200
    assert second["error"] == (
        "TargetRefused: url host 127.0.0.1 is a loopback address; "
        "allow it with RATIFY_WEBHOOK_ALLOWED_HOSTS"
    )


def test_redirects_are_not_followed(hooks_api: Api, seeded: Database) -> None:
    with receiver() as inside, receiver(script=[307], location=inside.url) as rx:
        hook = hooks_api.post(
            "/v1/webhooks", {"url": rx.url, "events": ["version.sent_out"]}, as_="admin"
        ).json()
        send_out(hooks_api)
        with targets.PinnedClient({"127.0.0.1"}) as client:
            webhooks.deliver_due(seeded, client, datetime.now(UTC), sealed(POLICY))
    assert len(rx.received) == 1
    assert inside.received == []
    assert attempts(hooks_api, hook["id"])[0]["status_code"] == 307


def test_a_redirect_followed_on_request_is_checked_like_any_request() -> None:
    with receiver() as inside, receiver(script=[302], location=inside.url) as rx:
        dns = Dns({"hook.test": [["127.0.0.1"]]})
        with (
            targets.PinnedClient({"hook.test"}, resolver=dns) as client,
            pytest.raises(
                targets.TargetRefused, match=re.escape("127.0.0.1 is a loopback address")
            ),
        ):
            client.post(f"http://hook.test:{rx.port}/", content=b"{}", follow_redirects=True)
    assert len(rx.received) == 1
    assert inside.received == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]:9/x",
        "http://[::ffff:127.0.0.1]:9/x",
        "http://[64:ff9b::7f00:1]:9/x",
        "http://[64:ff9b:1::7f00:1]:9/x",
        "http://[2002:7f00:1::]:9/x",
        "http://[2001:0:7f00:1::]:9/x",
        "http://[fec0::1]:9/x",
    ],
)
def test_the_api_refuses_ipv6_forms_of_internal_addresses(api: Api, url: str) -> None:
    r = api.post("/v1/webhooks", {"url": url, "events": ["*"]}, as_="admin")
    assert r.status_code == 422, r.text
    assert "RATIFY_WEBHOOK_ALLOWED_HOSTS" in r.json()["detail"]


def test_the_api_refuses_a_user_name_and_password_in_the_url(hooks_api: Api) -> None:
    r = hooks_api.post(
        "/v1/webhooks", {"url": "http://user:pass@127.0.0.1:9/x", "events": ["*"]}, as_="admin"
    )
    assert r.status_code == 422
    assert r.json()["detail"] == "url must not contain a user name or password"
    r = hooks_api.post(
        "/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, as_="admin"
    )
    assert r.status_code == 201  # a non-default port is fine


@dataclass(frozen=True)
class Pki:
    """A throwaway CA and a server certificate it signed for `hook.test` only."""

    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
            "-days", "2", "-subj", "/CN=ratify test CA")  # fmt: skip
    openssl("req", "-x509", *ec, "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"),
            "-days", "2", "-subj", "/CN=hook.test", "-CA", str(d / "ca.pem"),
            "-CAkey", str(d / "ca.key"), "-addext", "subjectAltName=DNS:hook.test",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "extendedKeyUsage=serverAuth")  # fmt: skip
    return Pki(d / "ca.pem", d / "cert.pem", d / "key.pem")


@pytest.fixture
def tls_receiver(pki: Pki) -> Iterator[tuple[Any, list[str | None]]]:
    """An HTTPS receiver on 127.0.0.1 that notes the SNI name of every handshake."""
    seen: list[str | None] = []
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.cert, pki.key)
    server.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    with receiver(tls=server, keep_alive=True) as rx:
        yield rx, seen


def test_https_uses_the_host_name_for_sni_and_verification_over_the_pinned_address(
    pki: Pki, tls_receiver: tuple[Any, list[str | None]]
) -> None:
    rx, seen = tls_receiver
    trust = ssl.create_default_context(cafile=pki.ca)
    dns = Dns({"hook.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    allowed = {"hook.test", "other.test", "127.0.0.1"}
    with targets.PinnedClient(allowed, resolver=dns, verify=trust) as client:
        ok = client.post(f"https://hook.test:{rx.port}/hook", content=b"{}")
        again = client.post(f"https://hook.test:{rx.port}/hook", content=b"{}")
        # The same address under another name: the certificate does not match it, and
        # the connection verified for hook.test (the server keeps it open) is not reused.
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            client.post(f"https://other.test:{rx.port}/hook", content=b"{}")
        # Nor does it match the address itself, which is what the socket connects to.
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            client.post(f"https://127.0.0.1:{rx.port}/hook", content=b"{}")
    assert ok.status_code == again.status_code == 200
    assert [r.headers["host"] for r in rx.received] == [f"hook.test:{rx.port}"] * 2
    # A handshake per request; no SNI is sent for an address.
    assert seen == ["hook.test", "hook.test", "other.test", None]


def test_https_refuses_a_certificate_the_client_does_not_trust(
    tls_receiver: tuple[Any, list[str | None]],
) -> None:
    rx, _seen = tls_receiver
    dns = Dns({"hook.test": [["127.0.0.1"]]})
    with (
        targets.PinnedClient({"hook.test"}, resolver=dns) as client,
        pytest.raises(httpx.ConnectError, match="certificate verify failed"),
    ):
        client.post(f"https://hook.test:{rx.port}/hook", content=b"{}")
    assert rx.received == []
