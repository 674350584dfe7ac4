"""Many processes, one database: simultaneous decisions through two real servers.

Rule 5 of the contract: at most one version of a program is in force at any
moment, and exactly one `version.in_force` event is written per version,
however many decisions arrive at once, from however many processes. These
tests fire the decisions from threads released by one barrier, through two
`ratify serve` processes on the same database, and then check what the API
answered and what the database holds.
"""

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from db import audit, models, seed
from db.engine import Database, open_database
from tests.e2e.conftest import Ratify, Server, backend_of
from workflow.dates import today_in_stockholm

BOARD_IDS = [b[0] for b in seed.BOARDS]
ROUNDS = {"postgresql": 15, "sqlite": 10}
"""Rounds of eight simultaneous approvals, per backend."""
RACES = {"postgresql": 8, "sqlite": 5}
"""Rounds of two versions racing to supersede the same predecessor, per backend."""
BARRIER_TIMEOUT = 60.0


@dataclass
class Cluster:
    """Two servers on one database, a secretariat client per server, a client per board."""

    ratify: Ratify
    db: Database
    servers: list[Server]
    secretariat: list[httpx.Client]
    boards: dict[str, httpx.Client]


@pytest.fixture(scope="module")
def cluster(module_ratify: Ratify, module_database_url: str) -> Iterator[Cluster]:
    """Two servers on one database per backend; board `i` talks to server `i % 2`.

    Shared by the tests of this module (starting the servers and running
    `ratify keys create` nine times is most of the cost); each test starts
    from whatever version is in force.
    """
    ratify = module_ratify
    servers = ratify.serve(2)
    specs: dict[str, tuple[str, str | None]] = {"secretariat": ("secretariat", None)}
    specs |= {f"{board}-system": ("board", board) for board in BOARD_IDS}
    tokens = ratify.create_keys(specs)
    db = open_database(module_database_url)
    try:
        yield Cluster(
            ratify=ratify,
            db=db,
            servers=servers,
            secretariat=[ratify.client(s, tokens["secretariat"]) for s in servers],
            boards={
                board: ratify.client(servers[i % 2], tokens[f"{board}-system"])
                for i, board in enumerate(BOARD_IDS)
            },
        )
    finally:
        db.dispose()


def in_force_now(cluster: Cluster) -> str:
    """The id of the version of `sup` in force, as the API says."""
    r = cluster.secretariat[0].get("/v1/programs/sup")
    assert r.status_code == 200, r.text
    version_id: str = r.json()["in_force_version_id"]
    return version_id


def state_of(cluster: Cluster, version_id: str) -> str:
    """A version's state, as the API says."""
    r = cluster.secretariat[1].get(f"/v1/versions/{version_id}")
    assert r.status_code == 200, r.text
    state: str = r.json()["state"]
    return state


def respond_by() -> str:
    """An answer date a month ahead."""
    return (today_in_stockholm(datetime.now(UTC)) + timedelta(days=30)).isoformat()


def approval(board_id: str, decided_on: date) -> dict[str, Any]:
    """An approval as a board's case-management system records it."""
    return {
        "board_id": board_id,
        "outcome": "approved",
        "decided_on": decided_on.isoformat(),
        "paragraph": "§ 60",
        "case_number": f"2019/KS 0260 005-{board_id}",
    }


def new_version(client: httpx.Client, label: str, replaces: str) -> str:
    """Draft a version of `sup` that replaces `replaces`; its id."""
    r = client.post(
        "/v1/programs/sup/versions",
        json={
            "label": label,
            "drafted_on": "2019-05-28",
            "valid_from": "2019-01-01",
            "valid_until": "2030-12-31",
            "replaces": replaces,
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "drafted"
    version_id: str = r.json()["id"]
    return version_id


def send_out(client: httpx.Client, version_id: str) -> None:
    """Send a drafted version out for decision."""
    r = client.post(f"/v1/versions/{version_id}/send-out", json={"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "sent_out"


def decide(client: httpx.Client, version_id: str, board_id: str, on: date) -> httpx.Response:
    """POST one approval."""
    return client.post(f"/v1/versions/{version_id}/decisions", json=approval(board_id, on))


def approve_all_but_last(
    cluster: Cluster, last: dict[str, str], on: date, board_id: str
) -> list[httpx.Response]:
    """The board approves each version in `last` unless it is that version's last board."""
    client = cluster.boards[board_id]
    return [decide(client, v, board_id, on) for v, final in last.items() if final != board_id]


def at_once(
    pool: ThreadPoolExecutor, calls: Sequence[Callable[[], httpx.Response]]
) -> list[httpx.Response]:
    """Run `calls` on as many threads, released together by one barrier; answers in order."""
    barrier = threading.Barrier(len(calls), timeout=BARRIER_TIMEOUT)

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    futures = [pool.submit(run, call) for call in calls]
    return [future.result() for future in futures]


def count(db: Database, sql: str, **params: Any) -> int:
    """One `count(*)` straight from the database."""
    with db.engine.connect() as connection:
        value = connection.execute(text(sql), params).scalar_one()
    assert isinstance(value, int)
    return value


def in_force_ids(db: Database) -> list[str]:
    """The ids of every version of `sup` that the database holds as in force."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id FROM versions WHERE program_id = 'sup' AND state = 'in_force'")
        )
        return [row[0] for row in rows]


def events_of(db: Database, type_: str, version_id: str) -> int:
    """How many events of `type_` the audit trail holds for a version."""
    return count(
        db,
        "SELECT count(*) FROM events WHERE type = :t AND version_id = :v",
        t=type_,
        v=version_id,
    )


def assert_entered_into_force(
    cluster: Cluster, version_id: str, predecessor_id: str, expected_from: date, approvals: int
) -> None:
    """What both servers show and the database holds after `version_id` entered into force."""
    first, second = cluster.secretariat
    new = first.get(f"/v1/versions/{version_id}")
    old = second.get(f"/v1/versions/{predecessor_id}")
    assert new.status_code == 200, new.text
    assert old.status_code == 200, old.text
    assert new.json()["state"] == "in_force"
    assert new.json()["in_force_from"] == expected_from.isoformat()
    assert {b["status"] for b in new.json()["boards"]} == {"approved"}
    assert old.json()["state"] == "superseded"
    assert old.json()["superseded_on"] == new.json()["in_force_from"]
    assert old.json()["superseded_by"] == version_id
    for client in cluster.secretariat:
        program = client.get("/v1/programs/sup")
        assert program.status_code == 200, program.text
        assert program.json()["in_force_version_id"] == version_id

    db = cluster.db
    assert events_of(db, "version.in_force", version_id) == 1
    assert events_of(db, "version.superseded", predecessor_id) == 1
    assert events_of(db, "decision.recorded", version_id) == approvals
    assert in_force_ids(db) == [version_id]
    decisions = count(db, "SELECT count(*) FROM decisions WHERE version_id = :v", v=version_id)
    assert decisions == approvals


def assert_chain_intact(db: Database, chain: str = "sup") -> None:
    """The program's audit chain is one unbroken line: no fork, no bad hash, head at the end."""
    with db.reads() as session:
        rows = list(
            session.scalars(
                select(models.Event).where(models.Event.chain == chain).order_by(models.Event.seq)
            )
        )
        head = session.get(models.ChainHead, chain)
    assert rows
    previous = audit.GENESIS
    for row in rows:
        assert row.prev_hash == previous, f"the chain forks at seq {row.seq}"
        assert audit.event_hash(row) == row.hash, f"bad hash at seq {row.seq}"
        previous = row.hash
    assert head is not None
    assert (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash)


def test_eight_simultaneous_approvals_put_the_version_in_force_exactly_once(
    cluster: Cluster, module_database_url: str
) -> None:
    secretariat = cluster.secretariat[0]
    version = in_force_now(cluster)
    with ThreadPoolExecutor(max_workers=len(BOARD_IDS)) as pool:
        for round_ in range(ROUNDS[backend_of(module_database_url)]):
            predecessor = version
            if round_ == 0 and state_of(cluster, seed.SUP_2035) == "drafted":
                assert predecessor == seed.SUP_2013
                version = seed.SUP_2035  # the seeded story first
            else:
                version = new_version(secretariat, f"SUP e2e {round_}", replaces=predecessor)
            send_out(secretariat, version)
            # A different board holds the latest meeting date each round.
            base = date(2019, 6, 3) + timedelta(days=10 * round_)
            days = {b: base + timedelta(days=(i + round_) % 8) for i, b in enumerate(BOARD_IDS)}

            responses = at_once(
                pool,
                [partial(decide, cluster.boards[b], version, b, days[b]) for b in BOARD_IDS],
            )

            for board, response in zip(BOARD_IDS, responses, strict=True):
                assert response.status_code == 201, (round_, board, response.text)
                body = response.json()
                assert body["board_id"] == board
                assert body["version_id"] == version
                assert body["recorded_by"] == f"{board}-system"
                assert body["decided_on"] == days[board].isoformat()
            states = sorted(r.json()["version_state"] for r in responses)
            assert states == ["in_force"] + ["sent_out"] * 7, (round_, states)
            assert_entered_into_force(
                cluster, version, predecessor, max(days.values()), approvals=len(BOARD_IDS)
            )

    assert_chain_intact(cluster.db)
    assert cluster.ratify.problems() == []


def test_two_versions_racing_to_supersede_one_predecessor_let_exactly_one_win(
    cluster: Cluster, module_database_url: str
) -> None:
    secretariat = cluster.secretariat[0]
    current = in_force_now(cluster)
    with ThreadPoolExecutor(max_workers=len(BOARD_IDS)) as pool:
        for round_ in range(RACES[backend_of(module_database_url)]):
            first = new_version(secretariat, f"Race {round_} A", replaces=current)
            second = new_version(secretariat, f"Race {round_} B", replaces=current)
            send_out(secretariat, first)
            send_out(cluster.secretariat[1], second)
            # Neighbouring boards talk to different servers.
            last = {
                first: BOARD_IDS[round_ % 7],
                second: BOARD_IDS[round_ % 7 + 1],
            }
            day = date(2020, 1, 7) + timedelta(days=10 * round_)

            seven_each = partial(approve_all_but_last, cluster, last, day)
            for responses in pool.map(seven_each, BOARD_IDS):
                for response in responses:
                    assert response.status_code == 201, response.text
                    assert response.json()["version_state"] == "sent_out"

            racing = (first, second)
            eighth = at_once(
                pool,
                [partial(decide, cluster.boards[last[v]], v, last[v], day) for v in racing],
            )

            assert sorted(r.status_code for r in eighth) == [201, 409], [r.text for r in eighth]
            won = 0 if eighth[0].status_code == 201 else 1
            winner, loser = racing[won], racing[1 - won]
            assert eighth[won].json()["version_state"] == "in_force"
            refused = eighth[1 - won]
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "predecessor_not_in_force", refused.text
            assert refused.json()["status"] == 409

            assert_entered_into_force(cluster, winner, current, day, approvals=len(BOARD_IDS))
            lost = cluster.secretariat[1].get(f"/v1/versions/{loser}").json()
            assert lost["state"] == "sent_out"
            assert lost["in_force_from"] is None
            statuses = {b["board_id"]: b["status"] for b in lost["boards"]}
            assert statuses.pop(last[loser]) == "pending"
            assert set(statuses.values()) == {"approved"}
            assert events_of(cluster.db, "version.in_force", loser) == 0
            assert events_of(cluster.db, "decision.recorded", loser) == 7
            current = winner

    assert_chain_intact(cluster.db)
    assert cluster.ratify.problems() == []


def lodge(client: httpx.Client, decision_id: str) -> str:
    """A timely appeal of a decision; its id."""
    r = client.post(
        f"/v1/decisions/{decision_id}/appeals",
        json={"lodged_on": "2019-06-20", "court": "Förvaltningsrätten", "case_number": "1-19"},
    )
    assert r.status_code == 201, r.text
    appeal_id: str = r.json()["id"]
    return appeal_id


def annul(client: httpx.Client, appeal_id: str) -> httpx.Response:
    """The court annuls the decision appealed."""
    return client.post(
        f"/v1/appeals/{appeal_id}/ruling",
        json={"outcome": "annulled", "ruled_on": "2019-09-02", "ruling_final_on": "2019-09-24"},
    )


def test_an_annulment_racing_an_approval_leaves_exactly_one_version_in_force(
    cluster: Cluster, module_database_url: str
) -> None:
    """Two races through two servers, alternately: the annulment of Haninge's approval
    against the last approval of a version still out (whichever wins, the predecessor
    ends in force); and, once the version is in force, the annulment against Haninge's
    new approval (whichever wins, exactly one of the two versions is in force)."""
    secretariat, other = cluster.secretariat
    with ThreadPoolExecutor(max_workers=2) as pool:
        for round_ in range(RACES[backend_of(module_database_url)]):
            predecessor = in_force_now(cluster)
            version = new_version(secretariat, f"Annulment race {round_}", replaces=predecessor)
            send_out(secretariat, version)
            day = date(2019, 6, 10)
            ids = {}
            for board in BOARD_IDS[:-1]:
                r = decide(cluster.boards[board], version, board, day)
                assert r.status_code == 201, r.text
                ids[board] = r.json()["id"]
            appeal = lodge(secretariat, ids["haninge"])
            last = BOARD_IDS[-1]
            if round_ % 2 == 0:  # the last approval against the annulment of another
                answers = at_once(
                    pool,
                    [
                        partial(annul, other, appeal),
                        partial(decide, cluster.boards[last], version, last, day),
                    ],
                )
                assert [a.status_code for a in answers] == [200, 201], [a.text for a in answers]
                assert in_force_ids(cluster.db) == [predecessor]
                assert state_of(cluster, version) == "sent_out"
            else:  # in force: the annulment against the annulled board's new approval
                assert decide(cluster.boards[last], version, last, day).status_code == 201
                answers = at_once(
                    pool,
                    [
                        partial(annul, other, appeal),
                        partial(decide, cluster.boards["haninge"], version, "haninge", day),
                    ],
                )
                assert answers[0].status_code == 200, answers[0].text
                assert answers[1].status_code in (201, 409), answers[1].text
                expected = version if answers[1].status_code == 201 else predecessor
                assert in_force_ids(cluster.db) == [expected]
                if expected == predecessor:  # refused: the version was in force; out again now
                    assert answers[1].json()["code"] == "invalid_transition"
                    r = decide(cluster.boards["haninge"], version, "haninge", day)
                    assert r.status_code == 201, r.text
                    assert in_force_ids(cluster.db) == [version]
            for client in cluster.secretariat:
                shown = client.get("/v1/programs/sup").json()["in_force_version_id"]
                assert shown == in_force_ids(cluster.db)[0]

    assert_chain_intact(cluster.db)
    assert cluster.ratify.problems() == []
