"""Reminder e-mails through a real SMTP server (aiosmtpd on 127.0.0.1).

The clock is the test's: in-process ticks take `now` as an argument, and the
`ratify reminders run --now …` processes are told the time on the command line.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.bootstrap import install_writers
from db import models
from db.engine import Database
from db.mail_queue import Retry
from db.models import Reminder
from notifications import scheduler
from notifications.config import Config, Smtp
from notifications.senders import SmtpSender
from tests.conftest import BOARD_IDS, SUP_2035
from tests.e2e.smtp import PASSWORD, USERNAME, Received, SmtpServer
from tests.integration.test_reminders import (
    D_14,
    SENT_OUT,
    add_program,
    decide,
    events,
    reminders,
    send_out,
)
from workflow.dates import STOCKHOLM
from workflow.states import Outcome

CLI_TIMEOUT = 120.0


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def smtp_config(server: SmtpServer) -> Config:
    return Config(smtp=Smtp("127.0.0.1", server.port, starttls=False, timeout=5))


@pytest.fixture
def mailer(seeded: Database, smtp: SmtpServer) -> Database:
    """The seeded database, its outbox writer registered."""
    install_writers(seeded, smtp_config(smtp))
    return seeded


def ids(received: list[Received]) -> Counter[str]:
    return Counter(r.message_id for r in received)


def reminder_id(board_id: str, label: str, version_id: str = SUP_2035) -> str:
    return f"<reminder-{version_id}-{board_id}-{label}@ratify>"


def local_date(message: Received) -> tuple[date, int]:
    """The day and hour in Stockholm of a message's Date header."""
    sent = message.message["Date"].datetime.astimezone(STOCKHOLM)
    return sent.date(), sent.hour


def test_the_default_policy_over_a_whole_decision_period(
    mailer: Database, smtp: SmtpServer
) -> None:
    config = smtp_config(smtp)
    send_out(mailer)
    decisions = {
        datetime(2019, 6, 3, 12, tzinfo=UTC): [("botkyrka", Outcome.APPROVED)],
        datetime(2019, 6, 4, 12, tzinfo=UTC): [("haninge", Outcome.APPROVED)],
        datetime(2019, 6, 10, 12, tzinfo=UTC): [("tyreso", Outcome.APPROVED)],
        datetime(2019, 6, 11, 12, tzinfo=UTC): [("huddinge", Outcome.REFERRED_BACK)],
        datetime(2019, 6, 12, 12, tzinfo=UTC): [("nykvarn", Outcome.TABLED)],
        datetime(2019, 6, 26, 12, tzinfo=UTC): [
            ("nynashamn", Outcome.APPROVED),
            ("salem", Outcome.APPROVED),
        ],
        datetime(2019, 7, 5, 12, tzinfo=UTC): [
            ("huddinge", Outcome.APPROVED),
            ("nykvarn", Outcome.APPROVED),
            ("sodertalje", Outcome.APPROVED),
        ],
    }
    by_tick: dict[datetime, list[str]] = {}
    day = SENT_OUT.replace(hour=6)
    while day < datetime(2019, 7, 25, tzinfo=UTC):
        for now in (day, day + timedelta(hours=6)):  # 08:00 and 14:00 in summer time
            for board_id, outcome in decisions.get(now, []):
                decide(mailer, board_id, outcome, now=now)
            before = len(smtp.received)
            scheduler.tick(mailer, config, now)
            new = [r.message_id for r in smtp.received[before:]]
            if new:
                by_tick[now] = new
        day += timedelta(days=1)

    got = ids(smtp.received)
    assert set(got.values()) == {1}, "a message arrived twice"
    at_14 = ["huddinge", "nykvarn", "nynashamn", "salem", "sodertalje", "tyreso"]
    after = ["huddinge", "nykvarn", "nynashamn", "salem", "sodertalje"]
    late = ["huddinge", "nykvarn", "sodertalje"]
    expected = (
        [f"<sent-out-{SUP_2035}-{b}@ratify>" for b in BOARD_IDS]
        + [reminder_id(b, "d-14") for b in at_14]
        + [reminder_id(b, "d-3") for b in after]
        + [reminder_id(b, "d+1") for b in after]
        + [reminder_id(b, "d+8") for b in late]
        + [f"<in-force-{SUP_2035}-{b}@ratify>" for b in BOARD_IDS]
    )
    assert sorted(got) == sorted(expected)
    assert sorted(by_tick) == [
        datetime(2019, 5, 29, 12, tzinfo=UTC),  # the send-out notices, on the first tick
        datetime(2019, 6, 10, 6, tzinfo=UTC),
        datetime(2019, 6, 24, 6, tzinfo=UTC),  # −3 fell on midsommarafton (Fri 21 June)
        datetime(2019, 6, 25, 6, tzinfo=UTC),
        datetime(2019, 7, 2, 6, tzinfo=UTC),
        datetime(2019, 7, 5, 12, tzinfo=UTC),  # in force
    ]

    messages = {r.message_id: r for r in smtp.received}
    tyreso = messages[reminder_id("tyreso", "d-14")]
    assert tyreso.rcpt_tos == ["kommunstyrelsen@tyreso.example"]
    assert tyreso.mail_from == "ratify@localhost"
    assert str(tyreso.message["To"]) == (
        '"Kommunstyrelsen, Tyresö kommun" <kommunstyrelsen@tyreso.example>'
    )
    assert local_date(tyreso) == (date(2019, 6, 10), 8)
    assert (tyreso.message["Content-Language"], tyreso.message["Auto-Submitted"]) == (
        "sv",
        "auto-generated",
    )
    assert str(tyreso.message["Subject"]) == (
        "Påminnelse: beslut om SUP 2035 (Södertörns utvecklingsprogram) senast måndag 24 juni 2019"
    )
    body = tyreso.message.get_body().get_content()  # type: ignore[union-attr]
    for text in (
        "Till Kommunstyrelsen, Tyresö kommun",
        "Södertörns utvecklingsprogram, version SUP 2035",
        "senast måndag 24 juni 2019, om 14 dagar",
        f"POST /v1/versions/{SUP_2035}/decisions",
        "case_number (diarienummer)",
    ):
        assert text in body
    overdue = messages[reminder_id("sodertalje", "d+8")]
    assert "saknas" in str(overdue.message["Subject"])
    assert local_date(messages[reminder_id("salem", "d-3")]) == (date(2019, 6, 24), 8)

    sent = events(mailer, "reminder.sent")
    assert len(sent) == len(at_14) + 2 * len(after) + len(late)
    assert events(mailer, "reminder.failed") == []


def test_reminders_over_christmas_move_to_business_days(mailer: Database, smtp: SmtpServer) -> None:
    config = smtp_config(smtp)
    send_out(mailer, now=datetime(2019, 12, 2, 9, tzinfo=UTC), respond_by=date(2019, 12, 27))
    days_with_reminders: dict[date, set[str]] = {}
    now = datetime(2019, 12, 3, 7, tzinfo=UTC)  # 08:00 in winter time
    while now < datetime(2020, 1, 12, tzinfo=UTC):
        before = len(smtp.received)
        scheduler.tick(mailer, config, now)
        for message in smtp.received[before:]:
            if message.message_id.startswith("<reminder-"):
                slot = re.search(r"-(d[+-]\d+)@ratify>$", message.message_id)
                assert slot is not None
                days_with_reminders.setdefault(now.date(), set()).add(slot[1])
                assert local_date(message) == (now.date(), 8)
        now += timedelta(days=1)
    assert days_with_reminders == {
        date(2019, 12, 13): {"d-14"},
        date(2019, 12, 27): {"d-3"},  # not julafton (24th), juldagen or annandag jul
        date(2019, 12, 30): {"d+1"},  # not Saturday the 28th
        date(2020, 1, 7): {"d+8"},  # not Saturday the 4th, nor trettondedag jul
    }
    assert set(ids(smtp.received).values()) == {1}


def test_missed_slots_coalesce_into_one_reminder_after_downtime(
    mailer: Database, smtp: SmtpServer
) -> None:
    config = smtp_config(smtp)
    send_out(mailer)
    decide(mailer, "tyreso", now=D_14 - timedelta(days=2))
    scheduler.tick(mailer, config, SENT_OUT + timedelta(minutes=1))
    # … the service is down from 29 May until 20 July
    report = scheduler.tick(mailer, config, datetime(2019, 7, 20, 12, tzinfo=UTC))
    undecided = [b for b in BOARD_IDS if b != "tyreso"]
    assert report.swept.queued == len(undecided)
    reminders_sent = sorted(i for i in ids(smtp.received) if i.startswith("<reminder-"))
    assert reminders_sent == sorted(reminder_id(b, "d+22") for b in undecided)
    statuses = Counter((slot, status) for _b, slot, status in reminders(mailer))
    assert statuses == {
        (-14, "coalesced"): 7,
        (-3, "coalesced"): 7,
        (1, "coalesced"): 7,
        (8, "coalesced"): 7,
        (15, "coalesced"): 7,
        (22, "sent"): 7,
    }
    later = scheduler.tick(mailer, config, datetime(2019, 7, 20, 12, 5, tzinfo=UTC))
    assert (later.swept.queued, later.delivered.sent) == (0, 0)


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
def test_starttls_and_login(seeded: Database, tmp_path: Path) -> None:
    server = SmtpServer(tls_folder=tmp_path)
    server.start()
    try:
        relay = Smtp("127.0.0.1", server.port, USERNAME, PASSWORD, starttls=True, timeout=5)
        config = Config(smtp=relay, retry=Retry(max_attempts=2))
        install_writers(seeded, config)
        send_out(seeded)

        wrong = SmtpSender(
            Smtp("127.0.0.1", server.port, USERNAME, "fel", starttls=True, timeout=1),
            config.mail_from,
            ssl_context=server.client_context(),
        )
        failed = scheduler.tick(seeded, config, SENT_OUT, sender=wrong)
        assert (failed.delivered.sent, failed.delivered.retrying) == (0, 8)
        assert server.received == []

        right = SmtpSender(relay, config.mail_from, ssl_context=server.client_context())
        report = scheduler.tick(seeded, config, SENT_OUT + timedelta(minutes=1), sender=right)
        assert report.delivered.sent == 8
        assert len(ids(server.received)) == 8
    finally:
        server.stop()


# --- real `ratify` processes -------------------------------------------------------------


def ratify() -> list[str]:
    found = shutil.which("ratify", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "api.cli"]


def cli_env(database_url: str, server: SmtpServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATIFY_")}
    env.update(
        RATIFY_DATABASE_URL=database_url,
        RATIFY_SMTP_HOST="127.0.0.1",
        RATIFY_SMTP_PORT=str(server.port),
        RATIFY_SMTP_STARTTLS="false",
        RATIFY_SMTP_TIMEOUT="5",
        RATIFY_LOG_FORMAT="json",
        **extra,
    )
    return env


def run_reminders(env: dict[str, str], now: datetime, cwd: Path) -> str:
    done = subprocess.run(
        [*ratify(), "reminders", "run", "--now", now.isoformat().replace("+00:00", "Z")],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_smtp_down_then_back_loses_nothing(
    mailer: Database, smtp: SmtpServer, database_url: str, tmp_path: Path
) -> None:
    send_out(mailer)
    env = cli_env(database_url, smtp)
    smtp.stop()
    out = run_reminders(env, D_14, tmp_path)
    assert "16 to retry" in out  # 8 send-out notices and 8 reminders
    with mailer.reads() as session:
        waiting = session.scalars(select(Reminder)).all()
    assert {(r.status, r.attempts) for r in waiting} == {("pending", 1)}
    assert all("ConnectionRefusedError" in (r.last_error or "") for r in waiting)

    smtp.start()  # back; the first retry is due a minute later (backoff 1, 2, 4 … minutes)
    out = run_reminders(env, D_14 + timedelta(minutes=1), tmp_path)
    assert "delivered: 16 sent" in out

    got = ids(smtp.received)
    assert len(got) == 16
    assert set(got.values()) == {1}
    assert sorted(i for i in got if i.startswith("<reminder-")) == sorted(
        reminder_id(b, "d-14") for b in BOARD_IDS
    )
    assert {(b, s, st) for b, s, st in reminders(mailer)} == {(b, -14, "sent") for b in BOARD_IDS}
    sent = events(mailer, "reminder.sent")
    assert sorted(e.board_id or "" for e in sent) == BOARD_IDS
    assert {e.data["attempts"] for e in sent} == {2}


def test_three_workers_deliver_every_due_reminder_exactly_once(
    mailer: Database, smtp: SmtpServer, database_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL the claims use FOR UPDATE SKIP LOCKED; on SQLite writers queue."""
    versions = [SUP_2035, add_program(mailer, "p2"), add_program(mailer, "p3")]
    for version_id in versions:
        send_out(mailer, version_id)
    env = cli_env(database_url, smtp, RATIFY_MAIL_BATCH_SIZE="1")
    command = [*ratify(), "reminders", "run", "--now", "2019-06-10T06:00:00Z"]
    workers = []
    for n in range(3):
        folder = tmp_path / f"worker-{n}"
        folder.mkdir()
        workers.append(
            subprocess.Popen(
                command,
                env=env,
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [w.communicate(timeout=CLI_TIMEOUT) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], [err for _out, err in outputs]

    got = ids(smtp.received)
    expected = {
        f"<{kind}-{v}-{b}@ratify>" for v in versions for b in BOARD_IDS for kind in ("sent-out",)
    } | {reminder_id(b, "d-14", v) for v in versions for b in BOARD_IDS}
    assert set(got) == expected
    assert set(got.values()) == {1}, "a message was delivered more than once"
    sent_counts = [int(out.split("delivered: ")[1].split(" sent")[0]) for out, _err in outputs]
    assert sum(sent_counts) == 48
    with mailer.reads() as session:
        statuses = Counter(session.scalars(select(Reminder.status)))
        sent_events = session.scalar(
            select(func.count())
            .select_from(models.Event)
            .where(models.Event.type == "reminder.sent")
        )
    assert statuses == {"sent": 24}
    assert sent_events == 24


def test_the_worker_process_ticks_at_once_and_stops_on_sigterm(
    mailer: Database, smtp: SmtpServer, database_url: str, tmp_path: Path
) -> None:
    send_out(mailer)
    worker = subprocess.Popen(
        [*ratify(), "worker"],
        env=cli_env(database_url, smtp),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(smtp.received) < 16 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    # the real clock is years after the answer date: the notices, and one reminder each
    got = ids(smtp.received)
    assert len(got) == 16
    assert set(got.values()) == {1}
