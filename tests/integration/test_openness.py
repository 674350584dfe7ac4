"""Publishing a program, its public notice page, and deadlines as calendar feeds.

On SQLite and PostgreSQL over HTTP. The page is checked for what it must show
(every municipality's § and diarienummer) and, on the whole HTML, for what it
must never show (who recorded a decision, e-mail addresses, key names,
tokens); a private program's URL answers exactly as an unknown one. The
feeds are parsed with the `icalendar` package.
"""

import re
from datetime import date, timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy import select

from api.clock import utc_now
from db import feeds, models
from db.engine import Database
from db.uow import UnitOfWork
from tests.conftest import BOARD_IDS, SUP_2035, Api, decision, respond_by, revoke_key, today
from tests.integration.test_certificates import adopt, sup_2035_story
from workflow.actors import SYSTEM
from workflow.dates import appeal_until
from workflow.events import EventType


def publish(api: Api, public: bool = True, as_: str = "secretariat") -> Any:
    return api.client.patch(
        "/v1/programs/sup",
        json={"public": public},
        headers={"Authorization": f"Bearer {api.tokens[as_]}"},
    )


def events_of(db: Database, *types: str) -> list[models.Event]:
    with db.reads() as session:
        return list(
            session.scalars(
                select(models.Event).where(models.Event.type.in_(types)).order_by(models.Event.seq)
            )
        )


# --- publishing ------------------------------------------------------------------------


def test_publishing_is_an_audited_change_of_the_program(api: Api, seeded: Database) -> None:
    assert api.get("/v1/programs/sup").json()["public"] is False
    r = publish(api)
    assert r.status_code == 200, r.text
    assert r.json()["public"] is True
    assert r.json()["boards"] == BOARD_IDS
    assert api.get("/v1/programs/sup").json()["public"] is True
    assert publish(api).status_code == 200  # already public: nothing happens
    r = publish(api, False, as_="admin")
    assert r.status_code == 200
    assert r.json()["public"] is False
    written = events_of(seeded, "program.published", "program.unpublished")
    assert [(e.type, e.actor_name, e.program_id) for e in written] == [
        ("program.published", "secretariat", "sup"),
        ("program.unpublished", "admin", "sup"),
    ]


def test_publishing_is_refused_to_others_and_for_bad_input(api: Api) -> None:
    assert publish(api, as_="tyreso").status_code == 403
    assert publish(api, as_="auditor").status_code == 403
    headers = {"Authorization": f"Bearer {api.tokens['secretariat']}"}
    for body, status in (
        ({"public": "yes"}, 422),
        ({"public": 1}, 422),
        ({}, 422),
        ({"public": True, "title": "x"}, 422),
    ):
        r = api.client.patch("/v1/programs/sup", json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        assert r.json()["code"] == "validation_error"
    r = api.client.patch("/v1/programs/nope", json={"public": True}, headers=headers)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


# --- the public notice page --------------------------------------------------------------


def test_the_public_page_shows_every_decision_and_nothing_private(api: Api) -> None:
    sup_2035_story(api)
    assert publish(api).status_code == 200
    r = api.get("/public/programs/sup", as_=None)
    assert r.status_code == 200, r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    assert "Anslagstavla" in html
    table = re.search(rf'<table [^>]*id="decisions-{SUP_2035}".*?</table>', html, re.S)
    assert table is not None
    for n, board_id in enumerate(BOARD_IDS):
        paragraph = "§ 161" if board_id == "haninge" else f"§ {60 + n}"
        row = re.search(rf'<tr data-board="{board_id}">.*?</tr>', table.group(0), re.S)
        assert row is not None, board_id
        assert paragraph in row.group(0)
        assert f"2019/KS 0260 005-{board_id}" in row.group(0)
    assert "2019-07-03" in html  # the appeal period (12 June + 21 days)
    assert 'id="in-force"' in html
    # Never who recorded anything, an e-mail address, a key name or a token.
    for secret in ("-system", "secretariat", "auditor", "@", "rat_", "feed_", "recorded"):
        assert secret not in html, secret
    for token in api.tokens.values():
        assert token not in html
    english = api.get("/public/programs/sup?lang=en", as_=None).text
    assert "Public notice board" in english
    assert "§ 161" in english


def test_a_private_program_is_not_found_like_an_unknown_one(api: Api) -> None:
    for path in ("/public/programs/{}", "/public/programs/{}/deadlines.ics"):
        private = api.get(path.format("sup"), as_=None)
        unknown = api.get(path.format("no-such-program"), as_=None)
        assert private.status_code == unknown.status_code == 404
        assert private.content == unknown.content
        assert dict(private.headers) == dict(unknown.headers)
        # Not even a signed-in caller's token makes a private program public.
        assert api.get(path.format("sup"), as_="admin").content == unknown.content
    assert publish(api).status_code == 200
    assert api.get("/public/programs/sup", as_=None).status_code == 200
    assert publish(api, False).status_code == 200
    assert api.get("/public/programs/sup", as_=None).content == unknown.content


# --- deadlines as a calendar --------------------------------------------------------------


def entries(body: bytes) -> dict[str, Any]:
    """The calendar's events by UID, parsed with `icalendar`."""
    calendar = Calendar.from_ical(body)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def feed(api: Api, as_: str | None = "tyreso", **params: str) -> bytes:
    r = api.get("/v1/programs/sup/deadlines.ics", as_=as_, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    content: bytes = r.content
    return content


def test_the_deadlines_of_sup_2035_during_and_after_the_decision_period(api: Api) -> None:
    assert entries(feed(api)) == {}  # a draft and a version imported as history: nothing due
    due = date.fromisoformat(respond_by())
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": due.isoformat()})
    assert r.status_code == 200, r.text
    found = entries(feed(api))
    assert list(found) == [f"respond-by-{SUP_2035}@ratify"]
    answer = found[f"respond-by-{SUP_2035}@ratify"]
    assert answer.decoded("dtstart") == due
    assert answer.decoded("dtend") == due + timedelta(days=1)
    assert "SUP 2035" in str(answer["summary"])

    announced = today() - timedelta(days=1)
    body = decision("tyreso", decided_on=(announced - timedelta(days=2)).isoformat())
    body |= {"paragraph": "§ 60", "case_number": "2019/KS 0260 005"}
    body |= {"announced_on": announced.isoformat()}
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", body, as_="tyreso")
    assert r.status_code == 201, r.text
    tyreso = r.json()["id"]
    before = feed(api)
    found = entries(before)
    until = appeal_until(announced)
    assert until is not None
    assert found[f"appeal-until-{tyreso}@ratify"].decoded("dtstart") == until
    assert found[f"decision-final-{tyreso}@ratify"].decoded("dtstart") == until + timedelta(days=1)
    summary = str(found[f"appeal-until-{tyreso}@ratify"]["summary"])
    assert "Tyresö kommun § 60" in summary
    assert "2019/KS 0260 005" in str(found[f"appeal-until-{tyreso}@ratify"]["description"])

    assert feed(api) == before  # nothing new: the same bytes, the same UIDs and stamps
    assert feed(api, as_="auditor") == before

    # A correction moves the dates: the same UIDs, a higher SEQUENCE.
    corrected_on = announced - timedelta(days=1)
    r = api.post(
        f"/v1/decisions/{tyreso}/corrections",
        {"changes": {"announced_on": corrected_on.isoformat()}, "reason": "fel datum"},
    )
    assert r.status_code == 201, r.text
    after = entries(feed(api))
    assert set(after) == set(found)
    moved = after[f"appeal-until-{tyreso}@ratify"]
    assert moved.decoded("dtstart") == appeal_until(corrected_on)
    assert int(moved["sequence"]) > int(found[f"appeal-until-{tyreso}@ratify"]["sequence"])

    # Every board approves: the answer date leaves the feed; each decision's dates stay.
    for board_id in BOARD_IDS:
        if board_id != "tyreso":
            body = decision(board_id, announced_on=announced.isoformat())
            r = api.post(f"/v1/versions/{SUP_2035}/decisions", body, as_=board_id)
            assert r.status_code == 201, r.text
    done = entries(feed(api))
    assert f"respond-by-{SUP_2035}@ratify" not in done
    assert set(found) - {f"respond-by-{SUP_2035}@ratify"} <= set(done)
    assert sum(uid.startswith("appeal-until-") for uid in done) == 8
    assert sum(uid.startswith("decision-final-") for uid in done) == 8
    version_final = done[f"version-final-{SUP_2035}@ratify"]
    latest = max(e.decoded("dtstart") for u, e in done.items() if u.startswith("decision-final"))
    assert version_final.decoded("dtstart") == latest


def test_the_public_calendar_of_a_public_program(api: Api) -> None:
    adopt(api)
    assert api.get("/public/programs/sup/deadlines.ics", as_=None).status_code == 404
    assert publish(api).status_code == 200
    r = api.get("/public/programs/sup/deadlines.ics", as_=None)
    assert r.status_code == 200
    assert entries(r.content) == entries(feed(api))


def make_feed(db: Database, key: str) -> str:
    with UnitOfWork(db, SYSTEM, utc_now()) as uow:
        secret = feeds.create(uow, key)
        uow.commit()
    return secret


def test_a_feed_url_stands_for_its_key_until_revoked(api: Api, seeded: Database) -> None:
    secret = make_feed(seeded, "tyreso-system")
    assert secret.startswith("feed_")
    with seeded.reads() as session:
        stored = session.scalars(select(models.CalendarFeed.secret_hash)).all()
    assert secret not in stored  # only its hash is kept
    assert feed(api, as_=None, feed=secret) == feed(api)

    def status(value: str) -> int:
        r = api.get("/v1/programs/sup/deadlines.ics", as_=None, params={"feed": value})
        if r.status_code == 401:
            assert r.json()["code"] == "unauthenticated"
        return int(r.status_code)

    assert status("feed_unknown") == 401
    assert status("") == 401
    # The feed secret opens the calendar only, never another route.
    r = api.get("/v1/programs/sup", as_=None, params={"feed": secret})
    assert r.status_code == 401

    with UnitOfWork(seeded, SYSTEM, utc_now()) as uow:
        feeds.revoke(uow, "tyreso-system")
        uow.commit()
    assert status(secret) == 401
    types = [e.type for e in events_of(seeded, "feed.created", "feed.revoked")]
    assert types == [EventType.FEED_CREATED, EventType.FEED_REVOKED]

    # A new feed works again; revoking the key ends it too.
    again = make_feed(seeded, "tyreso-system")
    assert status(again) == 200
    revoke_key(seeded, "tyreso-system")
    assert status(again) == 401
