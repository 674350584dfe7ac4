"""The status page's forms over HTTP: the same rules, errors and audit trail as the REST routes.

People here sign in with API keys (the OpenID Connect sign-in has its own
tests); the forms cannot tell the difference, the actor can. Runs on SQLite
and PostgreSQL.
"""

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from db import models
from db.engine import Database
from tests.conftest import SUP_2035, Api, decision, respond_by, today
from tests.integration.test_ui import form_csrf, login, make_browser, text_of
from workflow.machines import BOARD_RULES, VERSION_RULES

DECIDE = f"/ui/versions/{SUP_2035}/decisions"
SEND_OUT = f"/ui/versions/{SUP_2035}/send-out"
WITHDRAW = f"/ui/versions/{SUP_2035}/withdraw"
DRAFT = "/ui/programs/sup/versions"


@pytest.fixture
def browsers(seeded: Database, tokens: dict[str, str]) -> Iterator[dict[str, TestClient]]:
    """A signed-in browser per key: secretariat, auditor, admin, and the registrars of
    Haninge and Tyresö (their boards' keys)."""
    made = {}
    for who in ("secretariat", "auditor", "admin", "haninge", "tyreso"):
        client = make_browser(seeded)
        client.__enter__()
        assert login(client, tokens[who]).status_code == 303
        made[who] = client
    yield made
    for client in made.values():
        client.__exit__(None, None, None)


def send(client: TestClient, path: str, fields: dict[str, str], **extra: str) -> Any:
    """The form at `path` filled in with `fields` and sent as shown (CSRF, idempotency key)."""
    form = client.get(path)
    assert form.status_code == 200, form.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
    assert key is not None
    data = {"csrf": form_csrf(form.text), "idempotency_key": key.group(1), **fields, **extra}
    return client.post(path, data=data, follow_redirects=False)


def field_html(page: str, name: str) -> str:
    """The markup of one field of a form (its label, hint, error and input)."""
    found = re.search(
        rf'<div class="field[^"]*" data-field="{re.escape(name)}">.*?</div>', page, re.S
    )
    assert found, f"no field {name}"
    return found.group(0)


def assert_complaint(page: str, name: str, words: str, value: str | None = None) -> None:
    """The field says what is wrong, tied to its input for a screen reader; the value is kept."""
    html = field_html(page, name)
    error_id = f"f-{name.replace('.', '-').replace('_', '-')}-error"
    assert f'id="{error_id}"' in html, html
    assert words in text_of(html), text_of(html)
    assert 'aria-invalid="true"' in html
    described = re.search(r'aria-describedby="([^"]+)"', html)
    assert described is not None
    assert error_id in described.group(1).split()
    if value is not None:
        assert f'value="{value}"' in html or f'value="{value}" selected' in html, html
    assert 'role="alert"' in page  # the summary at the top, linked to the fields


def decisions_on(db: Database, version_id: str = SUP_2035) -> int:
    with db.reads() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(models.Decision)
                .where(models.Decision.version_id == version_id)
            )
            or 0
        )


def test_a_haninge_registrar_can_record_for_haninge_only(
    seeded: Database, api: Api, browsers: dict[str, TestClient]
) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    haninge = browsers["haninge"]
    form = haninge.get(DECIDE)
    options = re.findall(r'<option value="([^"]*)"', field_html(form.text, "board_id"))
    assert options == ["haninge"]  # the form does not offer Tyresö
    crafted = send(haninge, DECIDE, decision("tyreso", paragraph="§ 60"))
    assert crafted.status_code == 403
    assert_complaint(crafted.text, "board_id", "bara registrera beslut för din egen kommun")
    assert 'value="§ 60"' in field_html(crafted.text, "paragraph")  # nothing to type again
    assert decisions_on(seeded) == 0
    # The API refuses the same with the same check.
    refused = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("tyreso"), as_="haninge")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden_board")

    ok = send(haninge, DECIDE, decision("haninge", paragraph="§ 88"))
    assert ok.status_code == 303
    assert decisions_on(seeded) == 1
    page = haninge.get(ok.headers["location"])
    assert f'href="{DECIDE}"' not in page.text  # Haninge has decided: nothing more to offer


def test_an_auditor_sees_no_forms_and_may_not_post_one(
    seeded: Database, api: Api, browsers: dict[str, TestClient]
) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    auditor = browsers["auditor"]
    page = auditor.get("/ui/programs/sup")
    assert "<form" not in page.text.split("</header>")[1]  # only sign-out, in the header
    for path in (DECIDE, SEND_OUT, WITHDRAW, DRAFT):
        assert f'href="{path}"' not in page.text
        assert auditor.get(path).status_code == 403
        csrf = form_csrf(page.text)
        posted = auditor.post(path, data={"csrf": csrf, **decision("tyreso")})
        assert posted.status_code == 403
        assert "får inte se den här sidan" in text_of(posted.text)
    assert decisions_on(seeded) == 0
    assert "Åtgärder" not in text_of(page.text)


def test_the_secretariat_drafts_sends_out_and_withdraws_with_the_forms(
    seeded: Database, api: Api, browsers: dict[str, TestClient]
) -> None:
    kansliet = browsers["secretariat"]
    page = kansliet.get("/ui/programs/sup")
    assert f'href="{SEND_OUT}"' in page.text
    assert f'href="{WITHDRAW}"' in page.text
    assert f'href="{DECIDE}"' not in page.text  # the secretariat does not decide

    # Drafting: what is missing or malformed is said next to its field, values kept.
    draft = {"label": "", "drafted_on": "28/5 2019", "valid_from": "2023-01-01"}
    answer = send(kansliet, DRAFT, {**draft, "document.title": "SUP 2040"})
    assert answer.status_code == 422
    assert_complaint(answer.text, "label", "Fyll i fältet.")
    assert_complaint(answer.text, "drafted_on", "ÅÅÅÅ-MM-DD", "28/5 2019")
    assert_complaint(answer.text, "document.url", "Fyll i fältet.")
    assert 'value="SUP 2040"' in field_html(answer.text, "document.title")
    taken = send(kansliet, DRAFT, {**draft, "label": "SUP 2035", "drafted_on": "2022-10-01"})
    assert taken.status_code == 409
    assert_complaint(taken.text, "label", "finns redan en version med den beteckningen")
    made = send(
        kansliet,
        DRAFT,
        {
            **draft,
            "label": "SUP 2040",
            "drafted_on": "2022-10-01",
            "valid_until": "2026-12-31",
            "replaces": SUP_2035,
        },
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/ui/programs/sup?done=versions"
    versions = api.get("/v1/programs/sup/versions").json()["items"]
    sup_2040 = versions[-1]
    assert (sup_2040["label"], sup_2040["replaces"]) == ("SUP 2040", SUP_2035)

    # Sending out: an answer date in the past is refused by the command, as over REST.
    past = (today() - timedelta(days=1)).isoformat()
    late = send(kansliet, SEND_OUT, {"respond_by": past})
    assert late.status_code == 422
    assert_complaint(late.text, "respond_by", "Svarsdagen kan inte ligga före i dag.", past)
    assert send(kansliet, SEND_OUT, {"respond_by": respond_by()}).status_code == 303
    again = send(kansliet, SEND_OUT, {"respond_by": respond_by()})
    assert again.status_code == 409
    assert "Det går inte i versionens nuvarande tillstånd" in text_of(again.text)

    assert send(kansliet, WITHDRAW, {"reason": "   "}).status_code == 422
    gone = send(kansliet, WITHDRAW, {"reason": "Ersätts av SUP 2040"})
    assert gone.status_code == 303
    assert "Versionen är återkallad." in text_of(kansliet.get(gone.headers["location"]).text)

    trail = api.get("/v1/audit", as_="auditor", params={"version_id": SUP_2035}).json()["items"]
    assert [(e["type"], e["actor"]["name"]) for e in trail[-2:]] == [
        ("version.sent_out", "secretariat"),
        ("version.withdrawn", "secretariat"),
    ]
    assert trail[-1]["data"]["reason"] == "Ersätts av SUP 2040"


def test_a_decision_by_form_is_the_decision_by_rest(
    seeded: Database, api: Api, browsers: dict[str, TestClient]
) -> None:
    drafted = send(browsers["tyreso"], DECIDE, decision("tyreso"))
    assert drafted.status_code == 409  # not sent out yet
    assert "Det går inte i versionens nuvarande tillstånd" in text_of(drafted.text)
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    future = (today() + timedelta(days=2)).isoformat()
    early = send(browsers["tyreso"], DECIDE, decision("tyreso", decided_on=future))
    assert early.status_code == 422
    assert_complaint(early.text, "decided_on", "kan inte ligga i framtiden", future)
    wrong = send(browsers["tyreso"], DECIDE, decision("tyreso", document_sha256="ab" * 32))
    assert wrong.status_code == 409
    assert_complaint(wrong.text, "document_sha256", "SHA-256 skiljer sig")
    no_csrf = browsers["tyreso"].post(DECIDE, data=decision("tyreso"), follow_redirects=False)
    assert no_csrf.status_code == 400
    assert decisions_on(seeded) == 0

    by_form = send(browsers["tyreso"], DECIDE, decision("tyreso", announced_on="2019-06-13"))
    assert by_form.status_code == 303
    by_rest = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision("haninge", announced_on="2019-06-13"),
        as_="haninge",
    )
    assert by_rest.status_code == 201
    events = api.get("/v1/audit", as_="auditor", params={"type": "decision.recorded"}).json()
    form_event, rest_event = events["items"]
    assert form_event["actor"] == {"name": "tyreso-system", "role": "board", "board_id": "tyreso"}
    assert set(form_event["data"]) == set(rest_event["data"])
    assert form_event["data"]["final_on"] == rest_event["data"]["final_on"]
    assert form_event["data"]["request"]["idempotency_key"]  # the form's own key
    assert form_event["data"]["request"]["user_agent"] == "testclient"
    again = send(browsers["tyreso"], DECIDE, decision("tyreso", outcome="rejected"))
    assert again.status_code == 409
    assert_complaint(again.text, "board_id", "redan fattat ett slutligt beslut")
    assert decisions_on(seeded) == 2


def test_the_state_diagrams_are_drawn_from_the_rules_tables(
    api: Api, browsers: dict[str, TestClient]
) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    viewer = browsers["auditor"]
    page = viewer.get("/ui/programs/sup")
    img = re.search(
        r'<img class="diagram" id="version_machine-svg" src="([^"]+)"\s+alt="([^"]+)"', page.text
    )
    assert img is not None
    src, alt = img.group(1).replace("&amp;", "&"), img.group(2)
    assert src == "/ui/diagrams/version_machine.svg?lang=sv&state=sent_out"
    assert alt == (
        "Tillståndsdiagram: Programversion. Aktuellt tillstånd: Utskickad. "
        "Samma övergångar står i tabellen nedan."
    )
    svg = viewer.get(src)
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert "default-src 'none'" in svg.headers["content-security-policy"]
    text = svg.text
    assert text.lstrip().startswith("<?xml")
    assert "<script" not in text
    for state, words in (
        ("drafted", "Utkast"),
        ("sent_out", "Utskickad (nu)"),
        ("in_force", "Gällande"),
        ("superseded", "Ersatt"),
        ("rejected", "Avslagen"),
        ("withdrawn", "Återkallad"),
    ):
        assert f"<title>{state}</title>" in text
        assert words in text
    assert len(re.findall(r'class="edge"', text)) == len(VERSION_RULES["transitions"]) + 1
    assert "träda i kraft [alla kommuner har godkänt, föregångaren gäller]" in text
    board = viewer.get("/ui/diagrams/board_machine.svg?lang=en").text
    assert "(now)" not in board
    assert all(f"<title>{s.value}</title>" in board for s in BOARD_RULES["states"])
    assert viewer.get("/ui/diagrams/nope.svg").status_code == 404
    viewer.cookies.clear()
    assert viewer.get(src, follow_redirects=False).status_code == 303
