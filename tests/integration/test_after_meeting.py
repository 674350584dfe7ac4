"""Decisions after the meeting over HTTP, on SQLite and PostgreSQL.

The announcement and the appeal period, appeals and the court's rulings,
annulment (which can send SUP 2035 back out and put SUP 2013 back in
force), corrections of slips, and the clock's note of legal force.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db import models
from db.audit_verify import verify_database
from db.engine import Database
from db.legal_force import note_legal_force
from notifications.config import Config
from notifications.reminder_sweep import sweep
from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035, Api, decision, respond_by, today
from workflow.dates import STOCKHOLM

TYRESO = {
    "board_id": "tyreso",
    "outcome": "approved",
    "decided_on": "2019-06-10",
    "paragraph": "§ 60",
    "case_number": "2019/KS 0260 005",
}
"""Tyresö's seed decision, posted at the meeting without its dates."""


def send_out(api: Api) -> None:
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text


def record(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", body, as_=body["board_id"])
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def approve_all(api: Api) -> dict[str, str]:
    """Every board approves SUP 2035 (announced two days after its meeting); decision ids."""
    send_out(api)
    ids = {}
    for board_id in BOARD_IDS:
        body = decision(board_id, decided_on="2019-06-10", minutes_attested_on="2019-06-11")
        body["announced_on"] = "2019-06-12"
        ids[board_id] = record(api, body)["id"]
    return ids


def events(db: Database, *types: str) -> list[models.Event]:
    with db.reads() as session:
        return list(
            session.scalars(
                select(models.Event).where(models.Event.type.in_(types)).order_by(models.Event.seq)
            )
        )


def count_events(db: Database) -> int:
    with db.reads() as session:
        return session.scalar(select(func.count()).select_from(models.Event)) or 0


def assert_problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


# --- the announcement and the appeal period ------------------------------------------


def test_tyreso_announces_a_week_after_its_meeting(api: Api, seeded: Database) -> None:
    send_out(api)
    recorded = record(api, TYRESO)
    assert recorded["appeal_until"] is None
    assert recorded["final_on"] is None
    assert recorded["status"] == "standing"
    path = f"/v1/decisions/{recorded['id']}/announcement"
    dates = {"minutes_attested_on": "2019-06-14", "announced_on": "2019-06-17"}
    r = api.post(path, dates, as_="tyreso")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["minutes_attested_on"] == "2019-06-14"
    assert body["announced_on"] == "2019-06-17"
    assert body["late_announcement"] is False
    assert body["appeal_until"] == "2019-07-08"  # 21 days on is a Monday
    assert body["final_on"] == "2019-07-09"
    assert [e.type for e in events(seeded, "decision.announced")] == ["decision.announced"]

    before = count_events(seeded)
    again = api.post(path, dates, as_="tyreso")
    assert again.status_code == 200
    assert again.json() == body
    assert count_events(seeded) == before  # the same dates again change nothing

    other = {"minutes_attested_on": "2019-06-14", "announced_on": "2019-06-18"}
    assert_problem(api.post(path, other, as_="tyreso"), 409, "already_announced")
    assert api.get(f"/v1/decisions/{recorded['id']}").json()["announced_on"] == "2019-06-17"


def test_an_announcement_more_than_two_days_after_the_attestation_is_late(api: Api) -> None:
    send_out(api)
    recorded = record(api, TYRESO)
    r = api.post(
        f"/v1/decisions/{recorded['id']}/announcement",
        {"minutes_attested_on": "2019-06-11", "announced_on": "2019-06-17"},
        as_="secretariat",
    )
    assert r.status_code == 200, r.text
    assert r.json()["late_announcement"] is True


def test_the_year_end_moves_the_last_day_to_appeal(api: Api) -> None:
    """The 21st day after 10 December 2019 is nyårsafton; nyårsdagen follows."""
    send_out(api)
    recorded = record(
        api, {**TYRESO, "minutes_attested_on": "2019-12-09", "announced_on": "2019-12-10"}
    )
    assert recorded["appeal_until"] == "2020-01-02"
    assert recorded["final_on"] == "2020-01-03"


# --- appeals and rulings ----------------------------------------------------------------


def announced(api: Api) -> str:
    send_out(api)
    body = {**TYRESO, "minutes_attested_on": "2019-06-14", "announced_on": "2019-06-17"}
    return str(record(api, body)["id"])


def test_a_timely_appeal_holds_legal_force_back_until_the_ruling_is_final(api: Api) -> None:
    decision_id = announced(api)
    appeal = {"lodged_on": "2019-07-01", "court": "Förvaltningsrätten i Stockholm"}
    r = api.post(
        f"/v1/decisions/{decision_id}/appeals", {**appeal, "case_number": "1234-19"}, as_="tyreso"
    )
    assert r.status_code == 201, r.text
    lodged = r.json()
    assert lodged["late"] is False
    assert lodged["outcome"] is None
    assert r.headers["location"] == f"/v1/appeals/{lodged['id']}"
    held = api.get(f"/v1/decisions/{decision_id}").json()
    assert held["status"] == "appealed"
    assert held["final_on"] is None
    assert held["appeal_until"] == "2019-07-08"
    assert [a["id"] for a in held["appeals"]] == [lodged["id"]]

    ruling = api.post(
        f"/v1/appeals/{lodged['id']}/ruling",
        {"outcome": "rejected", "ruled_on": "2019-10-01"},
        as_="secretariat",
    )
    assert ruling.status_code == 200, ruling.text
    assert ruling.json()["outcome"] == "rejected"
    standing = api.get(f"/v1/decisions/{decision_id}").json()
    assert standing["status"] == "standing"
    assert standing["final_on"] is None  # the ruling's own legal force is not known yet

    final = api.post(
        f"/v1/appeals/{lodged['id']}/ruling",
        {"outcome": "rejected", "ruled_on": "2019-10-01", "ruling_final_on": "2019-10-23"},
        as_="secretariat",
    )
    assert final.status_code == 200, final.text
    assert final.json()["ruling_final_on"] == "2019-10-23"
    assert api.get(f"/v1/decisions/{decision_id}").json()["final_on"] == "2019-10-23"

    twice = api.post(
        f"/v1/appeals/{lodged['id']}/ruling",
        {"outcome": "annulled", "ruled_on": "2019-10-02"},
        as_="secretariat",
    )
    assert_problem(twice, 409, "already_ruled")


def test_a_late_appeal_is_recorded_as_late_and_changes_nothing(api: Api) -> None:
    decision_id = announced(api)
    before = api.get(f"/v1/decisions/{decision_id}").json()
    r = api.post(
        f"/v1/decisions/{decision_id}/appeals",
        {"lodged_on": "2019-07-09", "court": "Förvaltningsrätten", "case_number": "99-19"},
        as_="tyreso",
    )
    assert r.status_code == 201, r.text
    assert r.json()["late"] is True
    after = api.get(f"/v1/decisions/{decision_id}").json()
    assert after["status"] == "standing"
    assert after["final_on"] == before["final_on"] == "2019-07-09"
    assert after["appeals"][0]["late"] is True


def test_an_appeal_lodged_before_the_announcement_is_in_time(api: Api) -> None:
    send_out(api)
    decision_id = record(api, TYRESO)["id"]
    r = api.post(
        f"/v1/decisions/{decision_id}/appeals",
        {"lodged_on": "2019-06-12", "court": "Förvaltningsrätten", "case_number": "1-19"},
        as_="tyreso",
    )
    assert r.json()["late"] is False
    assert api.get(f"/v1/decisions/{decision_id}").json()["status"] == "appealed"


# --- annulment: SUP 2035 back out, SUP 2013 back in force ----------------------------


def annul(api: Api, decision_id: str) -> None:
    lodged = api.post(
        f"/v1/decisions/{decision_id}/appeals",
        {"lodged_on": "2019-06-20", "court": "Förvaltningsrätten i Stockholm", "case_number": "7"},
        as_="secretariat",
    ).json()
    r = api.post(
        f"/v1/appeals/{lodged['id']}/ruling",
        {"outcome": "annulled", "ruled_on": "2019-09-02", "ruling_final_on": "2019-09-24"},
        as_="secretariat",
    )
    assert r.status_code == 200, r.text


def test_annulling_an_approval_sends_the_version_back_and_reinstates_its_predecessor(
    api: Api, seeded: Database
) -> None:
    ids = approve_all(api)
    assert api.get(f"/v1/versions/{SUP_2035}").json()["state"] == "in_force"
    assert api.get(f"/v1/versions/{SUP_2035}").json()["final_on"] == "2019-07-04"

    annul(api, ids["haninge"])
    new = api.get(f"/v1/versions/{SUP_2035}").json()
    old = api.get(f"/v1/versions/{SUP_2013}").json()
    assert new["state"] == "sent_out"
    assert new["in_force_from"] is None
    assert new["final_on"] is None
    assert {b["board_id"]: b["status"] for b in new["boards"]}["haninge"] == "annulled"
    assert old["state"] == "in_force"
    assert old["superseded_on"] is None
    assert old["superseded_by"] is None
    assert api.get("/v1/programs/sup/in-force").json()["id"] == SUP_2013
    assert api.get(f"/v1/programs/sup/in-force?on={today().isoformat()}").json()["id"] == SUP_2013
    annulled = api.get(f"/v1/decisions/{ids['haninge']}").json()
    assert annulled["status"] == "annulled"
    assert annulled["final_on"] is None

    again = record(api, decision("haninge", decided_on="2019-10-07"))
    assert again["version_state"] == "in_force"
    new = api.get(f"/v1/versions/{SUP_2035}").json()
    old = api.get(f"/v1/versions/{SUP_2013}").json()
    assert new["state"] == "in_force"
    assert new["in_force_from"] == "2019-10-07"
    assert old["state"] == "superseded"
    assert old["superseded_on"] == "2019-10-07"
    assert api.get("/v1/programs/sup/in-force").json()["id"] == SUP_2035

    story = [
        (e.type, e.version_id == SUP_2035)
        for e in events(
            seeded,
            "version.in_force",
            "version.superseded",
            "decision.annulled",
            "version.reopened",
            "version.reinstated",
        )
    ]
    assert story == [
        ("version.in_force", True),
        ("version.superseded", False),
        ("decision.annulled", True),
        ("version.reopened", True),
        ("version.reinstated", False),
        ("version.in_force", True),
        ("version.superseded", False),
    ]
    with seeded.reads() as session:
        keys = set(session.scalars(select(models.EventKey.key)))
    assert {f"version.in_force:{SUP_2035}:1", f"version.in_force:{SUP_2035}:2"} <= keys
    assert verify_database(seeded, datetime.now(UTC)).ok


def test_annulling_the_only_rejection_sends_a_rejected_version_back(api: Api) -> None:
    send_out(api)
    rejected = record(api, decision("salem", "rejected"))
    assert rejected["version_state"] == "rejected"
    annul(api, rejected["id"])
    version = api.get(f"/v1/versions/{SUP_2035}").json()
    assert version["state"] == "sent_out"
    assert {b["board_id"]: b["status"] for b in version["boards"]}["salem"] == "annulled"
    assert record(api, decision("salem"))["version_state"] == "sent_out"


def test_an_annulled_approval_of_a_version_still_out_leaves_it_out(api: Api) -> None:
    send_out(api)
    approved = record(api, decision("botkyrka"))
    annul(api, approved["id"])
    version = api.get(f"/v1/versions/{SUP_2035}").json()
    assert version["state"] == "sent_out"
    assert {b["board_id"]: b["status"] for b in version["boards"]}["botkyrka"] == "annulled"


# --- corrections ---------------------------------------------------------------------


def test_a_slip_is_corrected_visibly_and_the_dates_that_follow_move(
    api: Api, seeded: Database
) -> None:
    ids = approve_all(api)
    path = f"/v1/decisions/{ids['tyreso']}/corrections"
    r = api.post(
        path,
        {"changes": {"paragraph": "§ 61", "case_number": "2019/KS 0260"}, "reason": "typo"},
        as_="tyreso",
    )
    assert r.status_code == 201, r.text
    correction = r.json()
    assert correction["changes"] == {
        "paragraph": {"from": "§ 60", "to": "§ 61"},
        "case_number": {"from": "2019/KS 0260 005-tyreso", "to": "2019/KS 0260"},
    }
    assert correction["reason"] == "typo"
    assert correction["recorded_by"] == "tyreso-system"
    shown = api.get(f"/v1/decisions/{ids['tyreso']}").json()
    assert shown["paragraph"] == "§ 61"
    assert shown["corrected"] is True
    assert [c["id"] for c in shown["corrections"]] == [correction["id"]]

    # Every approval's meeting was 10 June; correcting one to 11 June moves
    # the day SUP 2035 entered into force, and the day SUP 2013 was superseded.
    moved = api.post(
        path, {"changes": {"decided_on": "2019-06-11"}, "reason": "wrong meeting"}, as_="admin"
    )
    assert moved.status_code == 201, moved.text
    assert api.get(f"/v1/versions/{SUP_2035}").json()["in_force_from"] == "2019-06-11"
    assert api.get(f"/v1/versions/{SUP_2013}").json()["superseded_on"] == "2019-06-11"
    corrected = [e.data for e in events(seeded, "version.corrected")]
    assert {"in_force_from": {"from": "2019-06-10", "to": "2019-06-11"}} in [
        {k: v for k, v in d.items() if k == "in_force_from"} for d in corrected
    ]
    assert any(d.get("superseded_on") for d in corrected)

    assert_problem(
        api.post(path, {"changes": {"outcome": "rejected"}, "reason": "x"}, as_="tyreso"),
        422,
        "not_correctable",
    )
    assert_problem(
        api.post(path, {"changes": {"paragraph": "§ 1"}, "reason": "x"}, as_="haninge"),
        403,
        "forbidden_board",
    )
    assert_problem(
        api.post(path, {"changes": {"paragraph": "§ 61"}, "reason": "again"}, as_="tyreso"),
        422,
        "validation_error",
    )


# --- bad input on every new route ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/decisions/nope/announcement", {"minutes_attested_on": "2019-06-11",
                                             "announced_on": "2019-06-12"}),
        ("/v1/decisions/nope/appeals", {"lodged_on": "2019-06-12", "court": "F",
                                        "case_number": "1"}),
        ("/v1/decisions/nope/corrections", {"changes": {"paragraph": "§ 1"}, "reason": "r"}),
        ("/v1/appeals/nope/ruling", {"outcome": "rejected", "ruled_on": "2019-06-12"}),
    ],
)  # fmt: skip
def test_unknown_ids_are_404(api: Api, path: str, body: dict[str, Any]) -> None:
    assert_problem(api.post(path, body, as_="admin"), 404, "not_found")


def test_unknown_reads_are_404(api: Api) -> None:
    assert_problem(api.get("/v1/decisions/nope"), 404, "not_found")
    assert_problem(api.get("/v1/appeals/nope"), 404, "not_found")


@pytest.mark.parametrize(
    ("attested", "announced"),
    [
        ("2019-06-09", "2019-06-12"),  # attested before the meeting
        ("2019-06-13", "2019-06-12"),  # announced before the attestation
        ("2019-06-11", "2999-01-01"),  # in the future
    ],
)
def test_announcement_dates_out_of_order_or_in_the_future_are_422(
    api: Api, seeded: Database, attested: str, announced: str
) -> None:
    send_out(api)
    decision_id = record(api, TYRESO)["id"]
    before = count_events(seeded)
    r = api.post(
        f"/v1/decisions/{decision_id}/announcement",
        {"minutes_attested_on": attested, "announced_on": announced},
        as_="tyreso",
    )
    assert_problem(r, 422, "validation_error")
    assert count_events(seeded) == before
    assert api.get(f"/v1/decisions/{decision_id}").json()["announced_on"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"lodged_on": "2019-06-01", "court": "F", "case_number": "1"},  # before the meeting
        {"lodged_on": "2999-01-01", "court": "F", "case_number": "1"},  # in the future
        {"lodged_on": "2019-06-12", "court": "", "case_number": "1"},  # no court
        {"lodged_on": "2019-06-12", "court": "F"},  # no case number
        {"lodged_on": "12/06/2019", "court": "F", "case_number": "1"},
    ],
)
def test_bad_appeals_are_422_and_change_nothing(
    api: Api, seeded: Database, body: dict[str, Any]
) -> None:
    send_out(api)
    decision_id = record(api, TYRESO)["id"]
    before = count_events(seeded)
    assert_problem(
        api.post(f"/v1/decisions/{decision_id}/appeals", body, as_="tyreso"),
        422,
        "validation_error",
    )
    assert count_events(seeded) == before


def test_bad_rulings_are_refused_and_change_nothing(api: Api, seeded: Database) -> None:
    decision_id = announced(api)
    appeal = api.post(
        f"/v1/decisions/{decision_id}/appeals",
        {"lodged_on": "2019-07-01", "court": "F", "case_number": "1"},
        as_="tyreso",
    ).json()
    path = f"/v1/appeals/{appeal['id']}/ruling"
    before = count_events(seeded)
    for body, status, code in [
        ({"outcome": "rejected", "ruled_on": "2019-06-30"}, 422, "validation_error"),
        ({"outcome": "rejected", "ruled_on": "2999-01-01"}, 422, "validation_error"),
        (
            {"outcome": "rejected", "ruled_on": "2019-08-01", "ruling_final_on": "2019-07-31"},
            422,
            "validation_error",
        ),
        ({"outcome": "overturned", "ruled_on": "2019-08-01"}, 422, "validation_error"),
        ({"outcome": "rejected"}, 422, "validation_error"),
    ]:
        assert_problem(api.post(path, body, as_="tyreso"), status, code)
    malformed = api.client.post(
        path,
        content=b"{not json",
        headers={
            "Authorization": f"Bearer {api.tokens['tyreso']}",
            "Content-Type": "application/json",
        },
    )
    assert_problem(malformed, 400, "malformed_body")
    assert count_events(seeded) == before
    assert api.get(f"/v1/appeals/{appeal['id']}").json()["outcome"] is None


def test_another_boards_token_may_not_act_on_a_decision(api: Api) -> None:
    decision_id = announced(api)
    assert_problem(
        api.post(
            f"/v1/decisions/{decision_id}/appeals",
            {"lodged_on": "2019-07-01", "court": "F", "case_number": "1"},
            as_="haninge",
        ),
        403,
        "forbidden_board",
    )
    assert_problem(
        api.post(
            f"/v1/decisions/{decision_id}/announcement",
            {"minutes_attested_on": "2019-06-14", "announced_on": "2019-06-17"},
            as_="auditor",
        ),
        403,
        "forbidden",
    )


def test_a_referral_back_cannot_be_appealed(api: Api) -> None:
    send_out(api)
    referred = record(api, decision("tyreso", "referred_back"))
    assert_problem(
        api.post(
            f"/v1/decisions/{referred['id']}/appeals",
            {"lodged_on": "2019-06-12", "court": "F", "case_number": "1"},
            as_="tyreso",
        ),
        409,
        "invalid_transition",
    )


# --- the clock's note of legal force ---------------------------------------------------


def test_legal_force_is_noted_once_for_each_decision_and_the_version(
    api: Api, seeded: Database
) -> None:
    approve_all(api)
    later = datetime(2019, 7, 4, 8, tzinfo=UTC)  # the day the approvals gained legal force
    assert note_legal_force(seeded, later - timedelta(days=1)).decisions == 0
    first = note_legal_force(seeded, later)
    assert (first.decisions, first.versions) == (8, 1)
    again = note_legal_force(seeded, later + timedelta(days=30))
    assert (again.decisions, again.versions) == (0, 0)
    finals = events(seeded, "decision.final", "version.final")
    assert sorted(e.type for e in finals) == ["decision.final"] * 8 + ["version.final"]
    assert {e.data["final_on"] for e in finals} == {"2019-07-04"}
    assert date(2019, 7, 4).isoformat() == api.get(f"/v1/versions/{SUP_2035}").json()["final_on"]


def test_after_an_annulment_every_member_is_told_and_only_that_board_is_reminded(
    api: Api, seeded: Database
) -> None:
    ids = approve_all(api)
    with seeded.reads() as session:
        assert session.scalar(select(func.count()).select_from(models.ReminderSchedule)) == 0
    annul(api, ids["haninge"])
    with seeded.reads() as session:
        scheduled = list(session.scalars(select(models.ReminderSchedule.board_id)))
        notices = list(
            session.scalars(
                select(models.OutboxMail.board_id).where(
                    models.OutboxMail.kind == "version.reopened"
                )
            )
        )
    assert scheduled == ["haninge"]
    assert sorted(b or "" for b in notices) == sorted(BOARD_IDS)

    due = date.fromisoformat(respond_by()) + timedelta(days=2)
    swept = sweep(seeded, Config(), datetime.combine(due, time(12), tzinfo=STOCKHOLM))
    assert swept.queued == 1
    with seeded.reads() as session:
        reminded = list(session.scalars(select(models.Reminder.board_id)))
    assert set(reminded) == {"haninge"}  # one sent, the slots missed meanwhile coalesced


def test_several_workers_at_once_note_legal_force_once(api: Api, seeded: Database) -> None:
    approve_all(api)
    later = datetime(2019, 7, 4, 8, tzinfo=UTC)
    barrier = threading.Barrier(4, timeout=30)

    def worker() -> tuple[int, int]:
        barrier.wait()
        report = note_legal_force(seeded, later)
        return report.decisions, report.versions

    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda _: worker(), range(4)))
    assert sum(d for d, _v in reports) == 8
    assert sum(v for _d, v in reports) == 1
    assert len(events(seeded, "decision.final")) == 8
    assert len(events(seeded, "version.final")) == 1
    assert verify_database(seeded, datetime.now(UTC)).ok
