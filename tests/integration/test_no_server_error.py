"""The eight inputs that answered 500 (issue 13, item 6), each now a 4xx or the login form.

A session cookie with a non-ASCII digit, the audit page's `before=%C2%B2`, a
non-ASCII CSRF value on logout, an audit cursor holding a 40-digit number, a
redeliver id of 23 digits (OverflowError on SQLite), and a version label or
program title with CR/LF or U+2028 (accepted, then every send-out failed
composing the e-mail). Raw header bytes go through the ASGI interface
itself, as uvicorn hands them over (a test client would re-encode them).
"""

import base64
import email
import json
from typing import Any

import pytest
from sqlalchemy import select, update

from db import models
from db.engine import Database
from tests.conftest import SUP_2035, Api, decision, respond_by
from tests.integration.test_bad_input import unchanged  # noqa: F401  (a fixture)
from tests.integration.test_rules import assert_problem
from tests.integration.test_ui import form_csrf, login, make_browser
from tests.integration.test_webhook_cap import hooks_api
from tests.raw_asgi import raw_request


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cookie",
    [
        b"ratify_session=v1.\xb2.1.x.y",  # the issue's: '\xb2' is '²' in latin-1, isdigit()
        b"ratify_session=v1.1.\xb2\xb3.x.y",
        "ratify_session=v1.١.٢.x.y".encode(),  # Arabic-Indic digits, which int() accepts
        b"ratify_session=v1." + b"9" * 40 + b".1.x.y",
    ],
)
def test_a_session_cookie_with_odd_digits_is_no_session(api: Api, cookie: bytes) -> None:
    r = raw_request(api.client.app, "GET", "/ui/programs", headers=[(b"cookie", cookie)])
    assert r.status == 303, r
    assert r.headers["location"].startswith("/ui/login")


@pytest.mark.parametrize("before", ["%C2%B2", "%D9%A1", "9" * 40, "-1", "1e3"])
def test_the_audit_page_ignores_a_before_it_cannot_use(
    seeded: Database, tokens: Any, before: str
) -> None:
    with make_browser(seeded) as browser:
        assert login(browser, tokens["auditor"]).status_code == 303
        r = browser.get(f"/ui/versions/{SUP_2035}/audit?before={before}")
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("csrf", ["²", "å", "\u2028", "x" * 5000])
def test_logout_with_a_non_ascii_csrf_value_is_refused_with_a_page(
    seeded: Database, tokens: Any, csrf: str
) -> None:
    with make_browser(seeded) as browser:
        assert login(browser, tokens["auditor"]).status_code == 303
        r = browser.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("text/html")
        page = browser.get("/ui/programs")  # still signed in, and the right token works
        r = browser.post("/ui/logout", data={"csrf": form_csrf(page.text)}, follow_redirects=False)
        assert r.status_code == 303


@pytest.mark.parametrize("seq", ["1" * 40, "9223372036854775808", "١٢", " 12", "1_000", "-1"])
def test_an_audit_cursor_with_a_number_out_of_range_is_a_422(api: Api, seq: str) -> None:
    r = api.get("/v1/audit", as_="auditor", params={"cursor": cursor_of(seq)})
    assert_problem(r, 422, "validation_error")


def test_a_paging_cursor_with_a_number_out_of_range_is_a_422(
    seeded: Database, tokens: dict[str, str]
) -> None:
    for hooks in hooks_api(seeded, tokens):
        r = hooks.post(
            "/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, as_="admin"
        )
        assert r.status_code == 201, r.text
        path = f"/v1/webhooks/{r.json()['id']}/deliveries"
        for value in (10**40, -(10**40), 2**63):
            r = hooks.get(path, as_="admin", params={"cursor": cursor_of(json.dumps([value]))})
            assert_problem(r, 422, "validation_error")


@pytest.mark.parametrize("delivery", ["9" * 23, str(2**63), "0", "-5", "²"])
def test_a_redeliver_id_out_of_range_is_a_422(api: Api, delivery: str) -> None:
    r = api.post(f"/v1/webhooks/none/deliveries/{delivery}/redeliver", as_="admin")
    assert_problem(r, 422, "validation_error")


BREAKS = ["\r\n", "\n", "\r", "\u2028", "\u2029", "\u0085", "\t", "\x01", "\x7f", "\x1b[31m"]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("char", BREAKS)
def test_a_label_or_title_with_a_line_break_or_control_character_is_a_422(
    api: Api, char: str
) -> None:
    version = {"label": f"SUP{char}2040", "drafted_on": "2019-05-28", "valid_from": "2019-01-01"}
    r = api.post("/v1/programs/sup/versions", version)
    body = assert_problem(r, 422, "validation_error")
    assert "label" in body["detail"]
    program = {"id": "p2040", "title": f"Program{char}2040", "owner": "o", "boards": ["tyreso"]}
    assert_problem(api.post("/v1/programs", program), 422, "validation_error")
    board = {
        "id": "nacka",
        "municipality": f"Nacka{char}kommun",
        "name": "Kommunstyrelsen",
        "municipality_code": "0182",
        "email": "ks@nacka.example",
    }
    assert_problem(api.post("/v1/boards", board, as_="admin"), 422, "validation_error")


@pytest.mark.parametrize("char", BREAKS)
def test_a_paragraph_or_case_number_with_a_control_character_is_a_422(api: Api, char: str) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    for field in ("paragraph", "case_number"):
        bad = decision("tyreso", **{field: f"2019{char}60"})
        r = api.post(f"/v1/versions/{SUP_2035}/decisions", bad, as_="tyreso")
        body = assert_problem(r, 422, "validation_error")
        assert field in body["detail"]
    assert api.get(f"/v1/versions/{SUP_2035}/decisions").json()["items"] == []


def test_a_note_keeps_its_line_breaks_but_no_other_control_character(api: Api) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    bad = decision("tyreso", note="rad 1\x07")
    assert_problem(
        api.post(f"/v1/versions/{SUP_2035}/decisions", bad, as_="tyreso"), 422, "validation_error"
    )
    good = decision("tyreso", note="rad 1\r\nrad 2\n")
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", good, as_="tyreso")
    assert r.status_code == 201, r.text


def test_a_label_stored_with_a_line_break_before_the_fix_does_not_stop_send_out(
    api: Api, seeded: Database
) -> None:
    """Rows written before the schema refused them: the e-mail's headers stay one line."""
    with seeded.engine.begin() as connection:
        connection.execute(
            update(models.Version).where(models.Version.id == SUP_2035).values(label="SUP\r\n2035")
        )
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    with seeded.reads() as session:
        messages = list(session.scalars(select(models.OutboxMail.message)))
    assert messages
    for raw in messages:
        subject = email.message_from_string(raw)["Subject"]
        assert "SUP 2035" in str(email.header.make_header(email.header.decode_header(subject)))


@pytest.mark.parametrize("path", ["/ui/login", "/ui/programs", "/v1/boards", "/healthz"])
def test_raw_non_ascii_bytes_in_a_query_string_are_read_as_percent_encoded(
    api: Api, path: str
) -> None:
    """Found by the fuzzing: `?x=\\xb2` unencoded (as h11 passes it on) was a 500 on any page."""
    r = raw_request(api.client.app, "GET", path, query=b"lang=\xb2&limit=\xff\x01")
    assert r.status in (200, 303, 401), r


@pytest.mark.parametrize("path", ["/v1/audit", "/v1/audit/export", "/v1/audit/export?format=csv"])
@pytest.mark.parametrize("name", ["actor", "type", "program_id", "version_id", "board_id"])
def test_an_audit_filter_with_a_control_character_is_a_422_before_any_export_starts(
    api: Api, path: str, name: str
) -> None:
    """A NUL in a filter reached PostgreSQL after an export had started streaming (found by
    the fuzzer): the answer was cut off. Now the filter is refused before anything is sent."""
    joiner = "&" if "?" in path else "?"
    r = api.get(f"{path}{joiner}{name}=a%00b", as_="auditor")
    assert_problem(r, 422, "validation_error")
