"""The unit of work and the version repository, on real SQLite and PostgreSQL.

What every command relies on: one transaction that stores the versions,
appends their events to the audit chain and runs the outbox writers; nothing
at all when the block is left without commit or a writer fails.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import commands, models
from db.engine import Database
from db.repositories import standing_decisions
from db.uow import UnitOfWork
from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035
from workflow.actors import Actor, Role
from workflow.decisions import Decision
from workflow.errors import InvalidTransition
from workflow.events import Event, EventType
from workflow.states import BoardStatus, Outcome, VersionState

NOW = datetime(2019, 5, 29, 9, tzinfo=UTC)
RESPOND_BY = date(2019, 6, 24)
DECIDED_ON = date(2019, 5, 27)
SECRETARIAT = Actor("secretariat", Role.SECRETARIAT)


def event_types(db: Database, version_id: str) -> list[str]:
    with db.reads() as session:
        return list(
            session.scalars(
                select(models.Event.type)
                .where(models.Event.version_id == version_id)
                .order_by(models.Event.seq)
            )
        )


def state(db: Database, version_id: str) -> str:
    with db.reads() as session:
        return session.get_one(models.Version, version_id).state


def decide(
    db: Database, board_id: str, outcome: Outcome = Outcome.APPROVED, at: datetime = NOW
) -> None:
    actor = Actor(f"{board_id}-system", Role.BOARD, board_id)
    with UnitOfWork(db, actor, at) as uow:
        decision = Decision(
            commands.new_id(), board_id, outcome, DECIDED_ON, "§ 60", "2019/KS 0260"
        )
        commands.record_decision(uow, SUP_2035, decision)
        uow.commit()


def send_out(db: Database) -> None:
    with UnitOfWork(db, SECRETARIAT, NOW) as uow:
        commands.send_out(uow, SUP_2035, RESPOND_BY)
        uow.commit()


def test_commit_stores_the_change_chains_its_events_and_runs_the_writers_in_one_transaction(
    seeded: Database,
) -> None:
    seen: list[tuple[list[str], bool]] = []

    def writer(session: Session, rows: Sequence[models.Event]) -> None:
        seen.append(([row.type for row in rows], session.in_transaction()))

    seeded.outbox_writers[:] = [writer]
    with UnitOfWork(seeded, SECRETARIAT, NOW) as uow:
        commands.send_out(uow, SUP_2035, RESPOND_BY)
        uow.record(Event(EventType.KEY_REVOKED, None, data={"name": "x"}))
        uow.commit()
    assert seen == [(["key.revoked", "version.sent_out"], True)]
    assert state(seeded, SUP_2035) == "sent_out"
    with seeded.reads() as session:
        rows = list(session.scalars(select(models.Event).order_by(models.Event.seq)))
        heads = {h.chain: h for h in session.scalars(select(models.ChainHead))}
    last = {row.chain: row for row in rows}
    assert last["sup"].type == "version.sent_out"
    assert last["_global"].type == "key.revoked"
    for chain, row in last.items():
        assert (heads[chain].seq, heads[chain].hash) == (row.seq, row.hash)
    assert all(row.actor_name == "secretariat" for row in rows[-2:])


def test_leaving_without_commit_changes_nothing(seeded: Database) -> None:
    before = event_types(seeded, SUP_2035)
    with UnitOfWork(seeded, SECRETARIAT, NOW) as uow:
        commands.send_out(uow, SUP_2035, RESPOND_BY)
        uow.flush()
        assert uow.session.get_one(models.Version, SUP_2035).state == "sent_out"
    assert state(seeded, SUP_2035) == "drafted"
    assert event_types(seeded, SUP_2035) == before


def test_a_failing_writer_leaves_neither_the_change_nor_its_events(seeded: Database) -> None:
    def broken(_session: Session, _rows: Sequence[models.Event]) -> None:
        raise RuntimeError("the outbox is full")

    seeded.outbox_writers[:] = [broken]
    before = event_types(seeded, SUP_2035)
    with pytest.raises(RuntimeError):
        send_out(seeded)
    assert state(seeded, SUP_2035) == "drafted"
    assert event_types(seeded, SUP_2035) == before


def test_flushing_twice_appends_each_event_once(seeded: Database) -> None:
    with UnitOfWork(seeded, SECRETARIAT, NOW) as uow:
        commands.send_out(uow, SUP_2035, RESPOND_BY)
        uow.flush()
        uow.flush()
        uow.commit()
    assert event_types(seeded, SUP_2035).count("version.sent_out") == 1


def test_the_last_approval_moves_both_versions_in_one_commit(seeded: Database) -> None:
    send_out(seeded)
    for board_id in BOARD_IDS:
        decide(seeded, board_id)
    # The predecessor left `in_force` before the version entered it: the
    # one-in-force index is checked per statement, and it held.
    assert state(seeded, SUP_2035) == "in_force"
    assert state(seeded, SUP_2013) == "superseded"
    assert event_types(seeded, SUP_2035)[-2:] == ["decision.recorded", "version.in_force"]
    assert event_types(seeded, SUP_2013)[-1] == "version.superseded"


def test_the_repository_hands_out_one_object_per_version_with_each_boards_standing(
    seeded: Database,
) -> None:
    send_out(seeded)
    decide(seeded, "haninge", Outcome.REFERRED_BACK)
    decide(seeded, "haninge", at=NOW + timedelta(seconds=1))
    decide(seeded, "tyreso", Outcome.TABLED)
    with UnitOfWork(seeded, SECRETARIAT, NOW) as uow:
        version = uow.versions.get(SUP_2035, lock=True)
        assert version is not None
        assert uow.versions.get(SUP_2035) is version
        assert version.state is VersionState.SENT_OUT
        assert version.members == tuple(BOARD_IDS)
        assert version.status("haninge") is BoardStatus.APPROVED  # the later decision stands
        assert version.status("tyreso") is BoardStatus.TABLED
        assert version.status("salem") is BoardStatus.PENDING
        assert version.board("haninge").decided_on == DECIDED_ON
        assert uow.versions.get("no-such-version") is None
        standing = standing_decisions(uow.session, SUP_2035, "sup")
        assert list(standing) == BOARD_IDS
        haninge = standing["haninge"]
        assert haninge is not None
        assert haninge.outcome == "approved"
        assert standing["salem"] is None


def withdraw(db: Database, version_id: str) -> None:
    with UnitOfWork(db, SECRETARIAT, NOW) as uow:
        commands.withdraw(uow, version_id, "too late")
        uow.commit()


def test_a_refused_command_writes_nothing(seeded: Database) -> None:
    with seeded.reads() as session:
        events = session.scalar(select(func.count()).select_from(models.Event))
        heads = session.execute(select(models.ChainHead.chain, models.ChainHead.hash)).all()
    with pytest.raises(InvalidTransition, match="cannot withdraw from in_force"):
        withdraw(seeded, SUP_2013)
    with seeded.reads() as session:
        assert session.scalar(select(func.count()).select_from(models.Event)) == events
        assert session.execute(select(models.ChainHead.chain, models.ChainHead.hash)).all() == heads
