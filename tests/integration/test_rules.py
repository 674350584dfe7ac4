"""The contract's numbered rules over HTTP: each refusal has its status and its `code`.

Every refused request goes through `refused`, which snapshots the versions
concerned (their full JSON and their decision lists) and the row counts of
the tables a write could touch, and checks that none of it changed.
"""

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from httpx2 import Response
from sqlalchemy import func, select

from db import models
from db.engine import Database
from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035, Api, decision, respond_by, today

SHA_A = "a" * 64
SHA_B = "b" * 64
COUNTED = (
    models.Board,
    models.Program,
    models.ProgramBoard,
    models.Version,
    models.Decision,
    models.Event,
    models.IdempotencyKey,
)


def row_counts(db: Database) -> dict[str, int]:
    """How many rows each table that a write could touch holds (one query)."""
    counts = [select(func.count()).select_from(m).scalar_subquery() for m in COUNTED]
    with db.reads() as session:
        row = session.execute(select(*counts)).one()
    return {m.__tablename__: n for m, n in zip(COUNTED, row, strict=True)}


def get_version(api: Api, version_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/versions/{version_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def get_decisions(api: Api, version_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/versions/{version_id}/decisions")
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def statuses(version: dict[str, Any]) -> dict[str, str]:
    return {b["board_id"]: b["status"] for b in version["boards"]}


def assert_problem(r: Response, status: int, code: str) -> dict[str, Any]:
    """`r` is a problem document with this status and code."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    return body


def refused(
    api: Api,
    db: Database,
    call: Callable[[], Response],
    status: int,
    code: str,
    versions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Make the request: it is refused with `status` and `code`, and nothing changes."""
    before = [(get_version(api, v), get_decisions(api, v)) for v in versions]
    counts = row_counts(db)
    body = assert_problem(call(), status, code)
    assert row_counts(db) == counts
    after = [(get_version(api, v), get_decisions(api, v)) for v in versions]
    assert after == before
    return body


def create_program(api: Api, program_id: str, boards: list[str], as_: str = "secretariat") -> None:
    body = {"id": program_id, "title": f"Program {program_id}", "owner": "Samråd", "boards": boards}
    r = api.post("/v1/programs", body, as_=as_)
    assert r.status_code == 201, r.text
    assert r.json()["boards"] == boards


def create_version(
    api: Api,
    program_id: str,
    label: str,
    *,
    replaces: str | None = None,
    valid_from: str = "2019-01-01",
    sha256: str | None = None,
) -> str:
    body: dict[str, Any] = {
        "label": label,
        "drafted_on": "2019-05-28",
        "valid_from": valid_from,
        "valid_until": "2030-12-31",
        "replaces": replaces,
    }
    if sha256 is not None:
        body["document"] = {"title": label, "url": "https://example.org/p.pdf", "sha256": sha256}
    r = api.post(f"/v1/programs/{program_id}/versions", body)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "drafted"
    version_id: str = r.json()["id"]
    return version_id


def send_out(api: Api, version_id: str) -> None:
    r = api.post(f"/v1/versions/{version_id}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "sent_out"


def decide(
    api: Api,
    version_id: str,
    board_id: str,
    outcome: str = "approved",
    decided_on: str = "2019-06-10",
    **extra: Any,
) -> Response:
    """A decision sent with the board's own token."""
    r: Response = api.post(
        f"/v1/versions/{version_id}/decisions",
        decision(board_id, outcome, decided_on, **extra),
        as_=board_id,
    )
    return r


def approve(api: Api, version_id: str, board_id: str, decided_on: str = "2019-06-10") -> str:
    """Approve; return the version's state afterwards."""
    r = decide(api, version_id, board_id, decided_on=decided_on)
    assert r.status_code == 201, r.text
    state: str = r.json()["version_state"]
    return state


def withdraw(api: Api, version_id: str) -> Response:
    r: Response = api.post(f"/v1/versions/{version_id}/withdraw", {"reason": "nytt förslag"})
    return r


@pytest.fixture
def pair(api: Api) -> str:
    """Program `pair` (Botkyrka and Haninge only) and its sent-out version, which has a document."""
    create_program(api, "pair", ["botkyrka", "haninge"])
    version_id = create_version(api, "pair", "Pair 2019", sha256=SHA_A)
    send_out(api, version_id)
    return version_id


def test_rule_1_send_out_and_withdraw(api: Api, seeded: Database, pair: str) -> None:
    """Decisions only while sent_out; send-out only from drafted; withdraw before entry only."""
    for version_id, board_id in ((SUP_2035, "tyreso"), (SUP_2013, "botkyrka")):  # drafted, in force
        refused(
            api,
            seeded,
            partial(decide, api, version_id, board_id),
            409,
            "invalid_transition",
            (version_id,),
        )

    yesterday = (today() - timedelta(days=1)).isoformat()
    path = f"/v1/versions/{SUP_2035}/send-out"
    refused(
        api,
        seeded,
        partial(api.post, path, {"respond_by": yesterday}),
        422,
        "validation_error",
        (SUP_2035,),
    )
    r = api.post(path, {"respond_by": today().isoformat()})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["respond_by"]) == ("sent_out", today().isoformat())
    refused(
        api,
        seeded,
        partial(api.post, path, {"respond_by": respond_by()}),
        409,
        "invalid_transition",
        (SUP_2035,),
    )

    drafted = create_version(api, "pair", "Pair 2020")
    r = withdraw(api, drafted)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "withdrawn"
    assert get_version(api, drafted) == r.json()

    approve(api, pair, "botkyrka")
    r = withdraw(api, pair)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "withdrawn"
    assert statuses(r.json()) == {"botkyrka": "approved", "haninge": "pending"}
    assert get_version(api, pair) == r.json()

    refused(api, seeded, partial(decide, api, pair, "haninge"), 409, "invalid_transition", (pair,))
    for version_id in (SUP_2013, drafted, pair):  # in force, withdrawn, withdrawn
        refused(
            api,
            seeded,
            partial(withdraw, api, version_id),
            409,
            "invalid_transition",
            (version_id,),
        )
    refused(
        api,
        seeded,
        partial(api.post, f"/v1/versions/{drafted}/send-out", {"respond_by": respond_by()}),
        409,
        "invalid_transition",
        (drafted,),
    )


def test_rule_2_board_and_date_checks(api: Api, seeded: Database, pair: str) -> None:
    """not_a_member, forbidden_board, a date in the future, document_mismatch, already_decided."""
    body = refused(api, seeded, partial(decide, api, pair, "tyreso"), 422, "not_a_member", (pair,))
    assert "tyreso" in body["detail"]
    path = f"/v1/versions/{pair}/decisions"
    refused(  # an admin may record for any board, but not for one outside the program
        api,
        seeded,
        partial(api.post, path, decision("nacka"), as_="admin"),
        422,
        "not_a_member",
        (pair,),
    )
    refused(
        api,
        seeded,
        partial(api.post, path, decision("haninge"), as_="botkyrka"),
        403,
        "forbidden_board",
        (pair,),
    )
    for role in ("secretariat", "auditor"):
        refused(
            api,
            seeded,
            partial(api.post, path, decision("botkyrka"), as_=role),
            403,
            "forbidden",
            (pair,),
        )

    tomorrow = (today() + timedelta(days=1)).isoformat()
    body = refused(
        api,
        seeded,
        partial(decide, api, pair, "botkyrka", decided_on=tomorrow),
        422,
        "validation_error",
        (pair,),
    )
    assert "future" in body["detail"]
    refused(
        api,
        seeded,
        partial(decide, api, pair, "botkyrka", document_sha256=SHA_B),
        409,
        "document_mismatch",
        (pair,),
    )

    # Earlier than the send-out is fine: decisions are often registered after the fact.
    assert get_version(api, pair)["sent_out_at"][:10] > "2019-06-03"
    r = decide(api, pair, "botkyrka", decided_on="2019-06-03", document_sha256=SHA_A)
    assert r.status_code == 201, r.text
    assert r.json()["document_sha256"] == SHA_A
    for again in ("approved", "rejected", "amended", "referred_back", "tabled"):
        refused(
            api,
            seeded,
            partial(decide, api, pair, "botkyrka", again, "2019-06-20"),
            409,
            "already_decided",
            (pair,),
        )
    assert statuses(get_version(api, pair)) == {"botkyrka": "approved", "haninge": "pending"}

    # Today is not the future; no hash given means nothing to compare.
    assert approve(api, pair, "haninge", decided_on=today().isoformat()) == "in_force"
    assert get_version(api, pair)["in_force_from"] == today().isoformat()
    assert len(get_decisions(api, pair)) == 2


def test_rules_2_and_3_referral_and_tabling_keep_the_board_open(api: Api, pair: str) -> None:
    """…and the version enters into force on its latest approval, not its last recorded one."""
    steps = [
        ("botkyrka", "referred_back", "2019-06-03"),
        ("haninge", "tabled", "2019-06-04"),
        ("botkyrka", "tabled", "2019-06-10"),
        ("botkyrka", "referred_back", "2019-06-17"),
        ("haninge", "approved", "2019-08-26"),
    ]
    recorded = []
    for board_id, outcome, day in steps:
        r = decide(api, pair, board_id, outcome, day)
        assert r.status_code == 201, r.text
        assert r.json()["version_state"] == "sent_out"
        recorded.append(r.json()["id"])
        version = get_version(api, pair)
        assert version["state"] == "sent_out"
        board = next(b for b in version["boards"] if b["board_id"] == board_id)
        assert (board["status"], board["decided_on"]) == (outcome, day)
        assert board["recorded_by"] == f"{board_id}-system"

    r = decide(api, pair, "botkyrka", "approved", "2019-08-19")
    assert r.status_code == 201, r.text
    assert r.json()["version_state"] == "in_force"
    recorded.append(r.json()["id"])

    version = get_version(api, pair)
    assert (version["state"], version["in_force_from"]) == ("in_force", "2019-08-26")
    assert statuses(version) == {"botkyrka": "approved", "haninge": "approved"}
    assert api.get("/v1/programs/pair").json()["in_force_version_id"] == pair

    listed = get_decisions(api, pair)
    assert [d["id"] for d in listed] == recorded
    assert [(d["board_id"], d["outcome"], d["decided_on"]) for d in listed] == [
        *steps,
        ("botkyrka", "approved", "2019-08-19"),
    ]
    assert {d["version_id"] for d in listed} == {pair}
    stamps = [d["recorded_at"] for d in listed]
    assert stamps == sorted(stamps)
    assert [(d["board_id"], d["paragraph"]) for d in get_decisions(api, SUP_2013)] == [
        ("tyreso", "§ 78")
    ]


def test_rule_3_entry_into_force_supersedes_and_the_first_rival_wins(
    api: Api, seeded: Database
) -> None:
    """Two versions replace SUP 2013; the first to collect every approval supersedes it.

    The winner's valid_from (2019-09-01) is later than its approvals, so that is the
    entry date, and SUP 2013's superseded_on. Its id is chosen to sort before SUP
    2013's: the flush writes rows in primary-key order, and the one-in-force index
    must hold anyway. The rival's last approval is then refused, and nothing is written.
    """
    winner = ""
    for attempt in range(40):
        candidate = create_version(
            api, "sup", f"SUP 2035 höst {attempt}", replaces=SUP_2013, valid_from="2019-09-01"
        )
        if candidate < SUP_2013:
            winner = candidate
            break
    assert winner, "no version id sorted before SUP 2013's in 40 attempts"
    send_out(api, winner)
    send_out(api, SUP_2035)
    for board_id in BOARD_IDS[:7]:
        assert approve(api, SUP_2035, board_id, "2019-06-03") == "sent_out"
    for board_id, day in zip(BOARD_IDS, ["2019-06-03", "2019-06-17"] * 4, strict=True):
        approve(api, winner, board_id, day)

    new, old = get_version(api, winner), get_version(api, SUP_2013)
    assert (new["state"], new["in_force_from"]) == ("in_force", "2019-09-01")
    assert (old["state"], old["superseded_on"], old["superseded_by"]) == (
        "superseded",
        "2019-09-01",
        winner,
    )
    assert api.get("/v1/programs/sup/in-force?on=2019-08-31").json()["id"] == SUP_2013
    assert api.get("/v1/programs/sup/in-force?on=2019-09-01").json()["id"] == winner
    assert api.get("/v1/programs/sup").json()["in_force_version_id"] == winner

    refused(
        api,
        seeded,
        partial(decide, api, SUP_2035, BOARD_IDS[7]),
        409,
        "predecessor_not_in_force",
        (SUP_2035, winner, SUP_2013),
    )
    rival = get_version(api, SUP_2035)
    assert rival["state"] == "sent_out"
    assert statuses(rival)[BOARD_IDS[7]] == "pending"
    assert len(get_decisions(api, SUP_2035)) == 7
    for version_id in (winner, SUP_2013):  # in force, superseded: no withdrawing
        refused(
            api,
            seeded,
            partial(withdraw, api, version_id),
            409,
            "invalid_transition",
            (version_id,),
        )


def test_rule_4_a_rejection_or_an_amendment_rejects_the_version_for_good(
    api: Api, seeded: Database
) -> None:
    rival = create_version(api, "sup", "SUP 2035 (alternativ)", replaces=SUP_2013)
    for version_id, outcome in ((SUP_2035, "rejected"), (rival, "amended")):
        send_out(api, version_id)
        assert approve(api, version_id, "tyreso") == "sent_out"
        r = decide(api, version_id, "haninge", outcome)
        assert r.status_code == 201, r.text
        assert (r.json()["outcome"], r.json()["version_state"]) == (outcome, "rejected")
        version = get_version(api, version_id)
        assert (version["state"], version["in_force_from"]) == ("rejected", None)
        assert statuses(version)["haninge"] == outcome

        # Neither another board's approval nor the rejecting board itself changes it.
        # Rule 1 comes first: the version is no longer sent_out, so a second word from
        # the rejecting board is `invalid_transition` rather than `already_decided`.
        for board_id in ("botkyrka", "haninge"):
            refused(
                api,
                seeded,
                partial(decide, api, version_id, board_id),
                409,
                "invalid_transition",
                (version_id,),
            )
        refused(
            api,
            seeded,
            partial(withdraw, api, version_id),
            409,
            "invalid_transition",
            (version_id,),
        )

    old = get_version(api, SUP_2013)
    assert (old["state"], old["superseded_by"], old["superseded_on"]) == ("in_force", None, None)
    assert api.get("/v1/programs/sup").json()["in_force_version_id"] == SUP_2013


def test_program_and_version_creation_rules(api: Api, seeded: Database) -> None:
    for boards in ([], ["botkyrka", "nowhere"], ["botkyrka", "haninge", "botkyrka"]):
        body = {"id": "newprog", "title": "Nytt program", "owner": "Samråd", "boards": boards}
        refused(api, seeded, partial(api.post, "/v1/programs", body), 422, "validation_error")
    assert_problem(api.get("/v1/programs/newprog"), 404, "not_found")

    for who in ("secretariat", "admin"):
        body = {"id": "sup", "title": "Another", "owner": "Someone", "boards": ["tyreso"]}
        refused(
            api, seeded, partial(api.post, "/v1/programs", body, as_=who), 409, "already_exists"
        )
    assert api.get("/v1/programs/sup").json()["boards"] == BOARD_IDS
    create_program(api, "pair", ["haninge", "botkyrka"], as_="admin")
    body = {"id": "pair", "title": "Again", "owner": "Samråd", "boards": ["botkyrka"]}
    refused(api, seeded, partial(api.post, "/v1/programs", body), 409, "already_exists")
    assert api.get("/v1/programs/pair").json()["boards"] == ["haninge", "botkyrka"]

    # `replaces` must name a version of the same program.
    pair_version = create_version(api, "pair", "Pair 2019")
    for replaces in (pair_version, "00000000-0000-4000-8000-000000000000"):
        body = {
            "label": "SUP 2050",
            "drafted_on": "2019-05-28",
            "valid_from": "2020-01-01",
            "replaces": replaces,
        }
        refused(
            api,
            seeded,
            partial(api.post, "/v1/programs/sup/versions", body),
            422,
            "validation_error",
        )
    labels = [v["label"] for v in api.get("/v1/programs/sup/versions").json()["items"]]
    assert labels == ["SUP 2013", "SUP 2035"]

    # Replacing a version that never entered into force: the last approval is refused.
    successor = create_version(api, "pair", "Pair 2021", replaces=pair_version)
    send_out(api, successor)
    assert approve(api, successor, "botkyrka") == "sent_out"
    refused(
        api,
        seeded,
        partial(decide, api, successor, "haninge"),
        409,
        "predecessor_not_in_force",
        (successor, pair_version),
    )
