"""Refused requests in the log and in `/metrics` (issue 13, items 10 and 12), on real servers.

Each 401 and 403 is one JSON log line `request_refused` with status, code,
method, the route's template and the key's name when the token resolved,
never a token; `ratify_refused_requests_total{status, code, route}` counts
them. `/metrics` needs an auditor's or admin's token, or with
`RATIFY_METRICS_LISTEN` is served on its own address by every worker of
`ratify serve --workers 2`.
"""

import re
import socket
from typing import Any

import httpx

from tests.e2e.conftest import Ratify, free_port

COUNTER = "ratify_refused_requests_total"


def refusals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event") == "request_refused"]


def test_each_refusal_is_one_log_line_with_key_route_and_code_and_is_counted(
    ratify: Ratify,
) -> None:
    (server,) = ratify.serve()  # upgrades and seeds
    tokens = ratify.create_keys(
        {
            "audit-1": ("auditor", None),
            "kansliet": ("secretariat", None),
            "tyreso-w3d3": ("board", "tyreso"),
        }
    )
    anonymous = ratify.client(server)
    tyreso = ratify.client(server, tokens["tyreso-w3d3"])
    kansliet = ratify.client(server, tokens["kansliet"])
    auditor = ratify.client(server, tokens["audit-1"])

    assert anonymous.get("/v1/boards").status_code == 401
    bogus = "rat_" + "x" * 43
    r = anonymous.get("/v1/versions/abc", headers={"Authorization": f"Bearer {bogus}"})
    assert r.status_code == 401
    decision = {
        "board_id": "haninge",
        "outcome": "approved",
        "decided_on": "2019-06-10",
        "paragraph": "§ 60",
        "case_number": "2019/KS 0260 005",
    }
    r = tyreso.post("/v1/versions/some-version/decisions", json=decision)
    assert r.status_code == 403, r.text
    assert kansliet.get("/metrics").status_code == 403
    assert kansliet.get("/v1/audit/verify").status_code == 403

    found = {
        (r["status"], r["code"], r["method"], r["route"], r["key"])
        for r in refusals(server.log_records())
    }
    assert found == {
        (401, "unauthenticated", "GET", "/v1/boards", None),
        (401, "unauthenticated", "GET", "/v1/versions/{version_id}", None),
        (403, "forbidden_board", "POST", "/v1/versions/{version_id}/decisions", "tyreso-w3d3"),
        (403, "forbidden", "GET", "/metrics", "kansliet"),
        (403, "forbidden", "GET", "/v1/audit/verify", "kansliet"),
    }
    assert all(r["level"] == "warning" for r in refusals(server.log_records()))
    log = server.stderr()
    for token in [*tokens.values(), bogus]:
        assert token not in log

    scraped = auditor.get("/metrics")
    assert scraped.status_code == 200, scraped.text
    counted = {
        (m["status"], m["code"], m["route"]): float(m["value"])
        for m in re.finditer(
            rf'^{COUNTER}{{code="(?P<code>[^"]+)",route="(?P<route>[^"]+)",'
            rf'status="(?P<status>\d+)"}} (?P<value>\S+)$',
            scraped.text,
            flags=re.M,
        )
    }
    assert counted[("401", "unauthenticated", "/v1/boards")] == 1
    assert counted[("401", "unauthenticated", "/v1/versions/{version_id}")] == 1
    assert counted[("403", "forbidden_board", "/v1/versions/{version_id}/decisions")] == 1
    assert counted[("403", "forbidden", "/metrics")] == 1


def test_metrics_on_their_own_address_are_served_by_every_worker_and_not_on_the_main_one(
    ratify: Ratify,
) -> None:
    port = free_port()
    ratify.extra_env["RATIFY_METRICS_LISTEN"] = f"127.0.0.1:{port}"
    ratify.serve_args = ["--workers", "2"]
    token = ratify.create_key("audit-1", "auditor")
    (server,) = ratify.serve()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as scrape:
        for _ in range(6):  # the kernel spreads these over both workers
            r = scrape.get("/metrics")
            assert r.status_code == 200, r.text
            assert "python_info" in r.text
    r = ratify.client(server, token).get("/metrics")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert not ratify.problems()


def test_serve_refuses_a_metrics_address_it_cannot_take_in_one_line(ratify: Ratify) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ratify.extra_env["RATIFY_METRICS_LISTEN"] = f"127.0.0.1:{taken.getsockname()[1]}"
        result = ratify.cli("serve", "--port", str(free_port()), check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ratify: error: cannot serve metrics on 127.0.0.1:")
