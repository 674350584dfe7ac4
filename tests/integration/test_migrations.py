"""The migrations: they build exactly the models' schema, and the closed vocabularies hold.

The words a column may hold are CHECK constraints derived from the enums of
`workflow/` (on SQLite, for tables that cannot be altered in place, triggers
with the same rule). Here the database itself is asked: a word outside the
vocabulary is refused, and every word inside it is accepted.
"""

from datetime import UTC, datetime
from enum import StrEnum

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from db.base import Base
from db.engine import Database
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
