"""People sign in to the status page at a real OpenID provider, and act as themselves.

Two provider processes serve the module (panva's oidc-provider, see
`tests/oidc_provider.py`): ratify's own (issuer A) and another one (issuer
B, whose ID tokens live one second and hold only `sub`, the rest being at
userinfo). Each test runs ratify in-process as `https://testserver`, a
TestClient as the browser's side at ratify and an httpx client as its side
at the provider. Nothing is mocked: ratify fetches discovery, keys, tokens
and userinfo from the provider over HTTP.

What touches the database beyond a sign-in's rows runs on SQLite and
PostgreSQL (`seeded`); the refusals, which must leave it as it was, on
SQLite (`sqlite_seeded`), to keep the suite short.
"""

import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.clock import utc_now
from api.settings import Settings, oidc_config
from api.ui import session as sessions
from api.ui.claims import SignInRefused
from api.ui.oidc import Provider
from db import models, seed
from db.engine import Database, open_database
from notifications.webhook_delivery import payload
from tests import databases
from tests.conftest import SUP_2035, Api, respond_by
from tests.integration.test_ui import form_csrf, grid_row, make_browser, set_cookies, text_of
from tests.oidc_provider import OidcProvider, client, oidc_provider, sign_in_over_http
from tests.people import (
    ACCOUNTS,
    ANNA,
    BASE,
    CLIENT_ID,
    GROUP_MAP,
    SECRET,
    Person,
    ratify_client,
)

OTHER_APP = "another-app"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """ratify's identity provider (issuer A), which also knows another application."""
    with oidc_provider(
        tmp_path_factory.mktemp("idp"),
        clients=[
            ratify_client(BASE),
            client(OTHER_APP, SECRET, [BASE + "/ui/login/oidc/callback"]),
        ],
        accounts=ACCOUNTS,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def other_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """Another provider (issuer B) that also has a client called `ratify`; its ID tokens
    live 1 s and carry `sub` only (the other claims are at userinfo)."""
    with oidc_provider(
        tmp_path_factory.mktemp("other-idp"),
        clients=[ratify_client(BASE)],
        accounts=ACCOUNTS,
        id_token_ttl=1,
        claims_in_id_token=False,
    ) as running:
        yield running


def settings(provider: OidcProvider, **extra: Any) -> Settings:
    """ratify's settings for signing people in at `provider`."""
    return Settings(
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SECRET,
        **extra,
    )


@pytest.fixture
def sqlite_seeded(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A seeded SQLite database (for tests whose point is not the database)."""
    db = open_database(databases.fresh_sqlite(sqlite_template, tmp_path))
    seed.seed(db, utc_now())
    yield db
    db.dispose()


@pytest.fixture
def people(request: pytest.FixtureRequest, idp: OidcProvider) -> Iterator[Callable[..., Person]]:
    """Make browsers of ratify apps on the test's database (settings and clock as asked)."""
    which = "sqlite_seeded" if "sqlite_seeded" in request.fixturenames else "seeded"
    db: Database = request.getfixturevalue(which)
    made: list[tuple[TestClient, Person]] = []

    def make(config: Settings | None = None, clock: Callable[[], datetime] = utc_now) -> Person:
        app = create_app(db, config or settings(idp), clock)
        browser = TestClient(app, base_url=BASE, raise_server_exceptions=False)
        browser.__enter__()
        person = Person(browser)
        made.append((browser, person))
        return person

    yield make
    for browser, person in made:
        person.at_idp.close()
        browser.__exit__(None, None, None)


def counts(db: Database) -> tuple[int, int, int]:
    """Events, decisions and sessions stored: what a refused sign-in must leave as it was."""
    with db.reads() as session:
        return (
            session.scalar(select(func.count()).select_from(models.Event)) or 0,
            session.scalar(select(func.count()).select_from(models.Decision)) or 0,
            session.scalar(select(func.count()).select_from(models.UiSession)) or 0,
        )


def assert_refused(person: Person, answer: Any, status: int, words: str) -> None:
    """A readable page saying why, no session, and the status page still closed."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert words in text_of(answer.text), text_of(answer.text)
    assert "Till inloggningen" in text_of(answer.text)
    assert sessions.SESSION_COOKIE not in set_cookies(answer)
    assert person.ratify.get("/ui/programs", follow_redirects=False).status_code == 303


def post_form(person: Person, path: str, fields: dict[str, str]) -> Any:
    """Fill in and send a form of the status page as shown (its CSRF and idempotency key)."""
    form = person.ratify.get(path)
    assert form.status_code == 200, form.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
    assert key is not None
    data = {"csrf": form_csrf(form.text), "idempotency_key": key.group(1), **fields}
    return person.ratify.post(path, data=data, follow_redirects=False)


TYRESO_DECISION = {
    "board_id": "tyreso",
    "outcome": "approved",
    "decided_on": "2019-06-10",
    "paragraph": "§ 60",
    "case_number": "2019/KS 0260 005",
}


# --- the person as the actor ---------------------------------------------------------


def test_a_tyreso_registrar_signs_in_records_the_decision_and_the_trail_names_her(
    seeded: Database, api: Api, people: Callable[..., Person]
) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    anna = people()
    login = anna.ratify.get("/ui/login")
    assert 'href="/ui/login/oidc?next=/ui/programs"' in login.text
    authorize = anna.start()
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert {"state", "nonce", "code_challenge"} <= set(query)
    assert query["redirect_uri"] == BASE + "/ui/login/oidc/callback"

    arrived = anna.back(anna.at_provider(authorize, "anna"))
    assert arrived.status_code == 200, arrived.text
    assert '<meta http-equiv="refresh" content="0;url=/ui/programs/sup">' in arrived.text
    cookie = set_cookies(arrived)[sessions.SESSION_COOKIE][sessions.SESSION_COOKIE]
    assert cookie["samesite"].lower() == "strict"
    assert cookie["secure"]
    page = anna.ratify.get("/ui/programs/sup")
    assert "Inloggad som Anna Andersson (kommun)" in text_of(page.text)
    assert f'href="/ui/versions/{SUP_2035}/decisions"' in page.text

    done = post_form(anna, f"/ui/versions/{SUP_2035}/decisions", TYRESO_DECISION)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/ui/programs/sup?done=decisions"
    page = anna.ratify.get(done.headers["location"])
    assert "Beslutet är registrerat." in text_of(page.text)
    assert grid_row(page.text, "tyreso").startswith(
        "Tyresö kommun Kommunstyrelsen ✓ Godkänd 2019-06-10 § 60 2019/KS 0260 005"
    )

    events = api.get("/v1/audit", as_="auditor", params={"type": "decision.recorded"}).json()
    (event,) = events["items"]
    person = {k: ANNA[k] for k in ("name", "email")} | {"subject": ANNA["sub"]}
    assert event["actor"] == {"role": "board", "board_id": "tyreso", **person}
    assert event["data"]["paragraph"] == "§ 60"
    statuses = {b["board_id"]: b for b in api.get(f"/v1/versions/{SUP_2035}").json()["boards"]}
    assert statuses["tyreso"]["recorded_by"] == "Anna Andersson"
    assert statuses["tyreso"]["recorded_by_subject"] == ANNA["sub"]
    register = api.get(f"/v1/versions/{SUP_2035}/register", as_="auditor").json()["items"]
    assert register[-1]["recorded_by_email"] == ANNA["email"]
    with seeded.reads() as session:
        row = session.scalars(select(models.Event).where(models.Event.seq == event["seq"])).one()
    hook = httpx.Response(200, content=payload(row)).json()
    assert hook["data"]["actor"] == event["actor"]
    assert api.get("/v1/audit/verify", as_="auditor").json()["ok"] is True
    trail = anna.ratify.get(f"/ui/versions/{SUP_2035}/audit")
    assert trail.status_code == 403  # a registrar does not read the trail: the auditor does


def test_two_people_of_one_name_keep_their_own_idempotency_keys(
    seeded: Database, api: Api, people: Callable[..., Person]
) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    referral = {**TYRESO_DECISION, "outcome": "referred_back"}
    for login in ("anna", "anna2"):
        person = people()
        assert person.sign_in(login).status_code == 200
        form = person.ratify.get(f"/ui/versions/{SUP_2035}/decisions")
        data = {"csrf": form_csrf(form.text), "idempotency_key": "the-same-key", **referral}
        path = f"/ui/versions/{SUP_2035}/decisions"
        assert person.ratify.post(path, data=data, follow_redirects=False).status_code == 303
        # The same form sent twice (a double click) records it once.
        assert person.ratify.post(path, data=data, follow_redirects=False).status_code == 303
    with seeded.reads() as session:
        rows = session.scalars(
            select(models.Decision)
            .where(models.Decision.version_id == SUP_2035)
            .order_by(models.Decision.recorded_at)
        ).all()
    assert [(d.recorded_by, d.recorded_by_subject) for d in rows] == [
        ("Anna Andersson", ANNA["sub"]),
        ("Anna Andersson", ACCOUNTS["anna2"]["sub"]),
    ]


def test_roles_from_groups_from_an_entra_roles_list_and_from_userinfo(
    sqlite_seeded: Database,
    people: Callable[..., Person],
    idp: OidcProvider,
    other_idp: OidcProvider,
) -> None:
    gustav = people(settings(idp, oidc_group_map=GROUP_MAP))
    assert gustav.sign_in("gustav").status_code == 200
    assert "Gustav Grupp (kommun)" in text_of(gustav.ratify.get("/ui/programs").text)
    refused = people(settings(idp, oidc_group_map=GROUP_MAP))
    assert_refused(refused, refused.sign_in("anna"), 403, "ingen roll i ratify")

    erik = people(settings(idp, oidc_role_claim="roles"))
    assert erik.sign_in("erik").status_code == 200
    page = erik.ratify.get("/ui/programs/sup")
    assert "Erik Entra (sekretariat)" in text_of(page.text)
    assert 'id="new-version"' in page.text

    anna = people(settings(other_idp))  # the ID token holds `sub` only
    assert anna.sign_in("anna").status_code == 200
    assert "Anna Andersson (kommun)" in text_of(anna.ratify.get("/ui/programs").text)


def test_people_without_one_usable_role_are_refused(
    sqlite_seeded: Database, people: Callable[..., Person]
) -> None:
    before = counts(sqlite_seeded)
    for login, words in (
        ("nils", "Ditt konto har ingen roll i ratify"),
        ("tove", "mer än en roll"),
        ("ulla", "en kommun som ratify inte känner till (stockholm)"),
    ):
        person = people()
        assert_refused(person, person.sign_in(login), 403, words)
    assert counts(sqlite_seeded) == before


def test_without_a_provider_the_login_page_offers_keys_only(sqlite_seeded: Database) -> None:
    with make_browser(sqlite_seeded) as browser:
        page = browser.get("/ui/login")
        assert "oidc-login" not in page.text
        assert 'id="token"' in page.text
        for path in ("/ui/login/oidc", "/ui/login/oidc/callback?code=x&state=y"):
            answer = browser.get(path, follow_redirects=False)
            assert answer.status_code == 404
            assert "Inloggning via organisationen är inte inställd här." in text_of(answer.text)


# --- what is refused ---------------------------------------------------------------


def test_a_replayed_state_is_refused(seeded: Database, people: Callable[..., Person]) -> None:
    anna = people()
    authorize = anna.start()
    callback = anna.at_provider(authorize, "anna")
    bound = anna.ratify.cookies.get(sessions.OIDC_COOKIE)
    assert anna.back(callback).status_code == 200
    before = counts(seeded)
    # Someone who copied the answer and the browser's cookie tries it again.
    thief = people()
    assert_refused(thief, thief.back(callback, f"{sessions.OIDC_COOKIE}={bound}"), 400, "redan")
    # Without the cookie: the answer is not for this browser at all.
    stranger = people()
    assert_refused(stranger, stranger.back(callback), 400, "började inte i den här webbläsaren")
    assert counts(seeded) == before


def test_what_comes_back_malformed_is_a_readable_page(
    sqlite_seeded: Database, people: Callable[..., Person]
) -> None:
    before = counts(sqlite_seeded)
    for query in (
        "code=&state={state}",
        "state={state}",
        "code=x&state={state}",
        "error=access_denied&error_description=Nej%20tack&state={state}",
        "code=x&state={state}&iss=%C2%B2",
    ):
        person = people()
        state = parse_qs(urlsplit(person.start()).query)["state"][0]
        answer = person.back(f"{BASE}/ui/login/oidc/callback?{query.format(state=state)}")
        assert answer.status_code == 400, (query, answer.text)
        assert "Inloggningen nekades" in text_of(answer.text)
    for query in ("", "state=", "state=%00%C2%B2", "code=x"):
        answer = people().back(f"{BASE}/ui/login/oidc/callback?{query}")
        assert answer.status_code == 400, (query, answer.text)
    assert counts(sqlite_seeded) == before


def _with_nonce(authorize: str, nonce: str) -> str:
    parts = urlsplit(authorize)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"nonce": nonce}
    return parts._replace(query=urlencode(query)).geturl()


def test_a_mismatched_or_replayed_nonce_is_refused(
    sqlite_seeded: Database, people: Callable[..., Person]
) -> None:
    first = people()
    authorize = first.start()
    used = parse_qs(urlsplit(authorize).query)["nonce"][0]
    assert first.back(first.at_provider(authorize, "anna")).status_code == 200
    before = counts(sqlite_seeded)
    for nonce in ("not-the-one-ratify-sent", used):
        person = people()
        # The request as ratify made it, but for another nonce (PKCE and state untouched).
        callback = person.at_provider(_with_nonce(person.start(), nonce), "anna")
        answer = person.back(callback)
        assert_refused(person, answer, 400, "intyg om vem du är kunde inte godtas")
        assert "invalid_claim: nonce" in text_of(answer.text)
    assert counts(sqlite_seeded) == before


def _from_other(person: Person, other: OidcProvider) -> str:
    """ratify's authorization request sent to the other provider instead (state, nonce, PKCE)."""
    parts = urlsplit(person.start())
    return person.at_provider(f"{other.issuer}/auth?{parts.query}", "anna")


def test_an_answer_or_token_from_another_issuer_is_refused(
    sqlite_seeded: Database,
    people: Callable[..., Person],
    idp: OidcProvider,
    other_idp: OidcProvider,
) -> None:
    before = counts(sqlite_seeded)
    person = people()
    callback = _from_other(person, other_idp)
    assert parse_qs(urlsplit(callback).query)["iss"] == [other_idp.issuer]
    answer = person.back(callback)
    assert_refused(person, answer, 400, "en annan inloggningstjänst")
    # Without its `iss`, the other provider's code is still not ratify's provider's.
    person = people()
    stripped = re.sub(r"&iss=[^&]*", "", _from_other(person, other_idp))
    answer = person.back(stripped)
    assert answer.status_code == 400
    assert "en annan inloggningstjänst" in text_of(answer.text)  # ours always names itself
    assert counts(sqlite_seeded) == before
    # And an ID token the other provider signed is refused by ratify's own checks.
    token, nonce = _real_id_token(other_idp, CLIENT_ID)
    refused = _validation_refused(idp, token, nonce)
    assert refused.reason == "oidc_invalid_token"


def test_a_code_for_another_client_and_a_token_for_another_audience_are_refused(
    sqlite_seeded: Database, people: Callable[..., Person], idp: OidcProvider
) -> None:
    before = counts(sqlite_seeded)
    person = people()
    parts = urlsplit(person.start())
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"client_id": OTHER_APP}
    callback = person.at_provider(f"{idp.issuer}/auth?{urlencode(query)}", "anna")
    answer = person.back(callback)
    assert_refused(person, answer, 400, "godtog inte inloggningen")
    assert "invalid_grant" in text_of(answer.text)
    assert counts(sqlite_seeded) == before
    token, nonce = _real_id_token(idp, OTHER_APP)
    refused = _validation_refused(idp, token, nonce)
    assert (refused.reason, refused.detail) == ("oidc_invalid_token", "invalid_claim: aud")


def test_an_expired_id_token_is_refused(
    sqlite_seeded: Database, people: Callable[..., Person], other_idp: OidcProvider
) -> None:
    # The other provider's tokens live one second; ratify's clock reads ten seconds on.
    late = people(settings(other_idp), lambda: datetime.now(UTC) + timedelta(seconds=10))
    before = counts(sqlite_seeded)
    answer = late.sign_in("anna")
    assert_refused(late, answer, 400, "intyg om vem du är kunde inte godtas")
    assert "expired_token" in text_of(answer.text)
    assert counts(sqlite_seeded) == before
    on_time = people(settings(other_idp))
    assert on_time.sign_in("anna").status_code == 200


def _real_id_token(provider: OidcProvider, client_id: str) -> tuple[str, str]:
    """An ID token the provider issues to `client_id` for Anna (Authlib's code flow)."""
    metadata = httpx.get(provider.discovery_url, trust_env=False).json()
    nonce, verifier = generate_token(20), generate_token(48)
    with OAuth2Client(
        client_id,
        SECRET,
        scope="openid profile email",
        redirect_uri=BASE + "/ui/login/oidc/callback",
        code_challenge_method="S256",
        trust_env=False,
    ) as oauth:
        url, state = oauth.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        with httpx.Client(trust_env=False) as browser:
            callback = sign_in_over_http(browser, url, "anna").headers["location"]
        token = oauth.fetch_token(
            metadata["token_endpoint"],
            authorization_response=callback,
            state=state,
            code_verifier=verifier,
        )
    return str(token["id_token"]), nonce


def _validation_refused(provider: OidcProvider, token: str, nonce: str) -> SignInRefused:
    config = oidc_config(settings(provider))
    assert config is not None
    with pytest.raises(SignInRefused) as refused:
        Provider(config).validate(token, None, nonce, utc_now())
    return refused.value


# --- signing out --------------------------------------------------------------------


def test_sign_out_ends_the_session_everywhere_and_at_the_provider(
    seeded: Database, people: Callable[..., Person], idp: OidcProvider
) -> None:
    anna = people()
    assert anna.sign_in("anna").status_code == 200
    cookie = anna.ratify.cookies[sessions.SESSION_COOKIE]
    session_cookie = f"{sessions.SESSION_COOKIE}={cookie}"
    elsewhere = people()  # another process of the service
    assert elsewhere.get("/ui/programs", session_cookie).status_code == 200

    page = anna.ratify.get("/ui/programs")
    bye = anna.ratify.post(
        "/ui/logout", data={"csrf": form_csrf(page.text)}, follow_redirects=False
    )
    assert bye.status_code == 200  # a page that moves on to the provider by itself
    assert sessions.SESSION_COOKIE in set_cookies(bye)  # told to forget it
    moving_on = re.search(r'<a id="continue" href="([^"]+)"', bye.text)
    assert moving_on is not None
    target = html.unescape(moving_on.group(1))
    assert f'<meta http-equiv="refresh" content="0;url={moving_on.group(1)}">' in bye.text
    end = urlsplit(target)
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{idp.issuer}/session/end"
    assert parse_qs(end.query) == {
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": [BASE + "/ui/login?bye=1"],
    }
    assert elsewhere.get("/ui/programs", session_cookie).status_code == 303
    assert anna.get("/ui/programs", session_cookie).status_code == 303
    assert people().get("/ui/programs", session_cookie).status_code == 303
