"""`/metrics` needs an auditor's or admin's token, or is served elsewhere (issue 13, item 12),
and counts refused requests by route template (item 10).

By default the service's own address asks for a token of role `auditor` or
`admin` (401 without one, 403 for other roles); `RATIFY_METRICS_PUBLIC=true`
opens it; `RATIFY_METRICS_LISTEN=host:port` serves it on that address
without a token, and the service's address then answers 404 for it.
"""

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api.app import create_app
from api.metrics import check_listen, parse_listen
from api.settings import Settings
from db.engine import Database
from tests.conftest import SUP_2035, Api, decision, respond_by
from tests.integration.test_rules import assert_problem

COUNTER = "ratify_refused_requests_total"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def api_with(db: Database, tokens: dict[str, str], **settings: Any) -> Iterator[Api]:
    with TestClient(create_app(db, Settings(**settings)), raise_server_exceptions=False) as c:
        yield Api(c, tokens)


def refused(status: int, code: str, route: str) -> float:
    labels = {"status": str(status), "code": code, "route": route}
    return REGISTRY.get_sample_value(COUNTER, labels) or 0.0


def test_metrics_need_an_auditor_or_admin_token_by_default(api: Api) -> None:
    assert_problem(api.get("/metrics", as_=None), 401, "unauthenticated")
    for role in ("secretariat", "tyreso"):
        assert_problem(api.get("/metrics", as_=role), 403, "forbidden")
    for role in ("auditor", "admin"):
        r = api.get("/metrics", as_=role)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        assert COUNTER in r.text


def test_metrics_are_public_when_configured(seeded: Database, tokens: dict[str, str]) -> None:
    for api in api_with(seeded, tokens, metrics_public=True):
        r = api.get("/metrics", as_=None)
        assert r.status_code == 200, r.text


def test_metrics_listen_serves_them_there_without_a_token_and_not_here(
    seeded: Database, tokens: dict[str, str]
) -> None:
    port = free_port()
    for api in api_with(seeded, tokens, metrics_listen=f"127.0.0.1:{port}"):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as scraper:
            r = scraper.get("/metrics")
            assert r.status_code == 200, r.text
            assert COUNTER in r.text
            assert scraper.get("/").status_code == 404
        assert_problem(api.get("/metrics", as_="auditor"), 404, "not_found")
    with pytest.raises(httpx.ConnectError):  # closed with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", trust_env=False)


def test_a_metrics_address_is_host_and_port() -> None:
    assert parse_listen("127.0.0.1:9100") == ("127.0.0.1", 9100)
    assert parse_listen("[::1]:9100") == ("::1", 9100)
    for bad in ("9100", "host:", ":9100", "host:99999", "host:²"):
        with pytest.raises(ValueError, match=r"host:port|port must be"):
            parse_listen(bad)
        with pytest.raises(ValueError, match=r"host:port|port must be"):
            Settings(metrics_listen=bad)
    with socket.socket() as taken:  # a socket without SO_REUSEPORT holds the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        problem = check_listen(f"127.0.0.1:{taken.getsockname()[1]}")
        assert problem is not None
        assert "in use" in problem


def test_refused_requests_are_counted_by_route_template(api: Api) -> None:
    decisions = "/v1/versions/{version_id}/decisions"
    before = {
        "unknown": refused(401, "unauthenticated", "/v1/versions/{version_id}"),
        "board": refused(403, "forbidden_board", decisions),
        "role": refused(403, "forbidden", "/v1/boards"),
    }
    r = api.get(f"/v1/versions/{SUP_2035}", as_=None, headers={"Authorization": "Bearer rat_x"})
    assert r.status_code == 401
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("haninge"), as_="tyreso")
    assert r.status_code == 403
    assert api.post("/v1/boards", {}, as_="auditor").status_code == 403
    assert refused(401, "unauthenticated", "/v1/versions/{version_id}") == before["unknown"] + 1
    assert refused(403, "forbidden_board", decisions) == before["board"] + 1
    assert refused(403, "forbidden", "/v1/boards") == before["role"] + 1
    scraped = api.get("/metrics", as_="auditor").text
    assert f'{COUNTER}{{code="forbidden_board",route="{decisions}",status="403"}}' in scraped
    assert SUP_2035 not in scraped  # templates, never raw paths
