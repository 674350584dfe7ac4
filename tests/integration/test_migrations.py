"""The migrations: they build exactly the models' schema, and the closed vocabularies hold.

The words a column may hold are CHECK constraints derived from the enums of
`workflow/` (on SQLite, for tables that cannot be altered in place, triggers
with the same rule). Here the database itself is asked: a word outside the
vocabulary is refused, and every word inside it is accepted.
"""

from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from db import migrate
from db.base import Base
from db.engine import WRITE, Database, open_database
from tests import databases
from workflow.delivery import DeliveryStatus, MailStatus, ReminderStatus
from workflow.events import EventType
from workflow.states import Outcome, VersionState

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_the_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def _insert_event(db: Database, type_: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (at, type, actor_name, actor_role, data, chain, prev_hash,"
                " hash) VALUES (:at, :type, 'test', 'system', '{}', '_t', :h, :h)"
            ),
            {"at": NOW.replace(tzinfo=None), "type": type_, "h": "0" * 64},
        )


def test_every_event_type_is_accepted_and_nothing_else(db: Database) -> None:
    for event_type in EventType:
        _insert_event(db, event_type)
    with pytest.raises(IntegrityError, match="ck_events_type"):
        _insert_event(db, "version.invented")


def _words_allowed(db: Database, table: str, column: str, words: type[StrEnum]) -> None:
    """Every word of `words` passes `table.column`'s check and another does not (read from
    the constraint or trigger the migrations wrote)."""
    with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            definition = connection.execute(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                {"n": f"ck_{table}_{column}"},
            ).scalar_one()
        else:
            definition = " ".join(
                connection.execute(
                    text("SELECT sql FROM sqlite_master WHERE tbl_name = :t AND sql IS NOT NULL"),
                    {"t": table},
                ).scalars()
            )
    for word in words:
        assert f"'{word.value}'" in definition, (table, column, word)


@pytest.mark.parametrize(
    ("table", "column", "words"),
    [
        ("versions", "state", VersionState),
        ("decisions", "outcome", Outcome),
        ("reminders", "status", ReminderStatus),
        ("outbox_mail", "status", MailStatus),
        ("webhook_deliveries", "status", DeliveryStatus),
        ("events", "type", EventType),
    ],
)
def test_each_vocabulary_is_the_enums(
    db: Database, table: str, column: str, words: type[StrEnum]
) -> None:
    _words_allowed(db, table, column, words)


def test_a_delivery_status_outside_the_vocabulary_is_refused(db: Database) -> None:
    _insert_event(db, EventType.KEY_CREATED)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhooks (id, url, events, sealed_secret, created_by, created_at)"
                " VALUES ('w', 'https://x.example/', '[]', 's', 't', :at)"
            ),
            {"at": NOW.replace(tzinfo=None)},
        )
    with (
        pytest.raises(IntegrityError, match="ck_webhook_deliveries_status"),
        db.engine.begin() as c,
    ):
        c.execute(
            text(
                "INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, status,"
                " attempts, next_attempt_at, created_at)"
                " SELECT 'w', max(seq), 'key.created', 'lost', 0, :at, :at FROM events"
            ),
            {"at": NOW.replace(tzinfo=None)},
        )


@pytest.mark.parametrize("backend", databases.BACKENDS)
def test_0005_carries_announced_decisions_and_entries_into_force(
    backend: str, tmp_path: Path
) -> None:
    """Decisions recorded before the corrected rule get `appeal_until` and `final_on` (the day
    after it); a version that entered into force has entered once, and holds its key."""
    with databases.empty_database(backend, tmp_path) as url:
        db = open_database(url)
        try:
            _upgrade(db, "0004")
            with db.engine.begin() as connection:
                for sql in OLD_ROWS:
                    connection.execute(text(sql), {"at": NOW.replace(tzinfo=None)})
            _upgrade(db, "head")
            with db.engine.connect() as connection:
                decisions = connection.execute(
                    text("SELECT id, appeal_until, final_on, status FROM decisions ORDER BY id")
                ).all()
                version = connection.execute(
                    text("SELECT entries, final_on FROM versions WHERE id = 'v2'")
                ).one()
                keys = connection.execute(text("SELECT key FROM event_keys")).scalars().all()
        finally:
            db.dispose()
    as_dates = [
        (d_id, _day(until), _day(final), status) for d_id, until, final, status in decisions
    ]
    assert as_dates == [
        ("d1", date(2019, 7, 4), date(2019, 7, 5), "standing"),  # announced 13 June
        ("d2", None, None, "standing"),  # never announced
    ]
    assert version[0] == 1
    assert _day(version[1]) is None  # one approval's legal force is not known
    assert keys == ["version.in_force:v2:1"]


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _upgrade(db: Database, revision: str) -> None:
    config = migrate.alembic_config()
    with db.engine.execution_options(**{WRITE: True}).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


OLD_ROWS = (
    "INSERT INTO boards (id, municipality, name, municipality_code, email) VALUES"
    " ('a', 'A kommun', 'Kommunstyrelsen', '0001', 'ks@a.example'),"
    " ('b', 'B kommun', 'Kommunstyrelsen', '0002', 'ks@b.example')",
    "INSERT INTO programs (id, title, owner, created_at) VALUES ('p', 'P', 'O', :at)",
    "INSERT INTO program_boards (program_id, board_id, position) VALUES ('p', 'a', 0),"
    " ('p', 'b', 1)",
    "INSERT INTO versions (id, program_id, label, state, drafted_on, valid_from, imported,"
    " created_at, created_by, in_force_from) VALUES ('v2', 'p', 'V2', 'in_force',"
    " '2019-05-28', '2019-01-01', false, :at, 'test', '2019-06-10')",
    "INSERT INTO decisions (id, version_id, board_id, outcome, decided_on, paragraph,"
    " case_number, announced_on, final_on, recorded_by, recorded_by_role, recorded_at)"
    " VALUES ('d1', 'v2', 'a', 'approved', '2019-06-10', '§ 1', 'x', '2019-06-13',"
    " '2019-07-04', 'test', 'board', :at), ('d2', 'v2', 'b', 'approved', '2019-06-10',"
    " '§ 2', 'y', NULL, NULL, 'test', 'board', :at)",
    "INSERT INTO events (at, type, actor_name, actor_role, version_id, program_id, data,"
    " chain, prev_hash, hash) VALUES (:at, 'version.in_force', 'test', 'board', 'v2', 'p',"
    " '{}', 'p', '0', '1')",
)
"""Rows as revision 0004 stored them: `final_on` then meant the last day to appeal."""
