"""Property tests: whatever a client sends in a cookie, a header, a query string, a form
or a single-line field, ratify answers 4xx (or the page), never 500 (issue 13, item 6).

Each test generates input with hypothesis around one place the schema fuzzing
(`test_schema_fuzz.py`) cannot reach by chance: the status page's cookies and
forms (not in the OpenAPI schema), cursors (opaque base64), integer path
parameters beyond 64 bits, and text that is accepted and used much later (a
label or a board's name in an e-mail header at send-out). Header and cookie
bytes go through the ASGI interface as uvicorn hands them over
(`tests/raw_asgi.py`), obs-text bytes (0x80-0xFF) included.
"""

import base64
import itertools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import hypothesis
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from db.engine import Database
from tests.conftest import SUP_2013, Api, respond_by
from tests.integration.test_ui import login, make_browser
from tests.integration.test_webhook_cap import hooks_api
from tests.raw_asgi import RawResponse, raw_request

EXAMPLES = 50

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

HEADER_BYTES = st.binary(max_size=120).map(
    # What HTTP/1.1 parsers let through in a header value: no CR, LF or NUL.
    lambda raw: bytes(b for b in raw if b not in b"\r\n\x00")
)
DIGITISH = st.text(
    # ASCII digits, and digits of other scripts: '²' (isdigit(), which int() refuses),
    # '٣' and '५' (which int() reads), then any decimal digit or other number.
    alphabet=st.one_of(st.sampled_from("0123456789²³¹٣۵५"), st.characters(categories=["Nd", "No"])),
    min_size=1,
    max_size=45,
)
SHORT_DIGITISH = st.text(alphabet=st.sampled_from("0123456789²³¹٣۵५"), min_size=1, max_size=6)
"""Digit-like text as short as an id or a Unix time."""
BIG = st.integers(min_value=2**63 - 2, max_value=10**40)
"""Around and past the largest 64-bit integer."""
ENCODED = st.sampled_from(["latin-1", "latin-1", "utf-8"])
"""How a client encodes a header: bytes as they are (latin-1, as servers read them), or UTF-8."""


def encode(text: str, codec: str) -> bytes:
    return text.encode(codec, errors="ignore") if codec == "latin-1" else text.encode()


@st.composite
def session_cookies(draw: st.DrawFn) -> bytes:
    """`ratify_session` values shaped like ours (v1.<id>.<expiry>.<nonce>.<sig>), or not."""
    codec = draw(ENCODED)
    part = st.text(st.characters(exclude_characters="."), max_size=40)
    shaped = ".".join(
        [
            draw(st.sampled_from(["v1", "v1", "v1", "v2", "", "v¹"])),
            draw(st.one_of(SHORT_DIGITISH, DIGITISH)),
            draw(SHORT_DIGITISH),
            draw(part),
            draw(part),
        ]
    )
    return encode(shaped, codec) if draw(st.integers(0, 3)) else draw(HEADER_BYTES)


def is_page(r: RawResponse) -> bool:
    return r.status in (200, 303, 400, 403, 404) and (
        r.status == 303 or r.headers.get("content-type", "").startswith("text/html")
    )


def is_problem(r: RawResponse, statuses: set[int]) -> bool:
    return r.status in statuses and r.headers["content-type"].startswith("application/problem+json")


def signed_in_cookie(seeded: Database, token: str) -> str:
    """A valid `ratify_session` value for `token`, made by signing in."""
    with make_browser(seeded) as browser:
        r = login(browser, token)
        assert r.status_code == 303, r.text
        value = browser.cookies.get("ratify_session")
        assert value
        return value


# --- the status page: cookies, query strings, forms ---------------------------------


def test_any_cookie_header_gets_a_page_or_the_login_form(api: Api) -> None:
    @settings
    @given(session=session_cookies(), lang=HEADER_BYTES, csrf=HEADER_BYTES, raw=HEADER_BYTES)
    @example(session=b"v1.\xb2.1.x.y", lang=b"", csrf=b"", raw=b"")  # the issue's
    def run(session: bytes, lang: bytes, csrf: bytes, raw: bytes) -> None:
        for cookie in (
            b"ratify_session=" + session,
            b"ratify_session=" + session + b"; ratify_lang=" + lang + b"; ratify_csrf=" + csrf,
            raw,
        ):
            for path in ("/ui/programs", "/ui/login"):
                r = raw_request(api.client.app, "GET", path, headers=[(b"cookie", cookie)])
                assert is_page(r), (path, cookie, r)

    run()


def test_the_login_form_answers_any_post_with_a_page(api: Api) -> None:
    fields = st.dictionaries(
        st.sampled_from(["token", "csrf", "next", "lang", "x"]), st.text(max_size=80)
    )

    @settings
    @given(
        form=fields,
        raw=st.binary(max_size=200),
        cookie=HEADER_BYTES,
        content_type=st.sampled_from(
            [
                b"application/x-www-form-urlencoded",
                b"application/x-www-form-urlencoded; x=\xb2",
                b"multipart/form-data",
                b"text/plain",
                b"\xb2",
            ]
        ),
        query=HEADER_BYTES,
    )
    def run(
        form: dict[str, str], raw: bytes, cookie: bytes, content_type: bytes, query: bytes
    ) -> None:
        if "csrf" in form:  # half the time, the double-submit cookie matches the form
            cookie = b"ratify_csrf=" + quote(form["csrf"]).encode()
        for body in (urlencode(form).encode(), raw):
            r = raw_request(
                api.client.app,
                "POST",
                "/ui/login",
                query=query,
                headers=[(b"content-type", content_type), (b"cookie", cookie)],
                body=body,
            )
            assert is_page(r), (form, body, r)

    run()


def test_logout_answers_any_csrf_with_a_page(api: Api, seeded: Database) -> None:
    session = signed_in_cookie(seeded, api.tokens["auditor"]).encode()

    @settings
    @given(csrf=st.text(max_size=100), raw=st.binary(max_size=100))
    def run(csrf: str, raw: bytes) -> None:
        for body in (urlencode({"csrf": csrf}).encode(), b"csrf=" + raw, raw):
            r = raw_request(
                api.client.app,
                "POST",
                "/ui/logout",
                headers=[
                    (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"cookie", b"ratify_session=" + session),
                ],
                body=body,
            )
            assert r.status in (303, 400), (body, r)

    run()


def test_the_audit_page_answers_any_before(api: Api, seeded: Database) -> None:
    session = signed_in_cookie(seeded, api.tokens["auditor"]).encode()

    @settings
    @given(before=st.one_of(st.text(max_size=40), DIGITISH), raw=HEADER_BYTES)
    def run(before: str, raw: bytes) -> None:
        for query in (urlencode({"before": before}).encode(), b"before=" + raw):
            r = raw_request(
                api.client.app,
                "GET",
                f"/ui/versions/{SUP_2013}/audit",
                query=query,
                headers=[(b"cookie", b"ratify_session=" + session)],
            )
            assert r.status == 200, (query, r)

    run()


# --- the API: headers, cursors, integers --------------------------------------------


def test_any_authorization_idempotency_key_or_if_match_is_a_problem_at_worst(api: Api) -> None:
    token = f"Bearer {api.tokens['secretariat']}".encode()

    @settings
    @given(authorization=HEADER_BYTES, key=HEADER_BYTES, if_match=HEADER_BYTES)
    def run(authorization: bytes, key: bytes, if_match: bytes) -> None:
        r = raw_request(
            api.client.app, "GET", "/v1/boards", headers=[(b"authorization", authorization)]
        )
        assert r.status == 200 or is_problem(r, {401}), (authorization, r)
        r = raw_request(
            api.client.app,
            "POST",
            f"/v1/versions/{SUP_2013}/withdraw",
            headers=[
                (b"authorization", token),
                (b"content-type", b"application/json"),
                (b"idempotency-key", key),
                (b"if-match", if_match),
            ],
            body=b'{"reason": "fuzz"}',
        )
        assert is_problem(r, {409, 412, 422}), (key, if_match, r)

    run()


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture
def hooks(seeded: Database, tokens: dict[str, str]) -> Iterator[Api]:
    """The API with loopback webhook targets allowed."""
    yield from hooks_api(seeded, tokens)


def test_any_cursor_is_a_page_or_a_422(hooks: Api) -> None:
    r = hooks.post("/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, as_="admin")
    assert r.status_code == 201, r.text
    paths = [
        "/v1/audit",
        "/v1/programs",
        f"/v1/webhooks/{r.json()['id']}/deliveries",
        f"/v1/versions/{SUP_2013}/decisions",
    ]

    @settings
    @given(
        content=st.one_of(
            st.integers().map(str),
            BIG.map(str),
            BIG.map(lambda n: json.dumps([n])),
            DIGITISH,
            JSON.map(json.dumps),
            st.text(max_size=40),
        ),
        raw=st.text(max_size=60),
    )
    def run(content: str, raw: str) -> None:
        for path in paths:
            for cursor in (cursor_of(content), raw):
                got = hooks.get(path, as_="admin", params={"cursor": cursor})
                assert got.status_code in (200, 422), (path, cursor, got.text)

    run()


def test_any_integer_in_a_path_is_a_404_or_a_422(hooks: Api) -> None:
    r = hooks.post("/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, as_="admin")
    assert r.status_code == 201, r.text
    hook = r.json()["id"]

    @settings
    @given(n=st.one_of(st.integers(), BIG, DIGITISH))
    def run(n: int | str) -> None:
        r = hooks.post(f"/v1/webhooks/{hook}/deliveries/{n}/redeliver", as_="admin")
        assert r.status_code in (404, 422), (n, r.text)

    run()


# --- text that is used later: the e-mail at send-out ---------------------------------


def test_text_that_is_accepted_can_always_be_sent_out(api: Api) -> None:
    """A label, title, board name or municipality the API accepts never breaks send-out."""
    ids = itertools.count()
    text = st.text(min_size=1, max_size=40)

    @settings
    @given(label=text, title=text, name=text, municipality=text)
    def run(label: str, title: str, name: str, municipality: str) -> None:
        n = next(ids)
        board = {
            "id": f"fuzz-board-{n}",
            "municipality": municipality,
            "name": name,
            "municipality_code": "0999",
            "email": f"ks{n}@fuzz.example",
        }
        program = {"id": f"fuzz-{n}", "title": title, "owner": "Fuzz", "boards": [board["id"]]}
        version = {"label": label, "drafted_on": "2019-05-28", "valid_from": "2019-01-01"}
        steps: list[tuple[str, dict[str, Any], str, int]] = [
            ("/v1/boards", board, "admin", 201),
            ("/v1/programs", program, "secretariat", 201),
            (f"/v1/programs/fuzz-{n}/versions", version, "secretariat", 201),
        ]
        for path, body, as_, created in steps:
            r = api.post(path, body, as_=as_)
            if r.status_code == 422:
                return  # refused where it enters: fine
            assert r.status_code == created, (path, body, r.text)
        r = api.post(f"/v1/versions/{r.json()['id']}/send-out", {"respond_by": respond_by()})
        assert r.status_code == 200, (board, program, version, r.text)

    run()
