"""The reminder sweep on PostgreSQL: its cost follows what is due, not how much is out or past.

    .venv/bin/python -m bench.sweep [--versions 100000] [--history 0.2] [--repeat 20] [--due-runs 2]

Two fresh databases are built, one with VERSIONS versions out for decision
and one with a tenth of that, each version the only one out of its own
program, with the eight Södertörn boards as members, all eight undecided.
The rows are what sending out writes (`notifications/mail_writer.py`): the
version `sent_out` with `sent_out_at` and `respond_by`, a `reminder_schedule`
row per board whose `handled_through` and `next_due_at` come from the real
`workflow.reminders.plan(policy, respond_by, sent_out_at, sent_out_at)` (the
default policy −14, −3, +1 days then every 7, at 08:00 Europe/Stockholm), and
the eight send-out notices in `outbox_mail` (already sent). A fraction
HISTORY of the programs also has an earlier version in force, with its eight
approvals, its 16 reminders sent and its notices. Everything is bulk SQL
(`COPY` of the per-version plan, then `INSERT ... SELECT`, with the loaded
tables' foreign keys, unique constraints and secondary indexes dropped for
the load and re-created from their own definitions); audit events are not
written (the sweep never reads them), and the history's e-mails carry a
short stand-in text instead of a composed message.

The answer dates are chosen so that on business day A 125 versions (1,000
boards) reach their −14 slot, on the next business day B another 1,125
(9,000 boards), and every other version only later. Measured on each
database with `notifications.sweep.sweep` in-process (a warm connection
pool, logging configured as the service does, JSON to /dev/null):

- nothing due (`now` = A 07:00 local): the first sweep of the process, then
  REPEAT more; target under 100 ms;
- 1,000 due (`now` = A 08:01): one sweep, then the queued rows are removed
  and the schedule put back;
- 10,000 due (`now` = B 08:01, both groups): DUE_RUNS sweeps on the large
  set (one on the small), each from the same state; target: all 10,000
  queued in under 10 s.

Each due run is checked: exactly that many reminders `pending` and e-mails in
`outbox_mail`. `EXPLAIN ANALYZE` of the sweep's query for due versions is
included for both `now`s.
"""

import argparse
import contextlib
import io
import logging
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import cache, partial
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, select

from api.bootstrap import install_writers
from api.logging import configure_logging
from bench.common import (
    Disturbed,
    bench_database,
    code_state,
    env_for,
    load_average,
    ratify,
    report,
    steady,
)
from db import seed
from db.engine import Database, open_database
from db.models import ReminderSchedule
from db.reminders import due_versions
from notifications.config import Config
from notifications.reminder_sweep import SweepReport, sweep
from workflow.dates import STOCKHOLM, next_business_day
from workflow.reminders import Plan, ReminderPolicy, plan, slot

BOARDS = [b[0] for b in seed.BOARDS]
DUE_A = 125
"""Versions whose −14 slot is on day A (1,000 boards)."""
DUE_B = 1125
"""Versions whose −14 slot is on day B (9,000 boards)."""
POLICY = ReminderPolicy()


@dataclass(frozen=True)
class Days:
    """The two business days on which reminders fall due, and the instants swept."""

    a: date
    b: date

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, clock_time(hour, minute), tzinfo=STOCKHOLM).astimezone(UTC)

    @property
    def none_due(self) -> datetime:
        return self.at(self.a, 7)

    @property
    def due_1k(self) -> datetime:
        return self.at(self.a, 8, 1)

    @property
    def due_10k(self) -> datetime:
        return self.at(self.b, 8, 1)


def business_days() -> Days:
    """A: the first business day on or after 2031-09-01; B: the next one."""
    a = next_business_day(date(2031, 9, 1))
    return Days(a, next_business_day(a + timedelta(days=1)))


@cache
def first_plan(respond_by: date, sent_out_at: datetime) -> Plan:
    """What `MailOutbox._sent_out` computes for a version sent out at `sent_out_at`."""
    return plan(POLICY, respond_by, sent_out_at, sent_out_at)


def plan_rows(versions: int, history: float, days: Days) -> tuple[str, int]:
    """The per-version plan as COPY text (tab-separated), and how many have history."""
    out = io.StringIO()
    with_history = int(versions * history)
    for k in range(versions):
        sent_day = days.a - timedelta(days=1 + k % 30)
        sent_out_at = datetime.combine(sent_day, clock_time(7 + k % 8), tzinfo=UTC)
        if k < DUE_A:
            respond_by = days.a + timedelta(days=14)
        elif k < DUE_A + DUE_B:
            respond_by = days.b + timedelta(days=14)
        else:
            respond_by = sent_day + timedelta(days=50 + k % 30)
        first = first_plan(respond_by, sent_out_at)
        assert first.next is not None
        assert first.send is None
        handled = "\\N" if first.handled_through is None else str(first.handled_through)
        out.write(
            f"{k}\t{sent_out_at.isoformat()}\t{respond_by.isoformat()}\t{handled}\t"
            f"{first.next.scheduled_for.isoformat()}\t{'t' if k < with_history else 'f'}\n"
        )
    return out.getvalue(), with_history


# Each statement reads bench_plan (k, sent_out_at, respond_by, handled_through,
# next_due_at, history); %(boards)s is the eight boards in the programs' order.
BUILD = [
    """
    INSERT INTO programs (id, title, owner, created_at)
    SELECT 'sw-p' || lpad(k::text, 7, '0'), 'Gemensamt program ' || k,
           'Södertörns samarbetskommitté', sent_out_at - interval '3 years'
    FROM bench_plan
    """,
    """
    INSERT INTO program_boards (program_id, board_id, position)
    SELECT 'sw-p' || lpad(k::text, 7, '0'), b.id, b.pos - 1
    FROM bench_plan, unnest(%(boards)s::text[]) WITH ORDINALITY AS b(id, pos)
    """,
    # the version in force that the one out for decision replaces
    """
    INSERT INTO versions (id, program_id, label, state, drafted_on, valid_from, sent_out_at,
                          respond_by, in_force_from, document_title, imported, created_at,
                          created_by)
    SELECT md5('h' || k)::uuid::text, 'sw-p' || lpad(k::text, 7, '0'), 'Version 1', 'in_force',
           (sent_out_at - interval '2 years')::date, (sent_out_at - interval '2 years')::date,
           sent_out_at - interval '2 years', (sent_out_at - interval '22 months')::date,
           (sent_out_at - interval '21 months')::date, 'Program, version 1', false,
           sent_out_at - interval '2 years', 'kansliet'
    FROM bench_plan WHERE history
    """,
    """
    INSERT INTO versions (id, program_id, label, state, drafted_on, valid_from, replaces,
                          sent_out_at, respond_by, document_title, document_url, imported,
                          created_at, created_by)
    SELECT md5('v' || k)::uuid::text, 'sw-p' || lpad(k::text, 7, '0'),
           CASE WHEN history THEN 'Version 2' ELSE 'Version 1' END, 'sent_out',
           (sent_out_at - interval '20 days')::date, (respond_by + interval '30 days')::date,
           CASE WHEN history THEN md5('h' || k)::uuid::text END, sent_out_at, respond_by,
           'Program, remissversion', 'https://example.org/program-' || k || '.pdf', false,
           sent_out_at - interval '20 days', 'kansliet'
    FROM bench_plan
    """,
    """
    INSERT INTO reminder_schedule (version_id, board_id, handled_through, next_due_at)
    SELECT md5('v' || k)::uuid::text, b, handled_through, next_due_at
    FROM bench_plan, unnest(%(boards)s::text[]) AS b
    """,
    """
    INSERT INTO decisions (id, version_id, board_id, outcome, decided_on, paragraph,
                           case_number, minutes_attested_on, announced_on, final_on,
                           recorded_by, recorded_by_role, recorded_by_board, recorded_at)
    SELECT md5('d' || k || b)::uuid::text, md5('h' || k)::uuid::text, b, 'approved',
           (sent_out_at - interval '22 months')::date, '§ ' || (k %% 200 + 1),
           extract(year FROM sent_out_at) - 2 || '/KS ' || lpad((k %% 900)::text, 4, '0'),
           (sent_out_at - interval '22 months' + interval '3 days')::date,
           (sent_out_at - interval '22 months' + interval '4 days')::date,
           (sent_out_at - interval '22 months' + interval '25 days')::date,
           b || '-arende', 'board', b, sent_out_at - interval '22 months'
    FROM bench_plan, unnest(%(boards)s::text[]) AS b WHERE history
    """,
    """
    INSERT INTO reminders (version_id, board_id, slot, kind, scheduled_for, status, attempts,
                           sent_at, created_at)
    SELECT md5('h' || k)::uuid::text, b, slot, 'before',
           sent_out_at - interval '2 years' + (30 + slot) * interval '1 day',
           'sent', 1, sent_out_at - interval '2 years' + (30 + slot) * interval '1 day',
           sent_out_at - interval '2 years' + (30 + slot) * interval '1 day'
    FROM bench_plan, unnest(%(boards)s::text[]) AS b, unnest(ARRAY[-14, -3]) AS slot
    WHERE history
    """,
    """
    INSERT INTO outbox_mail (key, kind, program_id, version_id, board_id, reminder_id,
                             recipient, message_id, message, status, attempts, sent_at,
                             created_at)
    SELECT key, 'reminder', v.program_id, r.version_id, r.board_id, r.id,
           'kommunstyrelsen@' || r.board_id || '.example', '<' || key || '@ratify>',
           'Message-ID: <' || key || '@ratify>' || E'\r\nSubject: Påminnelse\r\n\r\n...',
           'sent', 1, r.sent_at, r.created_at
    FROM reminders r JOIN versions v ON v.id = r.version_id,
         LATERAL (SELECT 'reminder-' || r.version_id || '-' || r.board_id || '-d'
                         || to_char(r.slot, 'FMSG99') AS key) AS kk
    """,
    """
    INSERT INTO outbox_mail (key, kind, program_id, version_id, board_id, recipient,
                             message_id, message, status, attempts, sent_at, created_at)
    SELECT key, kind, 'sw-p' || lpad(k::text, 7, '0'), version, b,
           'kommunstyrelsen@' || b || '.example', '<' || key || '@ratify>',
           'Message-ID: <' || key || '@ratify>' || E'\r\nSubject: ' || kind || E'\r\n\r\n...',
           'sent', 1, at + interval '1 minute', at
    FROM (
      SELECT k, 'version.sent_out' AS kind, 'sent-out' AS prefix,
             md5('v' || k)::uuid::text AS version, sent_out_at AS at
      FROM bench_plan
      UNION ALL
      SELECT k, 'version.sent_out', 'sent-out', md5('h' || k)::uuid::text,
             sent_out_at - interval '2 years'
      FROM bench_plan WHERE history
      UNION ALL
      SELECT k, 'version.in_force', 'in-force', md5('h' || k)::uuid::text,
             sent_out_at - interval '21 months'
      FROM bench_plan WHERE history
    ) AS n, unnest(%(boards)s::text[]) AS b,
         LATERAL (SELECT prefix || '-' || version || '-' || b AS key) AS kk
    """,
]

COUNTS = """
SELECT (SELECT count(*) FROM versions WHERE state = 'sent_out'),
       (SELECT count(*) FROM reminder_schedule),
       (SELECT count(*) FROM reminders),
       (SELECT count(*) FROM outbox_mail),
       (SELECT count(*) FROM decisions),
       (SELECT count(*) FROM program_boards)
"""


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


LOADED = [
    "programs",
    "program_boards",
    "versions",
    "reminder_schedule",
    "decisions",
    "reminders",
    "outbox_mail",
]

SECONDARY = """
SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid), c.contype
FROM pg_constraint c
WHERE c.conrelid = ANY(%(tables)s::regclass[]) AND c.contype IN ('f', 'u')
"""

PLAIN_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY(%(tables)s::regclass[]) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


@contextlib.contextmanager
def bulk_load(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Foreign keys, unique constraints and secondary indexes of LOADED dropped meanwhile,
    then re-created from their own definitions (indexes first, foreign keys last)."""
    tables = {"tables": LOADED}
    constraints = conn.execute(SECONDARY, tables).fetchall()
    indexes = conn.execute(PLAIN_INDEXES, tables).fetchall()
    for name, table, _definition, _kind in sorted(constraints, key=lambda c: c[3] != "f"):
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.execute(f"DROP INDEX {name}")
    yield
    for _name, definition in indexes:
        conn.execute(definition)
    for name, table, definition, _kind in sorted(constraints, key=lambda c: c[3] == "f"):
        conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def build(url: str, versions: int, history: float, days: Days) -> dict[str, Any]:
    """Seed, then the data set; what it holds and how long it took."""
    t0 = time.perf_counter()
    ratify("seed", env=env_for(url))
    text, with_history = plan_rows(versions, history, days)
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(
            "CREATE UNLOGGED TABLE bench_plan (k int PRIMARY KEY, sent_out_at timestamptz, "
            "respond_by date, handled_through int, next_due_at timestamptz, history bool)"
        )
        with conn.cursor().copy("COPY bench_plan FROM STDIN") as copy:
            copy.write(text)
        with bulk_load(conn):
            for statement in BUILD:
                conn.execute(statement, {"boards": BOARDS})
        conn.execute("DROP TABLE bench_plan")
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
        row = conn.execute(COUNTS).fetchone()
        assert row is not None
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert size is not None
    names = ["sent_out", "reminder_schedule", "reminders", "outbox_mail", "decisions"]
    return {
        "versions_out": versions,
        "programs_with_a_version_in_force": with_history,
        **dict(zip([f"{n}_rows" for n in names], row[:5], strict=True)),
        "program_boards_rows": row[5],
        "database_mb": round(size[0] / 2**20),
        "build_s": round(time.perf_counter() - t0, 1),
    }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def due_count(db: Database, now: datetime) -> int:
    with db.reads() as session:
        rows = session.scalars(
            select(ReminderSchedule.version_id).where(ReminderSchedule.next_due_at <= now)
        )
        return len(list(rows))


def timed_sweep(db: Database, config: Config, now: datetime) -> tuple[float, SweepReport]:
    t = time.perf_counter()
    result = sweep(db, config, now)
    return time.perf_counter() - t, result


def queued_rows(url: str, now: datetime) -> tuple[int, int]:
    """Reminders pending and reminder e-mails created by the sweep as of `now`."""
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM reminders WHERE status = 'pending' AND created_at = %s),"
            " (SELECT count(*) FROM outbox_mail WHERE kind = 'reminder' AND status = 'pending'"
            "  AND created_at = %s)",
            (now, now),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def put_back(url: str, now: datetime, days: Days) -> None:
    """Undo one due sweep: its reminders and e-mails gone, the schedule as at send-out."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                "DELETE FROM outbox_mail WHERE kind = 'reminder' AND created_at = %s", (now,)
            )
            conn.execute("DELETE FROM reminders WHERE created_at = %s", (now,))
            for day in (days.a, days.b):
                respond_by = day + timedelta(days=14)
                first = slot(POLICY, respond_by, POLICY.offsets[0]).scheduled_for
                conn.execute(
                    "UPDATE reminder_schedule s SET handled_through = NULL, next_due_at = %s "
                    "FROM versions v WHERE v.id = s.version_id AND v.respond_by = %s "
                    "AND v.state = 'sent_out'",
                    (first, respond_by),
                )
        conn.execute("VACUUM (ANALYZE) reminder_schedule, reminders, outbox_mail")


def explain_due(url: str, now: datetime, limit: int) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the sweep's `due_versions` query at `now`."""
    db = open_database(url)
    seen: list[tuple[str, Any]] = []
    try:

        def listen(*args: Any) -> None:
            seen.append((args[2], args[3]))

        event.listen(db.engine, "before_cursor_execute", listen)
        with db.reads() as session:
            due_versions(session, now, limit)
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + seen[-1][0], seen[-1][1])
            plan_text = [r[0] for r in cur.fetchall()]
            raw.rollback()
        finally:
            raw.close()
    finally:
        db.dispose()
    return {"sql": " ".join(seen[-1][0].split()), "plan": plan_text}


def sample_stats(samples: list[float]) -> dict[str, float]:
    values = sorted(ms(s) for s in samples)
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 2),
        "p95_ms": round(statistics.quantiles(values, n=20, method="inclusive")[18], 2),
        "max_ms": values[-1],
        "min_ms": values[0],
    }


def measure(
    url: str, days: Days, repeat: int, due_runs: int, disturbed: list[str]
) -> dict[str, Any]:
    """The none-due, 1,000-due and 10,000-due sweeps on one data set."""
    config = Config(maildir=Path(os.devnull))
    db = open_database(url)
    install_writers(db, config)
    out: dict[str, Any] = {"load_at_start": load_average()}

    def none_due() -> dict[str, Any]:
        db.dispose()  # the first sweep opens the pool's first connection
        assert due_count(db, days.none_due) == 0
        first, result = timed_sweep(db, config, days.none_due)
        assert result.queued == 0
        runs = [timed_sweep(db, config, days.none_due)[0] for _ in range(repeat)]
        return {"first_sweep_ms": ms(first), **sample_stats(runs)}

    def due(now: datetime, expected: int) -> float:
        put_back(url, now, days)  # a no-op unless a try before was cut short
        assert due_count(db, now) == expected
        seconds, result = timed_sweep(db, config, now)
        assert result.queued == expected, result
        assert queued_rows(url, now) == (expected, expected)
        put_back(url, now, days)
        progress(f"  {expected} due: {seconds:.2f} s")
        return seconds

    try:
        out["none_due"] = steady("none_due", none_due, disturbed)
        progress(f"  none due: median {out['none_due']['median_ms']} ms")
        for name, now, expected, times in (
            ("due_1000", days.due_1k, 1000, 1),
            ("due_10000", days.due_10k, 10000, due_runs),
        ):
            runs = [steady(name, partial(due, now, expected), disturbed) for _ in range(times)]
            out[name] = {
                "queued": expected,
                "runs_s": [round(s, 2) for s in runs],
                "best_s": round(min(runs), 2),
                "per_reminder_ms": round(min(runs) / expected * 1000, 3),
            }
    finally:
        db.dispose()
    for name, now in (("explain_none_due", days.none_due), ("explain_10000_due", days.due_10k)):
        out[name] = steady(name, partial(explain_due, url, now, config.batch_size), [])
    out["load_at_end"] = load_average()
    return out


def progress(message: str) -> None:
    """A line on stderr, so a long run shows where it is."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def one_set(
    label: str, versions: int, args: argparse.Namespace, days: Days, disturbed: list[str]
) -> dict[str, Any]:
    """Build one data set (again, when PostgreSQL restarted during the build) and measure."""
    for attempt in range(3):
        with bench_database(f"ratify_bench_sweep_{label}") as url:
            progress(f"{label}: building {versions} versions out for decision")
            try:
                data = steady(
                    f"{label}_build",
                    partial(build, url, versions, args.history, days),
                    disturbed,
                    1,
                )
            except Disturbed:
                if attempt == 2:
                    raise
                continue
            progress(f"{label}: built in {data['build_s']} s; sweeping")
            runs = args.due_runs if label == "large" else 1
            return {"data": data, **measure(url, days, args.repeat, runs, disturbed)}
    raise AssertionError("unreachable")


def quiet_service_logging() -> None:
    """Logging as `ratify worker` has it (JSON, INFO), written to /dev/null."""
    configure_logging("json", "INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--history", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--due-runs", type=int, default=2)
    args = parser.parse_args()
    if args.versions < 10 * (DUE_A + DUE_B):
        parser.error(f"--versions must be at least {10 * (DUE_A + DUE_B)}")
    quiet_service_logging()
    days = business_days()
    result: dict[str, Any] = {
        "code": code_state(),
        "day_a": days.a.isoformat(),
        "day_b": days.b.isoformat(),
        "now_none_due": days.none_due.isoformat(),
        "now_1000_due": days.due_1k.isoformat(),
        "now_10000_due": days.due_10k.isoformat(),
    }
    started = time.perf_counter()
    disturbed: list[str] = []
    sets = {
        label: one_set(label, versions, args, days, disturbed)
        for label, versions in (("large", args.versions), ("small", args.versions // 10))
    }
    result.update(sets)
    result["repeated_after_postgres_restart"] = disturbed
    large, small = sets["large"], sets["small"]
    result["ratios_large_to_small"] = {
        "none_due_median": round(
            large["none_due"]["median_ms"] / small["none_due"]["median_ms"], 2
        ),
        "due_10000_best": round(large["due_10000"]["best_s"] / small["due_10000"]["best_s"], 2),
    }
    result["targets"] = {
        "none_due_under_100ms": large["none_due"]["max_ms"] < 100
        and large["none_due"]["first_sweep_ms"] < 100,
        "due_10000_under_10s": max(large["due_10000"]["runs_s"]) < 10,
    }
    result["total_s"] = round(time.perf_counter() - started, 1)
    report("sweep", result)


if __name__ == "__main__":
    main()
