"""A person in the audit trail: the canonical form an offline verifier re-computes.

The hash is re-computed here from the documented form (db/audit.py's
docstring), not with ratify's own function: an API key's event as it was
hashed before people could sign in (a three-item actor), a person's with
their subject and e-mail (five items). Changing either breaks the chain.
"""

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from db import audit_verify, commands, models
from db.engine import Database
from db.uow import UnitOfWork
from tests.conftest import SUP_2035
from workflow.actors import Actor, Role
from workflow.decisions import Decision
from workflow.states import Outcome

ANNA = Actor("Anna Andersson", Role.BOARD, "tyreso", "9f1c2e7a-anna", "anna@tyreso.example")
KANSLIET = Actor("kansliet", Role.SECRETARIAT)


def offline_hash(row: models.Event) -> str:
    """What an auditor's own verifier computes, from the documented canonical form."""
    actor: list[Any] = [row.actor_name, row.actor_role, row.actor_board_id]
    if row.actor_subject is not None:
        actor += [row.actor_subject, row.actor_email]
    fields = {
        "actor": actor,
        "at": row.at.astimezone(UTC).isoformat(),
        "board_id": row.board_id,
        "chain": row.chain,
        "data": row.data,
        "prev_hash": row.prev_hash,
        "program_id": row.program_id,
        "type": row.type,
        "version_id": row.version_id,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def act(db: Database, actor: Actor, run: Any) -> None:
    with UnitOfWork(db, actor, datetime.now(UTC)) as uow:
        run(uow)
        uow.commit()


def the_trail(db: Database) -> list[models.Event]:
    with db.reads() as session:
        return list(session.scalars(select(models.Event).order_by(models.Event.seq)))


def record(db: Database) -> None:
    """The secretariat (a key) sends SUP 2035 out; Anna (a person) records Tyresö's § 60."""
    act(db, KANSLIET, lambda uow: commands.send_out(uow, SUP_2035, date(2099, 1, 1)))
    decision = Decision(
        commands.new_id(), "tyreso", Outcome.APPROVED, date(2019, 6, 10), "§ 60", "2019/KS 0260"
    )
    act(db, ANNA, lambda uow: commands.record_decision(uow, SUP_2035, decision))


def test_keys_hash_as_before_and_people_with_subject_and_email(seeded: Database) -> None:
    record(seeded)
    trail = the_trail(seeded)
    for row in trail:
        assert offline_hash(row) == row.hash, row.seq
    *_, sent_out, recorded = trail
    assert (sent_out.type, sent_out.actor_subject, sent_out.actor_email) == (
        "version.sent_out",
        None,
        None,
    )
    assert (recorded.actor_name, recorded.actor_subject, recorded.actor_email) == (
        "Anna Andersson",
        "9f1c2e7a-anna",
        "anna@tyreso.example",
    )
    assert audit_verify.verify_database(seeded, datetime.now(UTC)).ok
    with seeded.reads() as session:
        stored = session.scalars(
            select(models.Decision).where(models.Decision.version_id == SUP_2035)
        ).one()
    assert (stored.recorded_by, stored.recorded_by_subject, stored.recorded_by_email) == (
        "Anna Andersson",
        "9f1c2e7a-anna",
        "anna@tyreso.example",
    )


@pytest.mark.parametrize(
    "change",
    [
        "actor_email = 'someone@else.example'",
        "actor_subject = 'somebody-else'",
        "actor_subject = NULL, actor_email = NULL",
    ],
)
def test_changing_who_a_person_was_breaks_the_chain(seeded: Database, change: str) -> None:
    record(seeded)
    target = the_trail(seeded)[-1].seq
    with seeded.engine.begin() as connection:
        if seeded.dialect == "postgresql":
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        else:
            connection.execute(text("DROP TRIGGER events_no_update"))
        connection.execute(text(f"UPDATE events SET {change} WHERE seq = :s"), {"s": target})
    result = audit_verify.verify_database(seeded, datetime.now(UTC))
    assert (result.ok, result.first_bad_seq) == (False, target)
