"""The reminder sweep over several versions at once, on real SQLite and PostgreSQL.

A sweep handles its due versions in batches (`Config.batch_size` versions per
transaction, with a statement per step); these check what it stores against
what one version at a time would: the very e-mail an `EmailMessage` composes,
once per (version, board, slot), the schedule moved on.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from api.bootstrap import install_writers
from db import queries
from db.engine import Database
from db.mail_queue import Retry
from db.models import OutboxMail, Reminder, ReminderSchedule
from notifications import mail
from notifications.config import Config
from notifications.mail_writer import about_version, addressee
from notifications.reminder_sweep import sweep
from tests.conftest import BOARD_IDS, SUP_2035
from tests.integration.test_reminders import D_3, D_14, add_program, decide, send_out
from workflow.reminders import Slot

PROGRAMS = ["p-sweep-1", "p-sweep-2", "p-sweep-3", "p-sweep-4"]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(maildir=tmp_path / "mail", retry=Retry(max_attempts=3))


@pytest.fixture
def out(seeded: Database, config: Config) -> Database:
    """The seeded database with the mail outbox writer registered."""
    install_writers(seeded, config)
    return seeded


def versions_out(db: Database) -> list[str]:
    """SUP_2035 and four more versions, all sent out with the same answer date."""
    versions = [SUP_2035, *(add_program(db, p) for p in PROGRAMS)]
    for version_id in versions:
        send_out(db, version_id)
    return versions


def stored(db: Database) -> list[tuple[Reminder, OutboxMail]]:
    with db.reads() as session:
        rows = session.execute(
            select(Reminder, OutboxMail)
            .join(OutboxMail, OutboxMail.reminder_id == Reminder.id)
            .order_by(Reminder.version_id, Reminder.board_id, Reminder.slot)
        )
        return [(r, m) for r, m in rows]


def composed_one_by_one(db: Database, config: Config, reminder: Reminder, now: datetime) -> str:
    """The reminder's e-mail as an `EmailMessage` composes it, from the database's state."""
    with db.reads() as session:
        about = about_version(*queries.version_and_title(session, reminder.version_id))
        to = next(
            addressee(b)
            for b in queries.member_boards(session, [about.program_id])[about.program_id]
            if b.id == reminder.board_id
        )
    message = mail.message(
        *mail.reminder_parts(
            about,
            to,
            Slot(reminder.slot, reminder.scheduled_for),
            sender=config.mail_from,
            at=now,
            public_url=config.public_url,
        )
    )
    return mail.wire(message)


def test_a_sweep_over_several_batches_queues_each_reminder_once(
    out: Database, config: Config
) -> None:
    versions = versions_out(out)
    decide(out, "tyreso", version_id=versions[2], now=D_14 - timedelta(days=2))
    small = Config(
        maildir=config.maildir,
        retry=config.retry,
        batch_size=2,
        public_url="https://ratify.example/",
        mail_from="ratify@example.org",
    )

    report = sweep(out, small, D_14)

    expected = {(v, b) for v in versions for b in BOARD_IDS} - {(versions[2], "tyreso")}
    assert report.queued == len(expected) == 39
    rows = stored(out)
    assert {(r.version_id, r.board_id) for r, _m in rows} == expected
    for reminder, message in rows:
        assert (reminder.slot, reminder.status, message.status) == (-14, "pending", "pending")
        key = mail.reminder_key(reminder.version_id, reminder.board_id, -14)
        assert (message.key, message.message_id) == (key, mail.message_id(key))
        assert message.recipient == f"kommunstyrelsen@{reminder.board_id}.example"
        assert message.message == composed_one_by_one(out, small, reminder, D_14)
    with out.reads() as session:
        schedule = list(session.scalars(select(ReminderSchedule)))
    assert {(s.version_id, s.board_id) for s in schedule} == expected
    assert {(s.handled_through, s.next_due_at) for s in schedule} == {(-14, D_3)}

    assert sweep(out, small, D_14 + timedelta(minutes=5)).queued == 0


def test_a_sweep_that_finds_its_slot_queued_already_adds_nothing(
    out: Database, config: Config
) -> None:
    """The schedule put back (as after a crash before commit elsewhere): the unique
    (version, board, slot) key holds, no second reminder, no second e-mail."""
    versions = versions_out(out)
    first = sweep(out, config, D_14)
    assert first.queued == 40
    before = [(r.id, m.id, m.message) for r, m in stored(out)]
    with out.writes() as session:
        session.execute(
            update(ReminderSchedule).values(
                handled_through=None, next_due_at=datetime(2019, 6, 10, 6, tzinfo=UTC)
            )
        )
        session.commit()

    again = sweep(out, config, D_14 + timedelta(minutes=1))

    assert (again.queued, again.coalesced) == (0, 0)
    assert [(r.id, m.id, m.message) for r, m in stored(out)] == before
    with out.reads() as session:
        moved = {s.next_due_at for s in session.scalars(select(ReminderSchedule))}
        counts = len(list(session.scalars(select(Reminder.id)))), len(versions) * 8
    assert moved == {D_3}
    assert counts[0] == counts[1]
