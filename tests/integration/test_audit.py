"""The audit trail: events where they belong, filters, stable paging, export, verify, register."""

import csv
import io
import threading
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from api import cli
from api.clock import utc_now
from db import audit, models
from db.audit_queries import Filters, list_events
from db.engine import Database
from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035, Api, decision, respond_by
from workflow.actors import Actor, Role
from workflow.events import Event, EventType


def read_page(db: Database, filters: Filters, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of `GET /v1/audit`, in the kind of session the route gets."""
    with db.lookups() as session:
        return list_events(session, filters, limit, cursor)


def approve_all(api: Api, version_id: str = SUP_2035) -> None:
    r = api.post(f"/v1/versions/{version_id}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    for board_id in BOARD_IDS:
        r = api.post(f"/v1/versions/{version_id}/decisions", decision(board_id), as_=board_id)
        assert r.status_code == 201, r.text


def events(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/v1/audit", as_="auditor", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def count_events(db: Database) -> int:
    with db.reads() as session:
        return session.scalar(select(func.count()).select_from(models.Event)) or 0


def test_each_state_change_writes_its_event_with_actor_and_request(api: Api) -> None:
    r = api.post(
        f"/v1/versions/{SUP_2035}/send-out",
        {"respond_by": respond_by()},
        headers={"Idempotency-Key": "send-1", "User-Agent": "w3d3/1.0"},
    )
    assert r.status_code == 200
    for board_id in BOARD_IDS:
        api.post(f"/v1/versions/{SUP_2035}/decisions", decision(board_id), as_=board_id)

    types = [e["type"] for e in events(api, version_id=SUP_2035)]
    assert types == ["version.drafted", "version.sent_out"] + ["decision.recorded"] * 8 + [
        "version.in_force"
    ]
    assert [e["type"] for e in events(api, version_id=SUP_2013)] == [
        "version.imported",
        "decision.imported",
        "version.superseded",
    ]
    sent = events(api, type="version.sent_out")[0]
    assert sent["actor"] == {"name": "secretariat", "role": "secretariat", "board_id": None}
    assert sent["data"]["request"]["idempotency_key"] == "send-1"
    assert sent["data"]["request"]["user_agent"] == "w3d3/1.0"
    assert sent["data"]["request"]["client"]
    tyreso = events(api, type="decision.recorded", board_id="tyreso")[0]
    assert tyreso["actor"] == {"name": "tyreso-system", "role": "board", "board_id": "tyreso"}
    assert tyreso["data"]["paragraph"] == "§ 60"
    assert tyreso["data"]["case_number"] == "2019/KS 0260 005-tyreso"
    assert tyreso["data"]["decided_on"] == "2019-06-10"
    in_force = events(api, type="version.in_force")[0]
    superseded = events(api, type="version.superseded")[0]
    assert in_force["seq"] < superseded["seq"]
    assert superseded["data"]["superseded_by"] == SUP_2035


def test_a_refused_command_writes_no_event(api: Api, seeded: Database) -> None:
    approve_all(api)
    before = count_events(seeded)
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("tyreso"), as_="tyreso")
    assert r.status_code == 409
    r = api.post(f"/v1/versions/{SUP_2035}/withdraw", {"reason": "x"})
    assert r.status_code == 409
    assert count_events(seeded) == before


def test_filters(api: Api) -> None:
    approve_all(api)
    everything = events(api)
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)
    assert {e["board_id"] for e in events(api, board_id="haninge")} == {"haninge"}
    assert {e["actor"]["name"] for e in events(api, actor="haninge-system")} == {"haninge-system"}
    assert {e["program_id"] for e in events(api, program_id="sup")} == {"sup"}
    assert len(events(api, type="decision.recorded")) == 8
    middle = everything[len(everything) // 2]["at"]
    since = events(api, since=middle)
    until = events(api, until=middle)
    assert len(since) + len(until) == len(everything)
    assert all(e["at"] >= middle for e in since)
    r = api.get("/v1/audit", as_="auditor", params={"since": "2019-06-10T10:00:00"})
    assert r.status_code == 422  # RFC 3339 needs an offset


def test_paging_while_events_arrive_misses_nothing_and_repeats_nothing(api: Api) -> None:
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    seen: list[int] = []
    cursor = None
    boards = iter(BOARD_IDS)
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/audit", as_="auditor", params=params).json()
        seen.extend(e["seq"] for e in page["items"])
        board = next(boards, None)  # the table grows between pages
        if board is not None:
            api.post(
                f"/v1/versions/{SUP_2035}/decisions",
                decision(board, outcome="referred_back"),
                as_=board,
            )
        cursor = page["next_cursor"]
        if cursor is None and board is None:
            break
        if cursor is None:
            cursor = _cursor_after(seen[-1])
    assert len(seen) == len(set(seen))
    assert seen == [e["seq"] for e in events(api)]


def _cursor_after(seq: int) -> str:
    from db.queries import encode_cursor

    return encode_cursor(str(seq))


def test_paging_under_concurrent_writers(api: Api) -> None:
    """Pages read while eight threads write decisions still add up to the whole trail."""
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    done = threading.Event()

    def write(board_id: str) -> None:
        for _ in range(4):
            api.post(
                f"/v1/versions/{SUP_2035}/decisions",
                decision(board_id, outcome="tabled"),
                as_=board_id,
            )

    threads = [threading.Thread(target=write, args=(b,)) for b in BOARD_IDS]
    for t in threads:
        t.start()
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/audit", as_="auditor", params=params).json()
        seen.extend(e["seq"] for e in page["items"])
        if page["next_cursor"]:
            cursor = page["next_cursor"]
        elif seen:
            cursor = _cursor_after(seen[-1])
        if done.is_set() and not page["items"]:
            break
        if not any(t.is_alive() for t in threads):
            done.set()
    assert len(seen) == len(set(seen))
    assert seen == [e["seq"] for e in events(api)]
    assert len(events(api, type="decision.recorded")) == 32


def test_an_event_numbered_first_but_committed_last_is_not_skipped(
    api: Api, seeded: Database
) -> None:
    """A page never moves past an event that is numbered but not yet committed.

    On PostgreSQL, writer A numbers an event, writer B numbers a later one (on
    another chain) and commits first: a page read meanwhile waits for A (the
    settled `seq`), then shows both, A's first. SQLite serializes writers: a
    page read while A is open ends before A's event, and the next one shows it.
    """
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    start = _cursor_after(events(api)[-1]["seq"])
    actor = Actor(name="test", role=Role.SECRETARIAT)
    with seeded.writes() as a:
        (first,) = audit.append(
            a, [Event(EventType.VERSION_DRAFTED, "sup", SUP_2035)], actor, utc_now()
        )
        if seeded.dialect == "sqlite":
            assert read_page(seeded, Filters(), 100, start)["items"] == []
            a.commit()
            page = read_page(seeded, Filters(), 100, start)
            assert [e["seq"] for e in page["items"]] == [first.seq]
            return
        with seeded.writes() as b:
            (second,) = audit.append(b, [Event(EventType.KEY_CREATED, None)], actor, utc_now())
            b.commit()
        assert first.seq < second.seq
        pages: list[dict[str, Any]] = []
        reader = threading.Thread(
            target=lambda: pages.append(read_page(seeded, Filters(), 100, start))
        )
        reader.start()
        with seeded.lookups() as session:
            waiting = text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            while not session.scalar(waiting):  # the reader waits for A to end
                assert reader.is_alive(), pages
                session.execute(text("SELECT pg_sleep(0.01)"))
        a.commit()
    reader.join()
    assert [(e["seq"], e["type"]) for e in pages[0]["items"]] == [
        (first.seq, "version.drafted"),
        (second.seq, "key.created"),
    ]


def test_export_csv_and_json_match_the_trail(api: Api) -> None:
    approve_all(api)
    trail = events(api)
    r = api.get("/v1/audit/export", as_="auditor", params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["seq"]) for row in rows] == [e["seq"] for e in trail]
    assert [row["hash"] for row in rows] == [e["hash"] for e in trail]
    r = api.get(
        "/v1/audit/export", as_="auditor", params={"format": "json", "type": "decision.recorded"}
    )
    assert r.json() == events(api, type="decision.recorded")
    r = api.get("/v1/audit/export", as_="auditor", params={"format": "xml"})
    assert r.status_code == 422


def test_verify_ok_and_cli(api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    approve_all(api)
    r = api.get("/v1/audit/verify", as_="auditor").json()
    assert r["ok"] is True
    assert r["events"] == len(events(api))
    assert len(r["head"]) == 64
    monkeypatch.setenv("RATIFY_DATABASE_URL", database_url)
    assert cli.main(["audit", "verify"]) == 0


def _tamper(db: Database, sql: str, **params: Any) -> None:
    with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        else:
            connection.execute(text("DROP TRIGGER events_no_update"))
            connection.execute(text("DROP TRIGGER events_no_delete"))
        connection.execute(text(sql), params)


def test_the_database_refuses_update_and_delete(api: Api, seeded: Database) -> None:
    for sql in (
        "UPDATE events SET actor_name = 'x' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 1",
    ):
        with pytest.raises(Exception, match="append-only"), seeded.engine.begin() as connection:
            connection.execute(text(sql))


@pytest.mark.parametrize("what", ["edit_data", "edit_actor", "delete_middle", "delete_last"])
def test_verify_names_the_first_broken_seq(
    api: Api, seeded: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    approve_all(api)
    chain = [e["seq"] for e in events(api, program_id="sup")]
    target = chain[len(chain) // 2]
    if what == "edit_data":
        _tamper(
            seeded,
            "UPDATE events SET data = :d WHERE seq = :s",
            d='{"outcome": "rejected"}',
            s=target,
        )
        expected = target
    elif what == "edit_actor":
        _tamper(seeded, "UPDATE events SET actor_name = 'someone' WHERE seq = :s", s=target)
        expected = target
    elif what == "delete_middle":
        _tamper(seeded, "DELETE FROM events WHERE seq = :s", s=target)
        expected = chain[chain.index(target) + 1]  # the event whose link now breaks
    else:
        target = chain[-1]
        _tamper(seeded, "DELETE FROM events WHERE seq = :s", s=target)
        expected = target
    r = api.get("/v1/audit/verify", as_="auditor").json()
    assert r["ok"] is False
    assert r["first_bad_seq"] == expected
    monkeypatch.setenv("RATIFY_DATABASE_URL", database_url)
    assert cli.main(["audit", "verify"]) == 1


def test_register_json_and_csv(api: Api) -> None:
    approve_all(api)
    api.post(
        f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}
    )  # refused, changes nothing
    r = api.get(f"/v1/versions/{SUP_2035}/register", as_="tyreso")
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "in_force"
    assert [row["board_id"] for row in body["items"]] == BOARD_IDS
    tyreso = body["items"][-1]
    assert tyreso["municipality"] == "Tyresö kommun"
    assert tyreso["outcome"] == "approved"
    assert tyreso["paragraph"] == "§ 60"
    assert tyreso["recorded_by"] == "tyreso-system"
    r = api.get(f"/v1/versions/{SUP_2035}/register", as_="auditor", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 8
    assert rows[-1]["decided_on"] == "2019-06-10"
    old = api.get(f"/v1/versions/{SUP_2013}/register", as_="auditor").json()["items"]
    assert [(r["board_id"], r["outcome"]) for r in old if r["outcome"] != "unknown"] == [
        ("tyreso", "approved")
    ]
    assert api.get("/v1/versions/nope/register", as_="auditor").status_code == 404


def test_an_event_on_a_begun_chain_is_one_statement_on_postgresql(
    seeded: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert and the head's move are one CTE on PostgreSQL (SQLite: two); either way
    the head ends on the new event, and a second append links to it."""
    actor = Actor(name="test", role=Role.SECRETARIAT)
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    appended: list[models.Event] = []
    for _ in range(2):
        with seeded.writes() as session:
            event.listen(seeded.engine, "before_cursor_execute", note)
            try:
                sent.clear()
                appended += audit.append(
                    session, [Event(EventType.VERSION_DRAFTED, "sup", SUP_2035)], actor, utc_now()
                )
            finally:
                event.remove(seeded.engine, "before_cursor_execute", note)
            session.commit()
        writes = [s for s in sent if s.split()[0].upper() in ("WITH", "INSERT", "UPDATE")]
        assert len(writes) == (1 if seeded.dialect == "postgresql" else 2), sent
    first, second = appended
    assert second.prev_hash == first.hash
    with seeded.reads() as session:
        head = session.get_one(models.ChainHead, "sup")
        assert (head.seq, head.hash) == (second.seq, second.hash)
    monkeypatch.setenv("RATIFY_DATABASE_URL", database_url)
    assert cli.main(["audit", "verify"]) == 0
