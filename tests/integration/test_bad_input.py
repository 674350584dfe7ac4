"""Bad input over HTTP: a problem document with the contract's status and `code`.

Never a 500, and nothing written: the tests that send bad input use the
`unchanged` fixture, which compares row counts, SUP 2013, SUP 2035 and its
decisions before and after.
"""

import base64
import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from httpx2 import Response
from starlette.types import ASGIApp, Message

from api import limits
from db.engine import Database
from tests.conftest import SUP_2013, SUP_2035, Api, decision, respond_by
from tests.integration.test_rules import assert_problem, get_decisions, get_version, row_counts

BOGUS = "00000000-0000-4000-8000-00000000dead"
TEN_MB = 10 * 1024 * 1024

VERSION_BODY: dict[str, Any] = {
    "label": "SUP 2050",
    "drafted_on": "2019-05-28",
    "valid_from": "2020-01-01",
    "valid_until": "2030-12-31",
    "replaces": None,
    "document": {"title": "SUP 2050", "url": "https://example.org/sup.pdf", "sha256": "a" * 64},
}


def writes() -> list[tuple[str, str, dict[str, Any]]]:
    """Every write route of the foundation: path, caller, and a valid body."""
    return [
        (
            "/v1/boards",
            "admin",
            {
                "id": "nacka",
                "municipality": "Nacka kommun",
                "name": "Kommunstyrelsen",
                "municipality_code": "0182",
                "email": "ks@nacka.example",
            },
        ),
        (
            "/v1/programs",
            "secretariat",
            {"id": "newprog", "title": "Nytt", "owner": "Samråd", "boards": ["tyreso"]},
        ),
        ("/v1/programs/sup/versions", "secretariat", VERSION_BODY),
        (f"/v1/versions/{SUP_2035}/send-out", "secretariat", {"respond_by": respond_by()}),
        (f"/v1/versions/{SUP_2035}/withdraw", "secretariat", {"reason": "fel underlag"}),
        (f"/v1/versions/{SUP_2035}/decisions", "tyreso", decision("tyreso")),
    ]


def send(api: Api, method: str, path: str, as_: str | None = "admin", **kw: Any) -> Response:
    headers = dict(kw.pop("headers", None) or {})
    if as_ is not None:
        headers["Authorization"] = f"Bearer {api.tokens[as_]}"
    r: Response = api.client.request(method, path, headers=headers, **kw)
    return r


def assert_any_problem(r: Response, statuses: set[int]) -> None:
    """A problem document, never a 500, with one of `statuses`."""
    assert r.status_code in statuses, (r.request.method, r.request.url, r.status_code, r.text)
    assert_problem(r, r.status_code, r.json()["code"])


def state(api: Api, db: Database) -> Any:
    """Everything a refused write could have changed."""
    return (
        row_counts(db),
        [get_version(api, v) for v in (SUP_2013, SUP_2035)],
        get_decisions(api, SUP_2035),
    )


@pytest.fixture
def unchanged(api: Api, seeded: Database) -> Iterator[None]:
    """The test may send anything: afterwards, nothing has been written."""
    before = state(api, seeded)
    yield
    assert state(api, seeded) == before


def with_field(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**body, **fields}


def check_malformed_json_is_400(api: Api) -> None:
    bodies = [
        b"{",
        b'{"respond_by": "2030-01-01",}',
        b"{'respond_by': '2030-01-01'}",
        b"\xff\xfe{}",
        b'{"respond_by": "2030-01-01"} trailing',
        b"[" * 50_000 + b"]" * 50_000,  # deeper than any parser recursion
    ]
    for path, as_, _valid in writes():
        for content in bodies:
            r = api.post(
                path, as_=as_, content=content, headers={"Content-Type": "application/json"}
            )
            assert_problem(r, 400, "malformed_body")


def check_no_garbage_is_ever_a_500(api: Api) -> None:
    """Odd content types and bodies on every write: refused with a problem, never a 500."""
    garbage: list[tuple[bytes, str | None]] = [
        (b"", "application/json"),
        (b"null", "application/json"),
        (b'{"a": ' * 2000 + b"1" + b"}" * 2000, "application/json"),
        (b'{"reason": ' + b"[" * 900 + b"]" * 900 + b"}", "application/json"),  # parses
        (b'{"respond_by": 1e999}', "application/json"),
        (b'{"respond_by": "2030-01-01"}', "text/plain"),
        (b"respond_by=2030-01-01", "application/x-www-form-urlencoded"),
        (b"\x00\x01\x02", "application/octet-stream"),
        (b"[]", None),
    ]
    for path, as_, _valid in writes():
        for content, content_type in garbage:
            headers = {"Content-Type": content_type} if content_type else {}
            r = api.post(path, as_=as_, content=content, headers=headers)
            assert_any_problem(r, {400, 413, 415, 422})


@pytest.mark.usefixtures("unchanged")
def test_malformed_bodies_are_400_and_no_garbage_is_a_500(api: Api) -> None:
    check_malformed_json_is_400(api)
    check_no_garbage_is_ever_a_500(api)


def check_wrong_types_are_422(api: Api) -> None:
    board, program, version, send_out, withdraw, decide = writes()
    cases: list[tuple[str, str, Any]] = [
        (board[0], "admin", with_field(board[2], municipality_code=138)),
        (board[0], "admin", with_field(board[2], id=5)),
        (program[0], "secretariat", with_field(program[2], boards="tyreso")),
        (program[0], "secretariat", with_field(program[2], boards=[1])),
        (program[0], "secretariat", with_field(program[2], title=["Nytt"])),
        (version[0], "secretariat", with_field(version[2], label=2050)),
        (version[0], "secretariat", with_field(version[2], document="https://example.org")),
        (version[0], "secretariat", with_field(version[2], valid_until=True)),
        (version[0], "secretariat", with_field(version[2], replaces=5)),
        (send_out[0], "secretariat", {"respond_by": None}),
        (send_out[0], "secretariat", {"respond_by": [respond_by()]}),
        (send_out[0], "secretariat", {"respond_by": {"date": respond_by()}}),
        (withdraw[0], "secretariat", {"reason": 5}),
        (withdraw[0], "secretariat", {"reason": "   "}),
        (decide[0], "tyreso", with_field(decide[2], outcome="yes")),
        (decide[0], "tyreso", with_field(decide[2], outcome=1)),
        (decide[0], "tyreso", with_field(decide[2], paragraph=60)),
        (decide[0], "tyreso", with_field(decide[2], decided_on=None)),
        (decide[0], "tyreso", with_field(decide[2], note=5)),
        (decide[0], "tyreso", with_field(decide[2], document_sha256="ABC")),
    ]
    not_objects: list[Any] = [[], "x", 1, None, {}]
    for path, as_, _valid in writes():
        cases += [(path, as_, body) for body in not_objects]
    for path, as_, body in cases:
        r = api.post(path, body, as_=as_)
        problem = assert_problem(r, 422, "validation_error")
        assert problem["errors"], problem


def check_unknown_fields_are_422(api: Api) -> None:
    for path, as_, valid in writes():
        r = api.post(path, with_field(valid, unexpected=1), as_=as_)
        problem = assert_problem(r, 422, "validation_error")
        assert any(e["loc"][-1] == "unexpected" for e in problem["errors"]), problem
    document = {**VERSION_BODY["document"], "pages": 12}
    r = api.post("/v1/programs/sup/versions", with_field(VERSION_BODY, document=document))
    assert_problem(r, 422, "validation_error")
    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        with_field(decision("tyreso"), version_id=SUP_2035),
        as_="tyreso",
    )
    assert_problem(r, 422, "validation_error")


def check_dates_are_real_iso_calendar_dates(api: Api) -> None:
    not_dates: list[Any] = [
        "2019-02-30",
        "2019-13-01",
        "2019-6-1",
        "10/06/2019",
        "",
        "2019-06-10T00:00:00",
        "1560124800",
        0,
        20190610,
    ]
    send_out_path = f"/v1/versions/{SUP_2035}/send-out"
    decide_path = f"/v1/versions/{SUP_2035}/decisions"
    for value in not_dates:
        r = api.post(send_out_path, {"respond_by": value})
        assert_problem(r, 422, "validation_error")
        r = api.post(decide_path, decision("tyreso", decided_on=value), as_="tyreso")
        assert_problem(r, 422, "validation_error")
    for field in ("drafted_on", "valid_from", "valid_until"):
        r = api.post("/v1/programs/sup/versions", with_field(VERSION_BODY, **{field: "2019-02-30"}))
        assert_problem(r, 422, "validation_error")
    for field in ("minutes_attested_on", "announced_on"):
        r = api.post(decide_path, decision("tyreso", **{field: "2019-02-29"}), as_="tyreso")
        assert_problem(r, 422, "validation_error")
    # A real date, but valid_until before valid_from.
    r = api.post("/v1/programs/sup/versions", with_field(VERSION_BODY, valid_until="2019-12-31"))
    assert_problem(r, 422, "validation_error")
    assert_problem(api.get("/v1/programs/sup/in-force?on=2019-02-30"), 422, "validation_error")
    assert_problem(api.get("/v1/programs/sup/in-force?on=soon"), 422, "validation_error")
    # 2020 is a leap year: the same shape of value is accepted when the date exists.
    assert api.get("/v1/programs/sup/in-force?on=2020-02-29").json()["id"] == SUP_2013


def check_text_the_database_cannot_store_is_422(api: Api) -> None:
    board, program, _version, _send_out, withdraw, decide = writes()
    cases = [
        (board[0], "admin", with_field(board[2], municipality="M" * 201)),
        (board[0], "admin", with_field(board[2], name="N" * 201)),
        (program[0], "secretariat", with_field(program[2], title="Nytt\x00program")),
        (withdraw[0], "secretariat", {"reason": "fel\x00underlag"}),
        (decide[0], "tyreso", with_field(decide[2], note="rad\x00två")),
        (decide[0], "tyreso", with_field(decide[2], case_number="2019/KS\x00")),
    ]
    for path, as_, body in cases:
        assert_problem(api.post(path, body, as_=as_), 422, "validation_error")
    # NUL in an id: PostgreSQL cannot even compare it. Refused, never a 500.
    for r in (
        api.get("/v1/versions/bad%00id"),
        api.get("/v1/programs/bad%00id/versions"),
        api.post("/v1/versions/bad%00id/withdraw", {"reason": "x"}),
        api.post("/v1/programs/bad%00id/versions", VERSION_BODY),
    ):
        assert_any_problem(r, {404, 422})
    # A cursor naming a NUL key is well formed (SQLite pages on); PostgreSQL refuses it.
    nul_cursor = base64.urlsafe_b64encode(json.dumps(["a\x00"]).encode()).decode()
    r = api.get(f"/v1/boards?cursor={nul_cursor}")
    if r.status_code != 200:
        assert_problem(r, 422, "validation_error")


@pytest.mark.usefixtures("unchanged")
def test_invalid_fields_are_422(api: Api) -> None:
    check_wrong_types_are_422(api)
    check_unknown_fields_are_422(api)
    check_dates_are_real_iso_calendar_dates(api)
    check_text_the_database_cannot_store_is_422(api)


def check_a_10_mb_body_is_413(api: Api) -> None:
    path = f"/v1/versions/{SUP_2035}/send-out"
    big = b'{"respond_by": "' + b"2" * TEN_MB + b'"}'
    r = api.post(path, content=big, headers={"Content-Type": "application/json"})
    assert r.request.headers["content-length"] == str(len(big))
    assert_problem(r, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"respond_by": "'
        for _ in range(TEN_MB // 65536):
            yield b"2" * 65536
        yield b'"}'

    r = api.post(path, content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert_problem(r, 413, "payload_too_large")
    r = api.post("/v1/nothing/here", content=big, headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")
    r = api.post(path, content=big, as_=None)  # before authentication
    assert_problem(r, 413, "payload_too_large")


def check_a_streamed_body_stops_being_read_at_the_limit(api: Api) -> None:
    """Driven over ASGI, chunk by chunk: the body is refused without reading it all."""
    app: ASGIApp = api.client.app
    total = TEN_MB // 65536
    received = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        received += 1
        if received > total:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b" " * 65536, "more_body": received < total}

    async def send_message(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/v1/versions/{SUP_2035}/send-out",
        "raw_path": f"/v1/versions/{SUP_2035}/send-out".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {api.tokens['secretariat']}".encode()),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def run() -> None:
        await app(scope, receive, send_message)

    anyio.run(run)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert (b"content-type", b"application/problem+json") in start["headers"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["code"] == "payload_too_large"
    assert received <= 1_048_576 // 65536 + 1  # stopped at the default 1 MiB limit


def check_a_small_streamed_body_is_accepted(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"respond_by": '
        yield json.dumps(respond_by()).encode() + b"}"

    r = api.post(
        f"/v1/versions/{SUP_2035}/send-out",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "sent_out"


def test_bodies_over_the_limit_are_413(api: Api, seeded: Database) -> None:
    before = state(api, seeded)
    check_a_10_mb_body_is_413(api)
    check_a_streamed_body_stops_being_read_at_the_limit(api)
    assert state(api, seeded) == before
    check_a_small_streamed_body_is_accepted(api)


def fill(template: str, value: str) -> str:
    """The path with every `{parameter}` replaced by `value`."""
    while "{" in template:
        start, end = template.index("{"), template.index("}")
        template = template[:start] + value + template[end + 1 :]
    return template


@pytest.mark.usefixtures("unchanged")
def test_unknown_ids_and_routes_are_404_and_wrong_methods_405(api: Api) -> None:
    check_unknown_routes_and_wrong_methods_are_problem_documents(api)
    check_unknown_ids_are_404_on_every_route(api)


def check_unknown_ids_are_404_on_every_route(api: Api) -> None:
    version_body = with_field(VERSION_BODY, label="Ingen")
    explicit: list[tuple[str, str, str, Any]] = [
        ("GET", "/v1/programs/{program_id}", "secretariat", None),
        ("GET", "/v1/programs/{program_id}/versions", "secretariat", None),
        ("GET", "/v1/programs/{program_id}/in-force", "auditor", None),
        ("POST", "/v1/programs/{program_id}/versions", "secretariat", version_body),
        ("GET", "/v1/versions/{version_id}", "tyreso", None),
        ("POST", "/v1/versions/{version_id}/send-out", "secretariat", {"respond_by": respond_by()}),
        ("POST", "/v1/versions/{version_id}/withdraw", "secretariat", {"reason": "x"}),
        ("POST", "/v1/versions/{version_id}/decisions", "tyreso", decision("tyreso")),
        ("GET", "/v1/versions/{version_id}/decisions", "secretariat", None),
        ("PATCH", "/v1/programs/{program_id}", "secretariat", {"public": True}),
        ("GET", "/v1/versions/{version_id}/certificate", "tyreso", None),
        ("GET", "/v1/programs/{program_id}/deadlines.ics", "tyreso", None),
    ]
    for method, template, as_, body in explicit:
        for bogus in ("nope", BOGUS):
            r = send(api, method, fill(template, bogus), as_=as_, json=body)
            assert_problem(r, 404, "not_found")
    r = api.get("/v1/programs/nope/in-force?on=2019-01-01")
    assert_problem(r, 404, "not_found")

    # Every other route of the schema that takes an id (reminders, webhooks, …), as admin.
    app = api.client.app
    assert isinstance(app, FastAPI)
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    routes = {(method.upper(), template) for template, ops in paths.items() for method in ops}
    covered = {(method, template) for method, template, _as, _body in explicit}
    assert covered <= routes
    for method, template in sorted(routes - covered):
        if "{" not in template:
            continue
        with_body = method in {"POST", "PATCH"}
        r = send(api, method, fill(template, BOGUS), json={} if with_body else None)
        if with_body:  # its body is not known here: refused one way or the other
            assert_any_problem(r, {404, 422})
        else:
            assert_problem(r, 404, "not_found")


def check_unknown_routes_and_wrong_methods_are_problem_documents(api: Api) -> None:
    for method, path in (("GET", "/nothing"), ("GET", "/v1/nothing"), ("POST", "/v1/nothing")):
        assert_problem(send(api, method, path), 404, "not_found")
    for method, path in (
        ("DELETE", f"/v1/versions/{SUP_2035}"),
        ("PUT", "/v1/programs/sup"),
        ("PATCH", "/v1/boards"),
        ("POST", f"/v1/versions/{SUP_2035}"),
        ("GET", f"/v1/versions/{SUP_2035}/send-out"),
    ):
        r = send(api, method, path)
        assert_problem(r, 405, "method_not_allowed")
        assert r.headers["allow"]
    assert api.get(f"/v1/versions/{SUP_2035}").json()["state"] == "drafted"


@pytest.mark.usefixtures("unchanged")
def test_bad_limits_and_cursors_are_422(api: Api) -> None:
    lists = [
        "/v1/boards",
        "/v1/programs",
        "/v1/programs/sup/versions",
        f"/v1/versions/{SUP_2035}/decisions",
    ]

    def cursor(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    cursors = [
        "!!!",
        "not a cursor",
        "_w",  # one byte, 0xff: not UTF-8
        cursor({"id": "x"}),
        cursor([1, 2, 3]),
        cursor("tyreso"),
        "x" * 501,
    ]
    for path in lists:
        for limit in ("0", "1001", "-1", "ten", "1.5", ""):
            assert_problem(api.get(f"{path}?limit={limit}"), 422, "validation_error")
        for bogus in cursors:
            assert_problem(api.get(path, params={"cursor": bogus}), 422, "validation_error")
        assert api.get(f"{path}?limit=1000").status_code == 200
    assert_problem(api.get("/v1/boards", params={"cursor": cursor([1])}), 422, "validation_error")


def test_paging_by_cursor_returns_every_item_once_in_order(api: Api) -> None:
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    recorded = []
    for board_id in ("tyreso", "botkyrka", "salem"):
        r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision(board_id), as_=board_id)
        assert r.status_code == 201, r.text
        recorded.append(r.json()["id"])

    def walk(path: str) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        for _ in range(10):
            r = api.get(path, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            ids += [item["id"] for item in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return ids
        raise AssertionError("paging did not end")

    assert walk("/v1/boards")[:2] == ["botkyrka", "haninge"]
    assert walk(f"/v1/versions/{SUP_2035}/decisions") == recorded
    assert walk("/v1/programs/sup/versions") == [SUP_2013, SUP_2035]


def test_query_dates_are_calendar_dates_only(api: Api) -> None:
    for value in ("0", "1560124800", "2019-06-10T00:00:00", "2019-02-30", "igår"):
        r = api.get("/v1/programs/sup/in-force", params={"on": value})
        assert r.status_code == 422, value
        assert r.json()["code"] == "validation_error"
    assert api.get("/v1/programs/sup/in-force", params={"on": "2015-01-01"}).status_code == 200


@pytest.mark.parametrize(
    ("http_version", "headers", "bodiless"),
    [
        ("1.1", [], True),
        ("1.0", [(b"accept", b"*/*")], True),
        ("1.1", [(b"content-length", b"0")], False),
        ("1.1", [(b"transfer-encoding", b"chunked")], False),
        ("2", [], False),  # an HTTP/2 body needs neither header: always checked
    ],
)
def test_only_a_request_that_can_carry_no_body_skips_the_body_limits(
    http_version: str, headers: list[tuple[bytes, bytes]], bodiless: bool
) -> None:
    scope = {"type": "http", "http_version": http_version, "headers": headers}
    assert limits._bodiless(scope) is bodiless
