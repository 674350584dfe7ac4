"""Schemathesis against the service's own OpenAPI schema, with tokens, on both backends.

Every operation of `/openapi.json` is fuzzed in-process (the ASGI app of
`create_app`) on a seeded database, with valid data (positive mode) and with
data that breaks the schema (negative mode), as an admin and as a board.
Path parameters name real resources (program `sup`, a version out for
decision, a webhook and one of its deliveries), so the bodies and queries
reach the workflow instead of stopping at 404. Two checks: no response is a
server error, and every 4xx/5xx response is an RFC 9457 problem document
with the contract's fields.

Webhook targets are resolved with numeric addresses only, so a generated
host name never becomes a DNS query: the test stays on this machine.
"""

import itertools
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from api.app import create_app
from api.errors import PROBLEM
from api.responses import Health
from api.settings import Settings
from db.engine import Database
from tests.conftest import SUP_2013, SUP_2035, Api, decision, respond_by

MAX_EXAMPLES = 10
"""Examples per operation and mode: the run stays well under a minute per backend."""

PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")

Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]


def problem_document(_ctx: CheckContext, response: Response, _case: AnyCase) -> bool | None:
    """A 4xx or 5xx answer is `application/problem+json` with the contract's fields."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith(PROBLEM), (
        f"{response.status_code} answered with Content-Type {content_type!r}"
    )
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code}: the problem body is not JSON") from None
    assert isinstance(body, dict), body
    missing = [name for name in PROBLEM_FIELDS if not isinstance(body.get(name), str | int)]
    assert not missing, f"{response.status_code}: problem without {missing}: {body}"
    assert body["status"] == response.status_code, body
    assert isinstance(body["code"], str)
    assert body["code"], body
    return None


CHECKS = [
    not_a_server_error,
    problem_document,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
"""No server error, every error a problem document, and the schema says what the server did:
the status, the media type, the body (a problem's `code` among the operation's) and the
required headers."""


@pytest.fixture
def numeric_hosts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution without DNS: numeric addresses resolve, names do not."""
    real = socket.getaddrinfo

    def numeric(host: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["flags"] = kwargs.get("flags", 0) | socket.AI_NUMERICHOST
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric)


@dataclass(frozen=True)
class Target:
    """The app under test and the real ids its path parameters take."""

    app: Any
    ids: dict[str, dict[str, Any]]
    """Per operation label (`METHOD /path`): path parameter values; `*` for the rest."""


@pytest.fixture
def target(
    seeded: Database, tokens: dict[str, str], tmp_path: Path, numeric_hosts_only: None
) -> Target:
    """A seeded app with a version out for decision, two webhooks and a delivery."""
    settings = Settings(
        webhook_allowed_hosts="127.0.0.1", maildir=tmp_path / "mail", run_scheduler=False
    )
    app = create_app(seeded, settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, tokens)
        hooks = []
        for _ in range(2):
            r = api.post(
                "/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["*"]}, as_="admin"
            )
            assert r.status_code == 201, r.text
            hooks.append(r.json()["id"])
        r = api.post(
            "/v1/programs/sup/versions",
            {"label": "Fuzz", "drafted_on": "2019-05-28", "valid_from": "2019-01-01"}
            | {"replaces": SUP_2013},
        )
        assert r.status_code == 201, r.text
        out = r.json()["id"]
        r = api.post(f"/v1/versions/{out}/send-out", {"respond_by": respond_by()})
        assert r.status_code == 200, r.text
        r = api.post(f"/v1/versions/{out}/decisions", decision("botkyrka"), as_="botkyrka")
        assert r.status_code == 201, r.text
        r = api.get(f"/v1/webhooks/{hooks[0]}/deliveries", as_="admin")
        assert r.status_code == 200, r.text
        delivery = r.json()["items"][0]["id"]
    common = {"program_id": "sup", "version_id": out, "webhook_id": hooks[0]}
    return Target(
        app=app,
        ids={
            "*": common,
            # The drafted SUP 2035 is sent out and withdrawn; `out` stays out for decision.
            "POST /v1/versions/{version_id}/send-out": common | {"version_id": SUP_2035},
            "POST /v1/versions/{version_id}/withdraw": common | {"version_id": SUP_2035},
            # The other webhook is the one deleted, so the rest still find theirs.
            "DELETE /v1/webhooks/{webhook_id}": common | {"webhook_id": hooks[1]},
            "POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": common
            | {"delivery_id": delivery},
        },
    )


def path_parameters(target: Target, operation: Operation) -> dict[str, Any]:
    """The real ids for `operation`'s path parameters (the others are generated)."""
    known = target.ids.get(operation.label, target.ids["*"])
    return {p.name: known[p.name] for p in operation.path_parameters if p.name in known}


def fuzz(
    operation: Operation, mode: GenerationMode, ids: dict[str, Any], token: str, board: str
) -> None:
    """Run `operation` with generated data; raise on the first check that fails.

    In positive mode each request gets a fresh Idempotency-Key (a generated
    one is often reused, and replays stop at the key) and a decision names
    `board`, one the token may act for, so valid bodies reach the workflow.
    """
    headers = {"Authorization": f"Bearer {token}"}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=ids or None)
    keys = itertools.count()

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @hypothesis.given(case=strategy)
    def run(case: AnyCase) -> None:
        if mode is GenerationMode.POSITIVE:
            for name in list(case.headers or {}):
                if name.lower() == "idempotency-key":
                    case.headers[name] = f"fuzz-{operation.label}-{next(keys)}"
            if operation.path.endswith("/decisions") and isinstance(case.body, dict):
                case.body["board_id"] = board
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.parametrize(("role", "board"), [("admin", "haninge"), ("tyreso", "tyreso")])
def test_no_server_error_and_every_error_a_problem_document(
    target: Target, tokens: dict[str, str], role: str, board: str
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", target.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        operations += 1
        ids = path_parameters(target, operation)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, ids, tokens[role], board)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to break
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)


def test_the_checks_fail_a_server_error_an_error_that_is_no_problem_document_and_drift() -> None:
    app = FastAPI()
    problem = {"type": "t", "title": "t", "detail": "d", "code": "c"}

    @app.get("/crash/{n}")
    def crash(n: int) -> JSONResponse:
        body = {"type": "t", "title": "t", "status": 500, "detail": "d", "code": "c"}
        return JSONResponse(body, 500, media_type="application/problem+json")

    @app.get("/plain/{n}")
    def plain(n: int) -> PlainTextResponse:
        return PlainTextResponse("no such thing", 404)

    @app.get("/undocumented/{n}")
    def undocumented(n: int) -> JSONResponse:
        return JSONResponse(problem | {"status": 409}, 409, media_type="application/problem+json")

    @app.get("/untyped/{n}", responses={200: {"model": Health}})
    def untyped(n: int) -> JSONResponse:
        return JSONResponse({"status": "fine"})

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok)
        operation = result.ok()
        with pytest.raises((AssertionError, BaseExceptionGroup)) as failed:
            fuzz(operation, GenerationMode.POSITIVE, {}, "token", "board")
        found[operation.path] = str(failed.value)
    assert "Server error" in found["/crash/{n}"], found
    assert "application/problem+json" in found["/plain/{n}"], found
    assert "Undocumented status code" in found["/undocumented/{n}"], found
    assert "Response violates schema" in found["/untyped/{n}"], found
