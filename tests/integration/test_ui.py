"""The status page over HTTP (no browser): sessions, roles, escaping, errors, words.

Runs on SQLite and PostgreSQL like every integration test. The client talks
https to the test app, since the UI's cookies are `Secure`.
"""

import hashlib
import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.clock import utc_now
from api.ui import session as sessions
from db import keys, models
from db.engine import Database
from tests.conftest import SUP_2013, SUP_2035, Api, decision, respond_by, revoke_key

CSS = Path(__file__).parents[2] / "api" / "ui" / "static" / "ratify.css"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_browser(db: Database, clock: Callable[[], datetime] = utc_now) -> TestClient:
    """A client of a fresh app, over https so `Secure` cookies come back."""
    return TestClient(
        create_app(db, clock=clock), base_url="https://testserver", raise_server_exceptions=False
    )


@pytest.fixture
def browser(seeded: Database) -> Iterator[TestClient]:
    with make_browser(seeded) as client:
        yield client


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def login(client: TestClient, token: str, next_: str = "/ui/programs/sup") -> Any:
    """Fill in the login form as a person would; the answer is not followed."""
    form = client.get("/ui/login")
    assert form.status_code == 200, form.text
    return client.post(
        "/ui/login",
        data={"token": token, "csrf": form_csrf(form.text), "next": next_},
        follow_redirects=False,
    )


def programs_page(client: TestClient, session_cookie: str) -> Any:
    """GET /ui/programs with exactly this session cookie (not the client's own)."""
    return client.get(
        "/ui/programs",
        headers={"cookie": f"{sessions.SESSION_COOKIE}={session_cookie}"},
        follow_redirects=False,
    )


def set_cookies(response: Any) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


def text_of(page: str) -> str:
    """Roughly what a person reads: the page without tags, entities decoded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def grid_row(page: str, board_id: str) -> str:
    found = re.search(rf'<tr data-board="{board_id}".*?</tr>', page, flags=re.S)
    assert found, f"no row for {board_id}"
    return text_of(found.group(0))


# --- signing in and out ------------------------------------------------------


def test_login_sets_a_secure_httponly_cookie_that_is_not_the_token_and_logout_ends_it(
    browser: TestClient, seeded: Database, tokens: dict[str, str]
) -> None:
    token = tokens["secretariat"]
    r = login(browser, token)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/programs/sup"
    morsel = set_cookies(r)[sessions.SESSION_COOKIE][sessions.SESSION_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/ui"
    assert token not in morsel.value
    assert token.removeprefix(keys.PREFIX) not in morsel.value
    assert keys.hash_token(token) not in morsel.value

    page = browser.get("/ui/programs/sup")
    assert page.status_code == 200
    assert "Inloggad som secretariat (sekretariat)" in text_of(page.text)

    refused = browser.post("/ui/logout", data={"csrf": "nope"}, follow_redirects=False)
    assert refused.status_code == 400
    assert browser.get("/ui/programs", follow_redirects=False).status_code == 200
    cookie = browser.cookies[sessions.SESSION_COOKIE]
    with make_browser(seeded) as other:  # another process of the service
        assert programs_page(other, cookie).status_code == 200
        r = browser.post("/ui/logout", data={"csrf": form_csrf(page.text)}, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/login?bye=1"
        assert browser.get("/ui/programs", follow_redirects=False).status_code == 303
        # The old cookie, kept by someone, is dead everywhere (issue 13, item 7).
        assert programs_page(browser, cookie).status_code == 303
        assert programs_page(other, cookie).status_code == 303


def test_without_a_valid_session_every_page_sends_the_browser_to_the_login_form(
    browser: TestClient, tokens: dict[str, str]
) -> None:
    for path in ("/ui/programs", "/ui/programs/sup", f"/ui/versions/{SUP_2035}/audit?lang=en"):
        r = browser.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/ui/login?next=/ui/"), r.headers["location"]

    bad = login(browser, "rat_not-a-token")  # the form again, with an error
    assert bad.status_code == 400
    assert "Nyckeln är okänd eller återkallad." in bad.text
    assert '<label for="token">' in bad.text
    assert sessions.SESSION_COOKIE not in set_cookies(bad)
    assert login(browser, "").status_code == 400

    browser.get("/ui/login")
    r = browser.post(
        "/ui/login", data={"token": tokens["secretariat"], "csrf": "forged"}, follow_redirects=False
    )
    assert r.status_code == 400
    assert "Formuläret hade gått ut" in r.text
    assert sessions.SESSION_COOKIE not in set_cookies(r)
    assert browser.post("/ui/login", content=b"\xff\xfe", follow_redirects=False).status_code == 400

    value = login(browser, tokens["auditor"]).cookies[sessions.SESSION_COOKIE]
    version, token = value.split(".")
    browser.cookies.clear()
    assert programs_page(browser, value).status_code == 200  # the genuine one
    flipped = ("B" if token[0] == "A" else "A") + token[1:]
    for forged in (
        f"{version}.{flipped}",  # another token
        f"{version}.{token[:-1]}",
        f"v1.{token}",
        "v1.1.99999999999.x.forged",
        f"v2.{token}.{token}",
    ):
        assert programs_page(browser, forged).status_code == 303, forged


def test_reading_the_database_is_not_enough_to_forge_a_session(
    seeded: Database, tokens: dict[str, str], session_secret_file: Path
) -> None:
    with make_browser(seeded) as browser:
        cookie = login(browser, tokens["auditor"]).cookies[sessions.SESSION_COOKIE]
        token = cookie.split(".")[1]
        # What someone with a copy of the database knows: the session's row.
        with seeded.reads() as session:
            (row,) = session.scalars(select(models.UiSession)).all()
            stored = row.token_hash
        assert token not in stored
        assert cookie not in stored
        secret = sessions.server_secret(None, session_secret_file)
        assert stored == sessions.token_hash(secret, token)
        assert stored != hashlib.sha256(token.encode()).hexdigest()
        browser.cookies.clear()
        for guess in (stored, stored[:43], hashlib.sha256(stored.encode()).hexdigest()[:43]):
            assert programs_page(browser, f"v2.{guess}").status_code == 303, guess
        assert programs_page(browser, cookie).status_code == 200

        # Someone who could write a row but lacks the server's secret cannot plant one.
        planted = "P" * 43
        with seeded.writes() as session:
            session.add(
                models.UiSession(
                    token_hash=hashlib.sha256(planted.encode()).hexdigest(),
                    subject="intruder",
                    name="Intruder",
                    role="admin",
                    created_at=utc_now(),
                    expires_at=utc_now() + timedelta(hours=1),
                )
            )
            session.commit()
        assert programs_page(browser, f"v2.{planted}").status_code == 303


def test_the_session_secret_is_made_once_kept_private_and_shared_by_every_process(
    seeded: Database, tokens: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "var" / "session-secret"
    first = sessions.server_secret(None, path)
    assert len(first) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert sessions.server_secret(None, path) == first
    assert sessions.server_secret("from the environment", path) == b"from the environment"
    assert list(path.parent.iterdir()) == [path]  # no draft left behind
    # Two processes of one service (two apps here): a session from one is good in the other.
    with make_browser(seeded) as one, make_browser(seeded) as other:
        cookie = login(one, tokens["auditor"]).cookies[sessions.SESSION_COOKIE]
        assert programs_page(other, cookie).status_code == 200


def test_after_login_the_browser_goes_where_it_was_going_and_never_off_site(
    browser: TestClient, tokens: dict[str, str]
) -> None:
    r = browser.get(f"/ui/versions/{SUP_2035}/audit", follow_redirects=False)
    follow = browser.get(r.headers["location"])
    assert f'name="next" value="/ui/versions/{SUP_2035}/audit"' in follow.text
    for target in ("https://evil.example/", "//evil.example/ui/", "/ui/../v1", "/v1/boards"):
        r = login(browser, tokens["secretariat"], next_=target)
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/programs", target
        browser.cookies.clear()


def test_a_session_ends_at_once_when_its_key_is_revoked_and_after_eight_hours(
    seeded: Database, tokens: dict[str, str]
) -> None:
    clock = Clock(datetime.now(UTC))
    with make_browser(seeded, clock) as client:
        assert login(client, tokens["huddinge"]).status_code == 303
        assert client.get("/ui/programs/sup").status_code == 200
        revoke_key(seeded, "huddinge-system")
        r = client.get("/ui/programs/sup", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/login?next=/ui/programs/sup"
        assert login(client, tokens["huddinge"]).status_code == 400

        assert login(client, tokens["auditor"]).status_code == 303
        clock.now += timedelta(hours=7, minutes=59)
        assert client.get("/ui/programs", follow_redirects=False).status_code == 200
        clock.now += timedelta(minutes=2)
        assert client.get("/ui/programs", follow_redirects=False).status_code == 303


# --- roles -------------------------------------------------------------------


def test_the_events_page_takes_the_audit_roles_and_the_check_the_verify_roles(
    seeded: Database, tokens: dict[str, str]
) -> None:
    path = f"/ui/versions/{SUP_2035}/audit"
    seen = {}
    for who in ("admin", "secretariat", "auditor", "tyreso"):
        with make_browser(seeded) as client:
            login(client, tokens[who])
            assert client.get("/ui/programs/sup").status_code == 200, who
            seen[who] = client.get(path)
    board = seen["tyreso"]
    assert board.status_code == 403
    assert board.headers["content-type"].startswith("text/html")
    assert "Ingen behörighet" in board.text
    assert "version.drafted" not in board.text
    for who in ("admin", "secretariat", "auditor"):
        assert seen[who].status_code == 200, who
        assert "Version upprättad" in text_of(seen[who].text), who
    assert "Obruten:" in text_of(seen["auditor"].text)
    assert "Obruten:" in text_of(seen["admin"].text)
    assert "Obruten:" not in text_of(seen["secretariat"].text)
    assert "visas för granskare" in text_of(seen["secretariat"].text)

    with make_browser(seeded) as client:
        login(client, tokens["tyreso"])
        program_page = client.get("/ui/programs/sup").text
    assert "/audit" not in program_page  # no link to a page the board may not see


# --- what the pages show -----------------------------------------------------


def test_text_from_users_is_escaped_and_unknown_ids_get_a_404_page(
    api: Api, browser: TestClient, tokens: dict[str, str]
) -> None:
    title = "<script>alert('title')</script>"
    owner = '"><img src=x onerror=alert(1)>'
    r = api.post(
        "/v1/programs",
        {"id": "xss", "title": title, "owner": owner, "boards": ["tyreso"]},
    )
    assert r.status_code == 201, r.text
    r = api.post(
        "/v1/programs/xss/versions",
        {"label": "<b>v1</b>", "drafted_on": "2019-05-28", "valid_from": "2019-01-01"},
    )
    assert r.status_code == 201, r.text
    login(browser, tokens["admin"])
    for path in ("/ui/programs", "/ui/programs/xss", f"/ui/versions/{r.json()['id']}/audit"):
        page = browser.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "<b>v1</b>" not in page.text
    shown = browser.get("/ui/programs/xss")
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in shown.text
    assert title in text_of(shown.text)
    assert "<script" not in shown.text.lower()
    assert "default-src 'none'" in shown.headers["content-security-policy"]

    for path in ("/ui/programs/nope", "/ui/versions/nope/audit", "/ui/programs/%3Cb%3E"):
        r = browser.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "Hittades inte" in r.text
    assert "&lt;b&gt;" in browser.get("/ui/programs/%3Cb%3E").text


def test_the_grid_follows_the_story_in_swedish_and_english(
    api: Api, browser: TestClient, tokens: dict[str, str]
) -> None:
    login(browser, tokens["secretariat"])
    page = browser.get("/ui/programs/sup").text
    assert "SUP 2013 ✓ Gällande gällande sedan 2013-04-29" in text_of(page)
    (mermaid,) = re.findall(r'<pre class="mermaid">(.*?)</pre>', page, flags=re.S)
    assert html.unescape(mermaid) == api.get("/v1/workflow/diagram").text
    transitions = re.search(r'<table class="transitions stack".*?</table>', page, flags=re.S)
    assert transitions
    assert "○ Utkast (aktuellt tillstånd) skicka ut → Utskickad –" in text_of(transitions.group(0))
    assert "alla kommuner har godkänt, föregångaren gäller" in text_of(transitions.group(0))
    assert "Senaste versionen: SUP 2035 ○ Utkast" in text_of(page)
    assert grid_row(page, "tyreso") == "Tyresö kommun Kommunstyrelsen ○ Ej beslutat – – – – – –"

    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision("botkyrka", decided_on="2019-06-03", paragraph="§ 101", case_number="KS/2019:88"),
        as_="botkyrka",
    )
    assert r.status_code == 201, r.text
    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision("haninge", outcome="referred_back", decided_on="2019-06-04"),
        as_="haninge",
    )
    assert r.status_code == 201, r.text
    page = browser.get("/ui/programs/sup").text
    assert "Ute för beslut: SUP 2035" in text_of(page)
    assert "1 av 8 har godkänt" in text_of(page)
    assert grid_row(page, "botkyrka") == (
        "Botkyrka kommun Kommunstyrelsen ✓ Godkänd 2019-06-03 § 101 KS/2019:88 Besvarad – –"
    )
    assert "Återremitterad" in grid_row(page, "haninge")
    assert "30 dagar kvar" in grid_row(page, "haninge")
    assert grid_row(page, "tyreso").startswith("Tyresö kommun Kommunstyrelsen ○ Ej beslutat")
    assert "30 dagar kvar" in grid_row(page, "tyreso")

    english = browser.get("/ui/programs/sup?lang=en")
    assert '<html lang="en">' in english.text
    assert "Referred back" in grid_row(english.text, "haninge")
    assert "30 days left" in grid_row(english.text, "tyreso")
    lang_cookie = set_cookies(english)[sessions.LANG_COOKIE][sessions.LANG_COOKIE]
    assert lang_cookie.value == "en"
    assert "Not decided" in grid_row(browser.get("/ui/programs/sup").text, "tyreso")
    assert "Ej beslutat" in grid_row(browser.get("/ui/programs/sup?lang=sv").text, "tyreso")

    for board_id in ("haninge", "huddinge", "nykvarn", "nynashamn", "salem", "sodertalje"):
        r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision(board_id), as_=board_id)
        assert r.status_code == 201, r.text
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("tyreso"), as_="tyreso")
    assert r.json()["version_state"] == "in_force", r.text
    page = browser.get("/ui/programs/sup").text
    assert "SUP 2035 ✓ Gällande gällande sedan 2019-06-10" in text_of(page)
    assert "Senaste versionen: SUP 2035" in text_of(page)
    assert "8 av 8 har godkänt" in text_of(page)
    versions = re.search(r'<table class="versions.*?</table>', page, flags=re.S)
    assert versions
    assert "Ersatt" in text_of(versions.group(0))
    assert f'data-version="{SUP_2013}"' in versions.group(0)


def test_days_left_count_in_stockholm_time(seeded: Database, tokens: dict[str, str]) -> None:
    # 23:30 UTC on 1 March is already 2 March in Stockholm.
    clock = Clock(datetime(2031, 3, 1, 23, 30, tzinfo=UTC))
    with make_browser(seeded, clock) as client:
        bearer = {"Authorization": f"Bearer {tokens['secretariat']}"}
        r = client.post(
            f"/v1/versions/{SUP_2035}/send-out", json={"respond_by": "2031-03-12"}, headers=bearer
        )
        assert r.status_code == 200, r.text
        login(client, tokens["secretariat"])
        assert "10 dagar kvar" in grid_row(client.get("/ui/programs/sup").text, "salem")
        clock.now = datetime(2031, 3, 12, 22, 59, tzinfo=UTC)  # 23:59 on 12 March in Stockholm
        login(client, tokens["secretariat"])  # the session of 1 March has ended
        assert "Sista dagen i dag" in grid_row(client.get("/ui/programs/sup").text, "salem")
        clock.now = datetime(2031, 3, 14, 12, 0, tzinfo=UTC)
        login(client, tokens["secretariat"])
        assert "2 dagar försenad" in grid_row(client.get("/ui/programs/sup").text, "salem")


def test_the_events_page_lists_newest_first_and_pages(
    api: Api, browser: TestClient, tokens: dict[str, str]
) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision("tyreso", paragraph="§ 60", case_number="2019/KS 0260 005"),
        as_="tyreso",
    )
    assert r.status_code == 201
    login(browser, tokens["auditor"])
    page = browser.get(f"/ui/versions/{SUP_2035}/audit").text
    types = re.findall(r'data-type="([^"]+)"', page)
    assert types == ["decision.recorded", "version.sent_out", "version.drafted"]
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', page)]
    assert seqs == sorted(seqs, reverse=True)
    shown = text_of(page)
    assert "Beslut registrerat – Tyresö kommun" in shown
    assert "Utförd av: tyreso-system (kommun)" in shown
    assert "Diarienummer 2019/KS 0260 005" in shown
    assert "Obruten:" in shown

    older = browser.get(f"/ui/versions/{SUP_2035}/audit?before={seqs[0]}&lang=xx")
    assert older.status_code == 200
    assert re.findall(r'data-type="([^"]+)"', older.text) == ["version.sent_out", "version.drafted"]
    assert "Till de nyaste" in older.text
    assert browser.get(f"/ui/versions/{SUP_2035}/audit?before=x").status_code == 200


def test_status_colours_meet_wcag_aa() -> None:
    css = CSS.read_text(encoding="utf-8")
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def contrast(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    pairs = [(f"{t}-fg", f"{t}-bg") for t in ("good", "bad", "wait", "info", "open", "gone")]
    pairs += [("text", "page"), ("muted", "page"), ("muted", "panel"), ("link", "page")]
    pairs += [("muted", "open-bg"), ("link", "panel")]
    for fg, bg in pairs:
        assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg)


def test_the_grid_and_the_events_page_show_the_life_after_the_meeting(
    api: Api, browser: TestClient, tokens: dict[str, str]
) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    dates = {"minutes_attested_on": "2019-06-11", "announced_on": "2019-06-12"}
    salem = api.post(
        f"/v1/versions/{SUP_2035}/decisions", decision("salem", **dates), as_="salem"
    ).json()
    haninge = api.post(
        f"/v1/versions/{SUP_2035}/decisions", decision("haninge", **dates), as_="haninge"
    ).json()
    appeal = api.post(
        f"/v1/decisions/{salem['id']}/appeals",
        {"lodged_on": "2019-06-20", "court": "Förvaltningsrätten i Stockholm", "case_number": "9"},
    ).json()
    api.post(
        f"/v1/decisions/{salem['id']}/corrections",
        {"changes": {"paragraph": "§ 61"}, "reason": "fel paragraf"},
    )
    ruled = api.post(
        f"/v1/decisions/{haninge['id']}/appeals",
        {"lodged_on": "2019-06-21", "court": "Förvaltningsrätten i Stockholm", "case_number": "10"},
    ).json()
    api.post(f"/v1/appeals/{ruled['id']}/ruling", {"outcome": "annulled", "ruled_on": "2019-09-02"})

    login(browser, tokens["secretariat"])
    page = browser.get("/ui/programs/sup").text
    assert grid_row(page, "salem") == (
        "Salems kommun Kommunstyrelsen ✓ Godkänd (överklagat) (rättat) 2019-06-10 § 61 "
        "2019/KS 0260 005-salem Besvarad 2019-07-03 –"
    )
    assert "Upphävt – beslutar igen" in grid_row(page, "haninge")
    events = text_of(browser.get(f"/ui/versions/{SUP_2035}/audit").text)
    assert "Förvaltningsrätten i Stockholm 9, överklagat 2019-06-20: väntar på dom" in events
    assert "Paragraf § 60 → § 61 (skäl: fel paragraf)" in events
    assert "Upphävt 2019-09-02" in events
    assert "Beslutet upphävt" in events
    assert appeal["late"] is False
