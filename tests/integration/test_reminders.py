"""Reminders and the e-mail outbox on real SQLite and PostgreSQL, with a test-controlled clock.

Mail goes to a real maildir (or to a real closed port, to make SMTP fail);
the SMTP server scenarios are in tests/e2e/test_reminders_smtp.py.
"""

import email
import email.policy
import json
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.bootstrap import install_writers
from api.settings import Settings
from db import commands, models
from db.engine import Database
from db.mail_queue import Retry, claim, settle
from db.models import OutboxMail, Reminder, ReminderSchedule
from db.uow import UnitOfWork
from notifications import scheduler
from notifications.config import Config, Smtp
from notifications.reminder_sweep import SweepReport, sweep
from notifications.senders import MaildirSender
from tests.conftest import BOARD_IDS, SUP_2035, Api
from tests.receiver import receiver
from workflow.actors import Actor, Role
from workflow.decisions import Decision
from workflow.states import Outcome

SENT_OUT = datetime(2019, 5, 29, 9, 0, tzinfo=UTC)
RESPOND_BY = date(2019, 6, 24)
D_14 = datetime(2019, 6, 10, 6, 0, tzinfo=UTC)  # Monday 08:00 in Stockholm
D_3 = datetime(2019, 6, 24, 6, 0, tzinfo=UTC)  # midsommarafton (21st) moved to Monday
D_PLUS_1 = datetime(2019, 6, 25, 6, 0, tzinfo=UTC)
SECRETARIAT = Actor("secretariat", Role.SECRETARIAT)


def send_out(
    db: Database,
    version_id: str = SUP_2035,
    now: datetime = SENT_OUT,
    respond_by: date = RESPOND_BY,
) -> None:
    """Send a version out as the secretariat would, at `now`."""
    with UnitOfWork(db, SECRETARIAT, now) as uow:
        commands.send_out(uow, version_id, respond_by, None)
        uow.commit()


def decide(
    db: Database,
    board_id: str,
    outcome: Outcome = Outcome.APPROVED,
    now: datetime = D_14,
    version_id: str = SUP_2035,
) -> None:
    """Record a board's decision, taken on the day of `now`, as its system would."""
    with UnitOfWork(db, Actor(f"{board_id}-system", Role.BOARD, board_id), now) as uow:
        decision = Decision(
            id=commands.new_id(),
            board_id=board_id,
            outcome=outcome,
            decided_on=now.date(),
            paragraph="§ 60",
            case_number=f"2019/KS 0260 005-{board_id}",
        )
        commands.record_decision(uow, version_id, decision, None)
        uow.commit()


def add_program(db: Database, program_id: str, now: datetime = SENT_OUT) -> str:
    """Another program of the eight boards with one drafted version; its id."""
    with UnitOfWork(db, SECRETARIAT, now) as uow:
        commands.create_program(uow, program_id, f"Program {program_id}", "Södertörn", BOARD_IDS)
        version_id = commands.create_version(
            uow,
            program_id,
            commands.Draft(
                label="1.0",
                drafted_on=now.date(),
                valid_from=now.date(),
                valid_until=None,
                replaces=None,
            ),
        )
        uow.commit()
    return version_id


def reminders(db: Database, version_id: str = SUP_2035) -> list[tuple[str, int, str]]:
    """(board, slot, status) of every reminder of a version."""
    with db.reads() as session:
        rows = session.execute(
            select(Reminder.board_id, Reminder.slot, Reminder.status)
            .where(Reminder.version_id == version_id)
            .order_by(Reminder.board_id, Reminder.slot)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def mails(db: Database) -> list[OutboxMail]:
    with db.reads() as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def events(db: Database, prefix: str) -> list[models.Event]:
    with db.reads() as session:
        return list(
            session.scalars(
                select(models.Event)
                .where(models.Event.type.startswith(prefix))
                .order_by(models.Event.seq)
            )
        )


def schedule(db: Database) -> dict[str, datetime]:
    with db.reads() as session:
        return {row.board_id: row.next_due_at for row in session.scalars(select(ReminderSchedule))}


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(maildir=tmp_path / "mail", retry=Retry(max_attempts=3))


@pytest.fixture
def out(seeded: Database, config: Config) -> Database:
    """The seeded database with the mail outbox writer registered."""
    install_writers(seeded, config)
    return seeded


def maildir_ids(config: Config) -> list[str]:
    found = []
    for path in sorted((config.maildir / "new").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(str(message["Message-ID"]).strip())  # folded when long
    return found


def test_send_out_writes_notices_and_the_schedule_in_its_own_transaction(
    out: Database, config: Config
) -> None:
    with UnitOfWork(out, SECRETARIAT, SENT_OUT) as uow:
        commands.send_out(uow, SUP_2035, RESPOND_BY, None)
        uow.flush()  # the writer ran: rows exist inside the transaction …
        assert uow.session.scalar(select(func.count()).select_from(OutboxMail)) == 8
        # … and leaving without commit rolls them back with the send-out
    assert mails(out) == []
    assert schedule(out) == {}

    send_out(out)
    notices = mails(out)
    assert [m.kind for m in notices] == ["version.sent_out"] * 8
    assert [m.board_id for m in notices] == BOARD_IDS
    assert {m.recipient for m in notices} == {f"kommunstyrelsen@{b}.example" for b in BOARD_IDS}
    assert {m.status for m in notices} == {"pending"}
    assert schedule(out) == dict.fromkeys(BOARD_IDS, D_14)

    report = scheduler.tick(out, config, SENT_OUT + timedelta(minutes=1))
    assert report.delivered.sent == 8
    assert sorted(maildir_ids(config)) == sorted(
        f"<sent-out-{SUP_2035}-{b}@ratify>" for b in BOARD_IDS
    )
    sent = events(out, "mail.")
    assert [(e.type, e.board_id) for e in sent] == [("mail.sent", b) for b in BOARD_IDS]
    assert sent[0].data["message_id"] == f"<sent-out-{SUP_2035}-botkyrka@ratify>"


def test_only_boards_still_to_decide_are_reminded(out: Database, config: Config) -> None:
    send_out(out)
    decide(out, "tyreso", Outcome.APPROVED, now=D_14 - timedelta(days=5))
    decide(out, "haninge", Outcome.REFERRED_BACK, now=D_14 - timedelta(days=4))
    decide(out, "salem", Outcome.TABLED, now=D_14 - timedelta(days=3))
    assert "tyreso" not in schedule(out)

    report = scheduler.tick(out, config, D_14)
    assert report.swept.queued == 7
    assert reminders(out) == [(b, -14, "sent") for b in BOARD_IDS if b != "tyreso"]
    reminded = [e.board_id for e in events(out, "reminder.sent")]
    assert sorted(str(b) for b in reminded) == [b for b in BOARD_IDS if b != "tyreso"]

    again = scheduler.tick(out, config, D_14 + timedelta(minutes=1))
    assert (again.swept.queued, again.delivered.sent) == (0, 0)


def test_a_decision_cancels_the_reminder_waiting_to_go_out(out: Database, config: Config) -> None:
    send_out(out)
    sweep(out, config, D_14)  # queued, not yet delivered
    decide(out, "nykvarn", Outcome.REJECTED, now=D_14)  # the version falls: everything stops
    assert {status for _b, _s, status in reminders(out)} == {"cancelled"}
    assert schedule(out) == {}
    report = scheduler.tick(out, config, D_14 + timedelta(minutes=1))
    assert report.delivered.sent == 16  # the send-out and the rejection notices, no reminders
    kinds = sorted({m.kind for m in mails(out) if m.status == "sent"})
    assert kinds == ["version.rejected", "version.sent_out"]
    assert {m.status for m in mails(out) if m.kind == "reminder"} == {"cancelled"}


def test_a_sweep_waits_for_a_decision_in_flight(out: Database, config: Config) -> None:
    """Sweep and decision lock in the same order (version, then schedule): no deadlock."""
    send_out(out)
    swept: list[SweepReport] = []
    with UnitOfWork(out, Actor("tyreso-system", Role.BOARD, "tyreso"), D_14) as uow:
        decision = Decision(
            id=commands.new_id(),
            board_id="tyreso",
            outcome=Outcome.APPROVED,
            decided_on=D_14.date(),
            paragraph="§ 60",
            case_number="2019/KS 0260 005",
        )
        commands.record_decision(uow, SUP_2035, decision, None)
        uow.flush()  # the version is locked and tyreso's schedule row deleted, not committed
        sweeper = threading.Thread(target=lambda: swept.append(sweep(out, config, D_14)))
        sweeper.start()
        sweeper.join(0.5)
        assert sweeper.is_alive(), "the sweep should wait for the decision"
        uow.commit()
    sweeper.join(30)
    assert swept[0].queued == 7
    assert "tyreso" not in {board for board, _slot, _status in reminders(out)}


def test_in_force_sends_notices_and_ends_the_reminders(out: Database, config: Config) -> None:
    send_out(out)
    scheduler.tick(out, config, D_14)
    for board_id in BOARD_IDS:
        decide(out, board_id, now=D_14 + timedelta(days=1))
    assert schedule(out) == {}
    in_force = [m for m in mails(out) if m.kind == "version.in_force"]
    assert [m.board_id for m in in_force] == BOARD_IDS
    message = email.message_from_string(in_force[0].message, policy=email.policy.default)
    assert "gäller från tisdag 11 juni 2019" in str(message["Subject"])
    report = scheduler.tick(out, config, D_PLUS_1 + timedelta(days=30))
    assert (report.swept.queued, report.delivered.sent) == (0, 8)


def test_withdrawing_ends_the_reminders(out: Database, config: Config) -> None:
    send_out(out)
    with UnitOfWork(out, SECRETARIAT, D_14 - timedelta(days=1)) as uow:
        commands.withdraw(uow, SUP_2035, "fel dokument", None)
        uow.commit()
    assert schedule(out) == {}
    assert scheduler.tick(out, config, D_PLUS_1).swept.queued == 0


def test_missed_slots_coalesce_and_an_unsent_reminder_is_superseded(
    out: Database, config: Config
) -> None:
    send_out(out)
    down = Config(
        maildir=config.maildir,
        retry=config.retry,
        smtp=Smtp("127.0.0.1", closed_port(), starttls=False, timeout=2),
    )
    scheduler.tick(out, down, D_14)  # SMTP refuses: the −14 reminders wait for a retry
    assert {status for _b, _s, status in reminders(out)} == {"pending"}

    report = scheduler.tick(out, config, datetime(2019, 7, 20, 12, tzinfo=UTC))
    assert report.swept.queued == 8
    assert report.swept.coalesced == 8 * 4  # −3, +1, +8 and +15 were never sent
    for board_id in BOARD_IDS:
        assert [(s, st) for b, s, st in reminders(out) if b == board_id] == [
            (-14, "coalesced"),
            (-3, "coalesced"),
            (1, "coalesced"),
            (8, "coalesced"),
            (15, "coalesced"),
            (22, "sent"),
        ]
    reminder_ids = [i for i in maildir_ids(config) if i.startswith("<reminder-")]
    assert sorted(reminder_ids) == sorted(
        f"<reminder-{SUP_2035}-{b}-d+22@ratify>" for b in BOARD_IDS
    )


def test_smtp_failures_back_off_then_give_up_visibly(out: Database, config: Config) -> None:
    send_out(out)
    down = Config(
        maildir=config.maildir,
        retry=Retry(max_attempts=3, cap=timedelta(minutes=30)),
        smtp=Smtp("127.0.0.1", closed_port(), starttls=False, timeout=2),
    )
    scheduler.tick(out, down, D_14)
    (first,) = [m for m in mails(out) if m.key == f"reminder-{SUP_2035}-salem-d-14"]
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.next_attempt_at == D_14 + timedelta(minutes=1)
    assert first.last_error is not None
    assert "ConnectionRefusedError" in first.last_error

    assert scheduler.tick(out, down, D_14 + timedelta(seconds=59)).delivered.retrying == 0
    assert scheduler.tick(out, down, D_14 + timedelta(minutes=1)).delivered.retrying == 16
    (second,) = [m for m in mails(out) if m.key == first.key]
    assert second.next_attempt_at == D_14 + timedelta(minutes=3)
    assert scheduler.tick(out, down, D_14 + timedelta(minutes=3)).delivered.failed == 16

    failed = events(out, "reminder.failed")
    assert len(failed) == 8
    assert failed[0].data["attempts"] == 3
    assert len(events(out, "mail.failed")) == 8
    assert events(out, "reminder.sent") == []
    assert scheduler.tick(out, config, D_14 + timedelta(hours=5)).delivered.sent == 0


def test_a_crash_between_claim_and_send_is_a_retry(out: Database, config: Config) -> None:
    send_out(out)
    retry = Retry(max_attempts=3, lease=timedelta(minutes=5))
    crashed = claim(out, SENT_OUT, 100, retry)  # … and the process died before sending
    assert len(crashed) == 8
    assert claim(out, SENT_OUT + timedelta(minutes=4), 100, retry) == []  # still leased

    later = SENT_OUT + timedelta(minutes=5)
    report = scheduler.tick(out, Config(maildir=config.maildir, retry=retry), later)
    assert report.delivered.sent == 8
    assert {(m.status, m.attempts) for m in mails(out)} == {("sent", 2)}
    # the first claimant wakes up: its lease is gone, so it records nothing twice
    assert settle(out, crashed[0], later, retry) == "lost_lease"
    assert len(events(out, "mail.sent")) == 8


def test_the_maildir_holds_one_file_per_message_even_when_sent_twice(
    out: Database, config: Config
) -> None:
    send_out(out)
    batch = claim(out, SENT_OUT, 1, config.retry)
    sender = MaildirSender(config.maildir)
    with sender.open() as connection:
        connection.send(batch[0])
        connection.send(batch[0])
    assert maildir_ids(config) == [batch[0].message_id]
    assert list((config.maildir / "tmp").iterdir()) == []


def test_the_reminders_route(out: Database, config: Config, tokens: dict[str, str]) -> None:
    send_out(out)
    decide(out, "tyreso", now=D_14 - timedelta(days=1))
    scheduler.tick(out, config, D_14)
    scheduler.tick(out, config, D_PLUS_1 + timedelta(days=3))
    with TestClient(create_app(out, Settings()), raise_server_exceptions=False) as client:
        api = Api(client, tokens)
        r = api.get(f"/v1/versions/{SUP_2035}/reminders", as_="auditor")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        assert r.json()["next_cursor"] is None
        assert len(items) == 7 * 3
        first = items[0]
        assert first == {
            "board_id": first["board_id"],
            "kind": "before",
            "slot": -14,
            "scheduled_for": "2019-06-10T06:00:00Z",
            "sent_at": "2019-06-10T06:00:00Z",
            "status": "sent",
            "attempts": 1,
            "last_error": None,
            "message_id": f"<reminder-{SUP_2035}-{first['board_id']}-d-14@ratify>",
        }
        by_slot = {(i["slot"], i["status"], i["kind"]) for i in items}
        assert by_slot == {
            (-14, "sent", "before"),
            (-3, "coalesced", "before"),
            (1, "sent", "overdue"),
        }
        assert "tyreso" not in {i["board_id"] for i in items}

        pages, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 5} | ({"cursor": cursor} if cursor else {})
            page = api.get(f"/v1/versions/{SUP_2035}/reminders", params=params).json()
            pages.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == items

        bad = api.get(f"/v1/versions/{SUP_2035}/reminders", params={"cursor": "bm9wZQ"})
        assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
        assert api.get("/v1/versions/nope/reminders").status_code == 404
        assert api.get(f"/v1/versions/{SUP_2035}/reminders", as_=None).status_code == 401
        assert api.get(f"/v1/versions/{SUP_2035}/reminders", as_="tyreso").status_code == 200


def test_serve_runs_the_clock_in_its_lifespan(
    out: Database, config: Config, tokens: dict[str, str]
) -> None:
    """With `run_scheduler` (what `ratify serve` sets), the app ticks: e-mail and webhooks."""
    settings = Settings(maildir=config.maildir, webhook_allowed_hosts="127.0.0.1")
    with receiver() as rx:
        with TestClient(create_app(out, settings), raise_server_exceptions=False) as client:
            hook = {"url": rx.url, "events": ["version.sent_out"]}
            assert Api(client, tokens).post("/v1/webhooks", hook, as_="admin").status_code == 201
        send_out(out)
        assert maildir_ids(config) == []  # no scheduler without run_scheduler
        ticking = settings.model_copy(
            update={"run_scheduler": True, "scheduler_interval_seconds": 3600}
        )
        app = create_app(out, ticking, clock=lambda: SENT_OUT + timedelta(minutes=1))
        with TestClient(app):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (len(maildir_ids(config)) < 8 or not rx.received):
                time.sleep(0.05)
    assert len(maildir_ids(config)) == 8
    assert [json.loads(r.body)["type"] for r in rx.received] == ["version.sent_out"]
