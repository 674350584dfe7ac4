"""Incremental verification: from the verified heads, equal to the full check on an intact
trail, finding what changed after them, and blind (by design) to an edit before them."""

from typing import Any

from sqlalchemy import select, text

from db import models
from db.engine import Database
from tests.conftest import BOARD_IDS, SUP_2035, Api, decision, respond_by
from tests.integration.test_audit import _tamper, approve_all, events
from tests.integration.test_ui import login, make_browser, text_of


def check(api: Api, incremental: bool = False) -> dict[str, Any]:
    params = {"incremental": "true"} if incremental else {}
    r = api.get("/v1/audit/verify", as_="auditor", params=params)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def verified(db: Database) -> dict[str, tuple[int, str]]:
    with db.reads() as session:
        rows = session.scalars(select(models.VerifiedHead))
        return {row.chain: (row.seq, row.hash) for row in rows}


def some_decisions(api: Api, outcome: str = "tabled") -> None:
    for board_id in BOARD_IDS[:3]:
        r = api.post(
            f"/v1/versions/{SUP_2035}/decisions", decision(board_id, outcome), as_=board_id
        )
        assert r.status_code == 201, r.text


def test_incremental_equals_full_on_an_intact_trail(api: Api, seeded: Database) -> None:
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    first = check(api, incremental=True)  # nothing verified yet: everything is new
    assert first["ok"] is True
    assert first["checked"] == first["events"]
    heads = verified(seeded)
    assert heads["sup"][0] == max(e["seq"] for e in events(api, program_id="sup"))

    some_decisions(api)
    incremental = check(api, incremental=True)
    full = check(api)
    assert incremental["ok"] is full["ok"] is True
    assert (incremental["events"], incremental["head"]) == (full["events"], full["head"])
    assert incremental["incremental"] is True
    assert full["incremental"] is False
    assert full["checked"] == full["events"]
    assert incremental["checked"] == 3  # the three decisions, nothing before them
    assert verified(seeded)["sup"][0] == max(e["seq"] for e in events(api, program_id="sup"))
    assert check(api, incremental=True)["checked"] == 0


def test_tampering_after_the_verified_heads_is_found_incrementally(
    api: Api, seeded: Database
) -> None:
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert check(api)["ok"] is True
    before = verified(seeded)
    some_decisions(api)
    target = events(api, type="decision.recorded")[1]["seq"]
    _tamper(seeded, "UPDATE events SET data = :d WHERE seq = :s", d='{"x": 1}', s=target)
    incremental = check(api, incremental=True)
    assert incremental["ok"] is False
    assert (incremental["first_bad_seq"], incremental["chain"]) == (target, "sup")
    assert check(api)["first_bad_seq"] == target
    assert verified(seeded) == before, "a broken trail moves no verified head"


def test_a_rollback_below_the_verified_head_is_found_incrementally(
    api: Api, seeded: Database
) -> None:
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    some_decisions(api)
    assert check(api)["ok"] is True
    chain = events(api, program_id="sup")
    last, kept = chain[-1], chain[-3]
    _tamper(seeded, "DELETE FROM events WHERE chain = 'sup' AND seq > :s", s=kept["seq"])
    with seeded.engine.begin() as connection:
        connection.execute(
            text("UPDATE chain_heads SET seq = :s, hash = :h WHERE chain = 'sup'"),
            {"s": kept["seq"], "h": kept["hash"]},
        )
    for found in (check(api, incremental=True), check(api)):  # both hold the verified heads
        assert found["ok"] is False
        assert (found["first_bad_seq"], found["chain"]) == (last["seq"], "sup")
        assert "moved back" in found["reason"]


def test_an_edit_before_the_verified_heads_needs_the_full_check(api: Api, seeded: Database) -> None:
    """What the README says the incremental check cannot see."""
    approve_all(api)
    assert check(api)["ok"] is True
    target = events(api, type="decision.recorded")[0]["seq"]
    _tamper(seeded, "UPDATE events SET actor_name = 'someone' WHERE seq = :s", s=target)
    assert check(api, incremental=True)["ok"] is True
    full = check(api)
    assert (full["ok"], full["first_bad_seq"]) == (False, target)


def test_the_audit_page_checks_incrementally_and_in_full_on_request(
    seeded: Database, tokens: dict[str, str], api: Api
) -> None:
    path = f"/ui/versions/{SUP_2035}/audit"
    with make_browser(seeded) as client:
        login(client, tokens["auditor"])
        client.get(path)  # the first view verifies everything there is
        some = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
        assert some.status_code == 200
        page = client.get(path)
        assert 'data-incremental="true"' in page.text
        assert "1 nya händelser omräknade" in text_of(page.text)
        assert 'href="?verify=full"' in page.text
        full = client.get(path, params={"verify": "full"})
        assert 'data-incremental="false"' in full.text
        total = check(api)["events"]
        assert f"alla {total} händelser omräknade" in text_of(full.text)
        assert "Obruten:" in text_of(full.text)
