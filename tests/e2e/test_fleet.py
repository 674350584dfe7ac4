"""Two servers and two workers on one database under a burst of decisions while the
workers sweep reminders and deliver mail: every invariant of design.md holds
and every e-mail arrives exactly once.
"""

import random
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.clock import utc_now
from api.settings import Settings
from db import models
from db.engine import Database
from db.models import OutboxMail, ReminderSchedule
from tests.conftest import BOARD_IDS, SUP_2035, Api
from tests.e2e.conftest import READY_TIMEOUT
from tests.e2e.fleet import (
    QUIET_TIMEOUT,
    Caller,
    Fleet,
    Process,
    approval,
    assert_audit_verifies,
    assert_invariants,
    assert_problem,
    draft,
    members,
    today,
)
from tests.e2e.smtp import SmtpServer

# --- two servers and two workers on one database -------------------------------


@dataclass
class History:
    """What the secretariat sent out ten days ago, as the burst will decide it."""

    members: dict[str, list[str]] = field(default_factory=dict)
    """Version id → its program's boards."""
    decide: list[tuple[str, str, str]] = field(default_factory=list)
    """(version id, board, outcome) for the burst."""
    silent: list[tuple[str, str]] = field(default_factory=list)
    """(version id, board) that will still owe a decision: reminded."""
    in_force: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    race: tuple[str, str] = ("", "")


def sent_out_ten_days_ago(db: Database, tokens: dict[str, str], tmp_path: Path) -> History:
    """Versions sent out ten days ago, with an answer date three days ago (so reminders are due)."""
    then = utc_now() - timedelta(days=10)
    answer_by = {"respond_by": (today() - timedelta(days=3)).isoformat()}
    settings = Settings(maildir=tmp_path / "unused-maildir", run_scheduler=False)
    history = History()
    with TestClient(create_app(db, settings, clock=lambda: then)) as client:
        api = Api(client, tokens)

        def ok(r: Any) -> Any:
            assert r.status_code < 300, r.text
            return r.json()

        def version(program: str, boards: list[str], label: str, replaces: str | None) -> str:
            if replaces is None:
                body = {"id": program, "title": program, "owner": "O", "boards": boards}
                ok(api.post("/v1/programs", body))
            version_id: str = ok(
                api.post(f"/v1/programs/{program}/versions", draft(label, replaces))
            )["id"]
            ok(api.post(f"/v1/versions/{version_id}/send-out", answer_by))
            history.members[version_id] = boards
            return version_id

        ok(api.post(f"/v1/versions/{SUP_2035}/send-out", answer_by))
        history.members[SUP_2035] = BOARD_IDS
        history.decide += [(SUP_2035, b, "approved") for b in BOARD_IDS]
        history.in_force.append(SUP_2035)

        boards = members(0)
        old = version("race", boards, "Old", None)
        for board in boards:
            ok(api.post(f"/v1/versions/{old}/decisions", approval(board, "2019-06-03"), as_=board))
        history.in_force.append(old)  # until the race supersedes it
        history.race = (version("race", boards, "A", old), version("race", boards, "B", old))
        history.decide += [(v, b, "approved") for v in history.race for b in boards]

        for i in range(4):
            boards = members(4 + i)
            plain = version(f"plain-{i}", boards, "P", None)
            history.decide += [(plain, b, "approved") for b in boards]
            history.in_force.append(plain)

        boards = members(1)
        partly = version("partly", boards, "P", None)
        history.decide += [(partly, b, "approved") for b in boards[:2]]
        history.decide.append((partly, boards[2], "referred_back"))
        history.silent += [(partly, boards[2]), (partly, boards[3])]

        boards = members(2)
        no = version("no", boards, "N", None)
        history.decide.append((no, boards[0], "rejected"))
        history.rejected.append(no)

        boards = members(3)
        waiting = version("waiting", boards, "W", None)
        history.decide += [(waiting, b, "approved") for b in boards[:3]]
        history.silent.append((waiting, boards[3]))
    return history


def wait_until_quiet(db: Database, smtp: SmtpServer) -> None:
    """Until nothing is due or being sent and SMTP got every sent e-mail, for a second."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    quiet_since: float | None = None
    while True:
        now = datetime.now(UTC)
        with db.reads() as session:
            busy = session.scalar(
                select(func.count())
                .select_from(OutboxMail)
                .where(OutboxMail.status.in_(["pending", "sending"]))
            )
            due = session.scalar(
                select(func.count())
                .select_from(ReminderSchedule)
                .where(ReminderSchedule.next_due_at <= now)
            )
            sent = session.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "sent")
            )
        if busy == 0 and due == 0 and len(smtp.received) >= (sent or 0):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 1.0:
                return
        else:
            quiet_since = None
        if time.monotonic() > deadline:
            pytest.fail(f"not quiet in {QUIET_TIMEOUT}s: {busy} e-mails open, {due} schedules due")
        time.sleep(0.2)


def wait_for_log(process: Process, fragment: str) -> None:
    """Until `process` logs `fragment`; fail when it exits first or after `READY_TIMEOUT`."""
    deadline = time.monotonic() + READY_TIMEOUT
    while fragment not in process.log():
        if process.popen.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{process.name} never logged {fragment!r}:\n{process.log()}")
        time.sleep(0.05)


def test_two_servers_and_two_workers_hold_every_invariant_and_send_each_mail_once(
    seeded: Database, tokens: dict[str, str], fleet: Fleet, tmp_path: Path
) -> None:
    smtp = SmtpServer()
    smtp.start()
    try:
        history = sent_out_ten_days_ago(seeded, tokens, tmp_path)
        fleet.extra_env |= {
            "RATIFY_SMTP_HOST": "127.0.0.1",
            "RATIFY_SMTP_PORT": str(smtp.port),
            "RATIFY_SMTP_STARTTLS": "false",
            "RATIFY_SMTP_TIMEOUT": "10",
            "RATIFY_SCHEDULER_INTERVAL_SECONDS": "0.3",
        }
        servers = fleet.servers(2)
        callers = [Caller(s.base_url, tokens) for s in servers]
        try:
            workers = [fleet.worker(), fleet.worker()]
            calls = list(history.decide)
            random.Random(20190528).shuffle(calls)
            half = len(calls) // 2

            def decide(item: tuple[str, str, str]) -> httpx.Response:
                version_id, board, outcome = item
                call = callers[BOARD_IDS.index(board) % 2]
                body = approval(board, "2019-06-12", outcome)
                return call(board, "POST", f"/v1/versions/{version_id}/decisions", body)

            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(pool.map(decide, calls[:half]))  # while the workers start
                for worker in workers:
                    wait_for_log(worker, "scheduler started")
                # Each worker sweeps and delivers on its first tick, at once: during this half.
                answers += pool.map(decide, calls[half:])
            wait_until_quiet(seeded, smtp)
            for worker in workers:
                assert worker.stop() == 0, worker.log()

            refused = [r for r in answers if r.status_code != 201]
            assert len(refused) == 1, [r.text for r in refused]
            assert_problem(refused[0], 409, "predecessor_not_in_force")
            states = {
                v: callers[0].ok("auditor", "GET", f"/v1/versions/{v}")["state"]
                for v in history.race
            }
            assert sorted(states.values()) == ["in_force", "sent_out"], states
            assert_invariants(seeded)
            assert_audit_verifies(callers[1])
        finally:
            for call in callers:
                call.close()
        assert_mail_sent_once(seeded, smtp, history, states)
        for process in fleet.processes:
            assert process.problems() == [], process.log()
    finally:
        smtp.stop()


def assert_mail_sent_once(
    db: Database, smtp: SmtpServer, history: History, race: Mapping[str, str]
) -> None:
    """Every e-mail arrived exactly once, and the ones that had to go out did."""
    received = smtp.message_ids()
    assert received, "no e-mail arrived"
    twice = {m: n for m, n in received.items() if n != 1}
    assert not twice, f"e-mails that arrived more than once: {twice}"
    with db.reads() as session:
        rows = list(session.scalars(select(OutboxMail)))
        sent_events = [
            e.data["message_id"]
            for e in session.scalars(
                select(models.Event).where(models.Event.type.in_(["mail.sent", "reminder.sent"]))
            )
        ]
    assert {r.status for r in rows} <= {"sent", "cancelled"}, Counter(r.status for r in rows)
    sent = {r.message_id for r in rows if r.status == "sent"}
    assert set(received) == sent
    assert Counter(sent_events) == Counter(sent), "a sent e-mail without its one audit event"

    winner = next(v for v, state in race.items() if state == "in_force")
    for version_id, boards in history.members.items():
        for board in boards:
            assert f"<sent-out-{version_id}-{board}@ratify>" in received
            if version_id in [*history.in_force, winner]:
                assert f"<in-force-{version_id}-{board}@ratify>" in received
            if version_id in history.rejected:
                assert f"<rejected-{version_id}-{board}@ratify>" in received
    for version_id, board in history.silent:
        prefix = f"<reminder-{version_id}-{board}-d"
        assert any(m.startswith(prefix) for m in received), f"no reminder to {board}"
