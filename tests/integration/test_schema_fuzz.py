"""Schemathesis against the service's own OpenAPI schema, with tokens, on both backends.

Every operation of `/openapi.json` is fuzzed in-process (the ASGI app of
`create_app`) on a seeded database, with valid data (positive mode) and with
data that breaks the schema (negative mode), as an admin and as a board.
Path parameters name real resources (program `sup`, a version out for
decision, a webhook and one of its deliveries), so the bodies and queries
reach the workflow instead of stopping at 404. Two checks: no response is a
server error, and every 4xx/5xx response is an RFC 9457 problem document
with the contract's fields.

Two more passes (issue 13, item 6): every operation with an integer path
parameter is fuzzed again with that parameter generated rather than a real
id (a 23-digit delivery id once overflowed SQLite), and the status page,
which is not in the OpenAPI schema, is fuzzed from a schema of its own
(`UI_SCHEMA`): its cookies, query strings and forms, signed in and not. Like
every integration test they run on SQLite and on PostgreSQL. Targeted
property tests for what random generation rarely hits (cookie fields,
cursors, text used later in an e-mail) are in `test_input_properties.py`.

Webhook targets are resolved with numeric addresses only, so a generated
host name never becomes a DNS query: the test stays on this machine.
"""

import itertools
import json
import re
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

INTEGER_EXAMPLES = 100
"""Examples per mode for an operation whose integer path parameters are generated."""

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


def generated_integers(target: Target, operation: Operation) -> dict[str, Any] | None:
    """The real ids for `operation` but for its integer path parameters; None without any."""
    integers = {
        p.name
        for p in operation.path_parameters
        if (p.definition.get("schema") or {}).get("type") == "integer"
    }
    if not integers:
        return None
    return {k: v for k, v in path_parameters(target, operation).items() if k not in integers}


def fuzz(
    operation: Operation,
    mode: GenerationMode,
    ids: dict[str, Any],
    token: str,
    board: str,
    examples: int = MAX_EXAMPLES,
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
        max_examples=examples,
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


@pytest.mark.slow
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
        passes = [("real ids", path_parameters(target, operation), MAX_EXAMPLES)]
        free = generated_integers(target, operation)
        if free is not None:
            # More examples: about one unbounded integer in thirty passes 64 bits.
            passes.append(("generated integers", free, INTEGER_EXAMPLES))
        for name, ids, examples in passes:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    fuzz(operation, mode, ids, tokens[role], board, examples)
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to break
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{operation.label} ({mode.value}, {name}): {exc}")
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


# --- the status page ------------------------------------------------------------------

_COOKIES = [
    {"name": name, "in": "cookie", "required": False, "schema": {"type": "string"}}
    for name in ("ratify_session", "ratify_lang", "ratify_csrf")
]
_LANG = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"}}
_HTML = {"200": {"description": "a page"}, "303": {"description": "to another page"}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _form(*fields: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {f: {"type": "string"} for f in fields}}
    return {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}


UI_SCHEMA: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "ratify status page (for fuzzing)", "version": "1"},
    "paths": {
        "/ui/login": {
            "get": {
                "parameters": [
                    *_COOKIES,
                    _LANG,
                    {"name": "next", "in": "query", "schema": {"type": "string"}},
                    {"name": "bye", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": _HTML,
            },
            "post": {
                "parameters": [*_COOKIES, _LANG],
                "requestBody": _form("token", "csrf", "next"),
                "responses": _HTML,
            },
        },
        "/ui/logout": {
            "post": {
                "parameters": [*_COOKIES, _LANG],
                "requestBody": _form("csrf"),
                "responses": _HTML,
            }
        },
        "/ui/programs": {"get": {"parameters": [*_COOKIES, _LANG], "responses": _HTML}},
        "/ui/programs/{program_id}": {
            "get": {
                "parameters": [
                    {
                        "name": "program_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    *_COOKIES,
                    _LANG,
                ],
                "responses": _HTML,
            }
        },
        "/ui/versions/{version_id}/audit": {
            "get": {
                "parameters": [
                    {
                        "name": "version_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {"name": "before", "in": "query", "schema": {"type": "string"}},
                    *_COOKIES,
                    _LANG,
                ],
                "responses": _HTML,
            }
        },
    },
}
"""The status page's routes with what a browser (or anyone) may send them."""


def a_page(_ctx: CheckContext, response: Response, _case: AnyCase) -> bool | None:
    """The status page answers with HTML, or a redirect; never problem+json, never a 500."""
    if 300 <= response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("text/html"), (response.status_code, content_type)
    return None


def fuzz_ui(
    operation: Operation, mode: GenerationMode, ids: dict[str, Any], session: str | None
) -> None:
    """Run a status-page operation with generated cookies, queries and forms.

    With `session`, the session cookie is a valid one, so the pages behind the
    login (and the logout form's CSRF check) see the generated values.
    """
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=ids or None)

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
        if session is not None:
            case.cookies = {**(case.cookies or {}), "ratify_session": session}
        response = case.call(allow_redirects=False)
        case.validate_response(response, checks=[not_a_server_error, a_page])

    run()


@pytest.mark.slow
def test_the_status_page_answers_any_cookie_query_or_form_with_a_page(
    target: Target, tokens: dict[str, str]
) -> None:
    with TestClient(target.app, base_url="https://testserver") as browser:
        form = browser.get("/ui/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        r = browser.post(
            "/ui/login",
            data={"token": tokens["auditor"], "csrf": csrf.group(1), "next": "/ui/programs"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        session = browser.cookies.get("ratify_session")
    schema = schemathesis.openapi.from_dict(UI_SCHEMA)
    schema.app = target.app
    ids = target.ids["*"]
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        known = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
        for signed_in in (None, session):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    fuzz_ui(operation, mode, known, signed_in)
                except Unsatisfiable:
                    pass  # nothing to break in negative mode
                except (Exception, BaseExceptionGroup) as exc:
                    who = "signed in" if signed_in else "anonymous"
                    failures.append(f"{operation.label} ({mode.value}, {who}): {exc}")
    assert not failures, "\n\n".join(failures)
