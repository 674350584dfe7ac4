"""The audit trail at scale on PostgreSQL: 1,000,000 events, queried and exported.

    .venv/bin/python -m bench.audit_scale [--events 1000000] [--samples 500] [--wrk-seconds 10]
        [--keep-database] [--only in_process,explain,http,wrk,export]

`--keep-database` leaves the loaded database in place at the end and, when
it already holds the same number of events, uses it instead of loading again
(for iterating on the queries: the load takes minutes). `--only` measures
just the named parts (default: all of them).

A fresh database (`ratify seed`, then bulk SQL) gets EVENTS audit events,
50 per version, spread over EVENTS/50 versions (20,000) of EVENTS/500
programs (2,000), each program with the eight Södertörn boards as members
and ten versions in succession. Each version's life is the real event
sequence: drafted, sent out, eight send-out notices (`mail.sent`), 21
reminders (`reminder.sent`), two referrals back and eight approvals
(`decision.recorded`, by the boards' own keys, with §, diarienummer and the
request context), `version.in_force` and eight in-force notices. A thousand
versions are under way at once, so a version's 50 events lie scattered over
50,000 `seq` values (a different heap page each, the unfavourable case).
The rows are generated with `INSERT ... SELECT generate_series`; `hash` and
`prev_hash` are well-formed but are NOT valid per-program hash chains (and
`chain_heads` is not moved on): nothing measured here reads or checks them.
The secondary indexes of `events` are dropped for the load and re-created
from their own definitions afterwards, then `VACUUM (ANALYZE)`.

Measured, latency as p50/p95/p99/max over SAMPLES random versions:

- (a) "who approved this version": `db.audit_queries.list_events` (what the
  route runs, in the route's kind of session) with `version_id` and
  `type=decision.recorded` (10 events), in-process, through the whole app
  in-process (ASGI, no sockets), and over HTTP
  (`GET /v1/audit?version_id=...&type=decision.recorded` against
  `ratify serve --no-scheduler`, one worker, sequential httpx requests on a
  kept-alive connection; then wrk with 4 connections for the rate). Target:
  p95 under 20 ms.
- (b) `GET /v1/audit?version_id=...` (all 50 events of the version) over HTTP.
- `db.audit.settled_seq` alone (advisory lock, `max(seq)`, unlock), also
  while two simulated writers keep taking the writers' lock shared for 10 ms,
  and the filtered SELECT without it.
- `EXPLAIN (ANALYZE, BUFFERS)` of the statements `list_events` and the export
  run, captured as executed, with the indexes their plans use.
- (c) `GET /v1/audit/export?format=csv` of all events: duration, bytes, rows,
  and the server process's VmRSS before, sampled every 50 ms during, and its
  peak (VmHWM, reset through /proc/PID/clear_refs just before).

The data sits in the OS page cache (the machine has far more memory than the
~0.7 GB of table and indexes), so these are warm-cache figures.
"""

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from api.app import create_app
from bench.common import (
    ADMIN,
    Disturbed,
    bench_database,
    code_state,
    env_for,
    load_average,
    ratify,
    report,
    server,
    steady,
    wrk,
)
from db import models, seed
from db.audit import WRITERS_LOCK, settled_seq
from db.audit_queries import Filters, list_events, stream_events
from db.engine import Database, open_database

BOARDS = [b[0] for b in seed.BOARDS]
PER_VERSION = 50
CONCURRENT = 1000
"""Versions under way at once: each block of CONCURRENT * PER_VERSION events."""
VERSIONS_PER_PROGRAM = 10

PROGRAMS_SQL = """
INSERT INTO programs (id, title, owner, created_at)
SELECT 'bench-p' || lpad(p::text, 5, '0'),
       'Gemensamt program ' || p, 'Södertörns samarbetskommitté',
       timestamptz '2015-01-01 09:00+01' + p * interval '1 hour'
FROM generate_series(0, %(programs)s - 1) AS p
"""

MEMBERS_SQL = """
INSERT INTO program_boards (program_id, board_id, position)
SELECT 'bench-p' || lpad(p::text, 5, '0'), b.id, b.pos - 1
FROM generate_series(0, %(programs)s - 1) AS p,
     unnest(%(boards)s::text[]) WITH ORDINALITY AS b(id, pos)
"""

VERSIONS_SQL = """
INSERT INTO versions (id, program_id, label, state, drafted_on, valid_from, replaces,
                      superseded_by, sent_out_at, respond_by, in_force_from, superseded_on,
                      document_title, imported, created_at, created_by)
SELECT md5('v' || k)::uuid::text,
       'bench-p' || lpad((k %% %(programs)s)::text, 5, '0'),
       'Version ' || (k / %(programs)s + 1),
       CASE WHEN k / %(programs)s = %(vpp)s - 1 THEN 'in_force' ELSE 'superseded' END,
       d::date, d::date,
       CASE WHEN k >= %(programs)s THEN md5('v' || (k - %(programs)s))::uuid::text END,
       CASE WHEN k / %(programs)s < %(vpp)s - 1
            THEN md5('v' || (k + %(programs)s))::uuid::text END,
       d + interval '7 days', (d + interval '60 days')::date, (d + interval '80 days')::date,
       CASE WHEN k / %(programs)s < %(vpp)s - 1 THEN (d + interval '2 years')::date END,
       'Program, version ' || (k / %(programs)s + 1), false, d, 'kansliet'
FROM generate_series(0, %(versions)s - 1) AS k,
     LATERAL (SELECT timestamptz '2015-01-01 09:00+01'
                     + (k / %(concurrent)s) * interval '100 days'
                     + (k %% %(concurrent)s) * interval '1 minute' AS d) AS t
"""

# One row per event: block b of CONCURRENT versions under way at once, j = step of the
# version's life (0..49), k = the version. Boards and actors follow the real commands.
EVENTS_SQL = """
INSERT INTO events (at, type, actor_name, actor_role, actor_board_id, program_id, version_id,
                    board_id, data, chain, prev_hash, hash)
SELECT at, type,
       CASE WHEN type = 'decision.recorded' THEN board || '-arende'
            WHEN type IN ('version.drafted', 'version.sent_out') THEN 'kansliet'
            ELSE 'ratify' END,
       CASE WHEN type = 'decision.recorded' THEN 'board'
            WHEN type IN ('version.drafted', 'version.sent_out') THEN 'secretariat'
            ELSE 'system' END,
       CASE WHEN type = 'decision.recorded' THEN board END,
       program, version, board,
       CASE type
         WHEN 'version.drafted' THEN json_build_object('replaces', prev, 'request', req)
         WHEN 'version.sent_out' THEN json_build_object(
           'respond_by', (at + interval '60 days')::date, 'request', req)
         WHEN 'decision.recorded' THEN json_build_object(
           'decision_id', md5('d' || g)::uuid, 'outcome', outcome,
           'decided_on', at::date, 'paragraph', '§ ' || (g %% 240 + 1),
           'case_number', extract(year FROM at) || '/KS ' || lpad((g %% 900)::text, 4, '0')
                          || ' 005',
           'document_sha256', NULL, 'minutes_attested_on', (at + interval '3 days')::date,
           'announced_on', (at + interval '4 days')::date,
           'final_on', (at + interval '25 days')::date, 'note', NULL, 'request', req)
         WHEN 'version.in_force' THEN json_build_object(
           'in_force_from', at::date, 'replaces', prev)
         ELSE json_build_object(
           'kind', CASE WHEN type = 'reminder.sent' THEN 'reminder'
                        WHEN j < 10 THEN 'version.sent_out' ELSE 'version.in_force' END,
           'message_id', '<' || CASE WHEN type = 'reminder.sent'
                                     THEN 'reminder-' || version || '-' || board || '-d'
                                          || to_char(slot, 'FMSG99')
                                     WHEN j < 10 THEN 'sent-out-' || version
                                     ELSE 'in-force-' || version || '-' || board END || '@ratify>',
           'to', 'kommunstyrelsen@' || board || '.example', 'attempts', 1,
           'slot', slot, 'scheduled_for', CASE WHEN slot IS NOT NULL THEN at END)
       END,
       program,
       md5('h' || (g - 1)) || md5('H' || (g - 1)),
       md5('h' || g) || md5('H' || g)
FROM (
  SELECT g, j, k, program, version, prev, at,
         CASE WHEN j >= 2 AND j <> 41 THEN boards[1 + (j + k) %% 8] END AS board,
         CASE WHEN j = 0 THEN 'version.drafted'
              WHEN j = 1 THEN 'version.sent_out'
              WHEN j < 10 OR j > 41 THEN 'mail.sent'
              WHEN j < 31 THEN 'reminder.sent'
              WHEN j = 41 THEN 'version.in_force'
              ELSE 'decision.recorded' END AS type,
         CASE WHEN j BETWEEN 31 AND 32 THEN 'referred_back' ELSE 'approved' END AS outcome,
         CASE WHEN j BETWEEN 10 AND 17 THEN -14 WHEN j BETWEEN 18 AND 25 THEN -3
              WHEN j BETWEEN 26 AND 30 THEN 1 END AS slot,
         json_build_object('client', '10.' || (k %% 8) || '.0.' || (g %% 250),
                           'user_agent', 'arende/4.2 (+integration)',
                           'idempotency_key', md5('i' || g)::uuid) AS req
  FROM (
    SELECT g, r / %(concurrent)s AS j, k,
           'bench-p' || lpad((k %% %(programs)s)::text, 5, '0') AS program,
           md5('v' || k)::uuid::text AS version,
           CASE WHEN k >= %(programs)s THEN md5('v' || (k - %(programs)s))::uuid::text END
             AS prev,
           timestamptz '2015-01-01 09:00+01' + g * interval '3 minutes' AS at,
           %(boards)s::text[] AS boards
    FROM generate_series(%(first)s, %(last)s) AS g,
         LATERAL (SELECT (g - 1) %% (%(concurrent)s * 50) AS r) AS rr,
         LATERAL (SELECT ((g - 1) / (%(concurrent)s * 50)) * %(concurrent)s
                         + r %% %(concurrent)s AS k) AS kk
  ) AS base
) AS e
"""


PARTS = ("in_process", "explain", "http", "wrk", "export")
DATABASE = "ratify_bench_audit"


def read_page(db: Database, filters: Filters, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of `GET /v1/audit`, in the kind of session the route gets."""
    with db.lookups() as session:
        return list_events(session, filters, limit, cursor)


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def load(url: str, events: int) -> dict[str, Any]:
    """Seed, then the programs, versions and EVENTS events; how long each step took."""
    timings: dict[str, Any] = {}
    t = time.perf_counter()
    ratify("seed", env=env_for(url))
    timings["seed_s"] = round(time.perf_counter() - t, 2)
    versions = events // PER_VERSION
    programs = versions // VERSIONS_PER_PROGRAM
    params: dict[str, Any] = {
        "programs": programs,
        "versions": versions,
        "vpp": VERSIONS_PER_PROGRAM,
        "concurrent": CONCURRENT,
        "boards": BOARDS,
    }
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        t = time.perf_counter()
        for statement in (PROGRAMS_SQL, MEMBERS_SQL, VERSIONS_SQL):
            conn.execute(statement, params)
        timings["programs_versions_s"] = round(time.perf_counter() - t, 2)
        indexes = [
            (name, ddl)
            for name, ddl in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'events' AND indexname <> 'pk_events'"
            )
        ]
        for name, _ddl in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        t = time.perf_counter()
        step = 250_000
        for first in range(1, versions * PER_VERSION + 1, step):
            last = min(first + step - 1, versions * PER_VERSION)
            conn.execute(EVENTS_SQL, {**params, "first": first, "last": last})
        timings["events_insert_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        for _name, ddl in indexes:
            conn.execute(ddl)
        timings["events_indexes_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) events")
        conn.execute("VACUUM (ANALYZE) versions")
        conn.execute("CHECKPOINT")
        timings["vacuum_analyze_s"] = round(time.perf_counter() - t, 2)
        row = conn.execute(
            "SELECT count(*), pg_total_relation_size('events'), pg_relation_size('events') "
            "FROM events"
        ).fetchone()
        assert row is not None
        timings["events_rows"] = row[0]
        timings["events_total_mb"] = round(row[1] / 2**20)
        timings["events_heap_mb"] = round(row[2] / 2**20)
        timings["indexes_rebuilt"] = [name for name, _ in indexes]
    return timings


def version_ids(url: str) -> list[str]:
    with psycopg.connect(libpq(url)) as conn:
        return [
            r[0] for r in conn.execute("SELECT id FROM versions WHERE program_id LIKE 'bench-%'")
        ]


def stats(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in ms of durations in seconds."""
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": round(q[49], 3),
        "p95_ms": round(q[94], 3),
        "p99_ms": round(q[98], 3),
        "max_ms": round(ms[-1], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def timed(n: int, call: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        call(i)
        out.append(time.perf_counter() - t)
    return out


def who_approved(version_id: str) -> Filters:
    """What GET /v1/audit?version_id=...&type=decision.recorded asks for."""
    return Filters(version_id=version_id, type="decision.recorded")


def in_process(db: Database, ids: list[str], samples: int) -> dict[str, Any]:
    """list_events (a, b), settled_seq, and the bare SELECT, each in a fresh session per call.

    The sessions are the route's (`db.lookups`: autocommit on PostgreSQL).
    """
    rng = random.Random(1)
    picks = [rng.choice(ids) for _ in range(samples)]

    def approved(i: int) -> None:
        page = read_page(db, who_approved(picks[i]), 100, None)
        assert len(page["items"]) == 10, len(page["items"])

    def whole(i: int) -> None:
        page = read_page(db, Filters(version_id=picks[i]), 100, None)
        assert len(page["items"]) == PER_VERSION

    def settled(_i: int) -> None:
        with db.lookups() as session:
            settled_seq(session)

    def bare(i: int) -> None:
        with db.lookups() as session:
            query = (
                who_approved(picks[i])
                .apply(select(models.Event))
                .order_by(models.Event.seq)
                .limit(101)
            )
            assert len(list(session.scalars(query))) == 10

    timed(20, approved)  # warm the pool and the caches
    return {
        "who_approved_list_events": stats(timed(samples, approved)),
        "version_all_list_events": stats(timed(samples, whole)),
        "settled_seq_alone": stats(timed(samples, settled)),
        "select_without_settled_seq": stats(timed(samples, bare)),
    }


def in_process_asgi(db: Database, ids: list[str], samples: int, token: str) -> dict[str, Any]:
    """GET /v1/audit?version_id= through the whole app in this process (ASGI, no sockets).

    Everything the server does for the request (routing, dependencies, the
    thread pool, the token lookup, the queries, the JSON) without the HTTP
    parsing and the client: less exposed to the machine's load than HTTP.
    """
    app = create_app(db)
    rng = random.Random(3)
    picks = [rng.choice(ids) for _ in range(samples)]
    out: dict[str, Any] = {}

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            for name, query, expect in (
                ("who_approved", "&type=decision.recorded", 10),
                ("version_all", "", PER_VERSION),
            ):
                durations = []
                for i in range(-20, samples):  # 20 to warm up
                    t = time.perf_counter()
                    response = await client.get(f"/v1/audit?version_id={picks[i]}{query}")
                    durations.append(time.perf_counter() - t)
                    assert response.status_code == 200, response.text
                    assert len(response.json()["items"]) == expect
                out[name] = stats(durations[20:])

    asyncio.run(run())
    return out


def settled_contended(db: Database, url: str, samples: int, hold_ms: float) -> dict[str, Any]:
    """settled_seq while two writers keep taking the writers' lock shared for HOLD_MS each."""
    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(libpq(url)) as conn:
            while not stop.is_set():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (WRITERS_LOCK,))
                    time.sleep(hold_ms / 1000)

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(2)]
    for th in threads:
        th.start()
    time.sleep(0.5)

    def settled(_i: int) -> None:
        with db.reads() as session:
            settled_seq(session)

    try:
        result = stats(timed(samples, settled))
    finally:
        stop.set()
        for th in threads:
            th.join()
    return {"writers": 2, "writer_holds_ms": hold_ms, **result}


@contextlib.contextmanager
def captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and parameters) executed on `db` inside the block."""
    seen: list[tuple[str, Any]] = []

    def listen(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, *_args: Any
    ) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def plan_indexes(node: dict[str, Any]) -> list[str]:
    """'Node Type on index' for every node of a JSON plan that uses an index."""
    found = []
    if "Index Name" in node:
        found.append(f"{node['Node Type']} using {node['Index Name']}")
    for child in node.get("Plans", []):
        found.extend(plan_indexes(child))
    return found


def explain(db: Database, statement: str, parameters: Any) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured statement: its plan text and indexes."""
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
        found = cur.fetchone()
        assert found is not None
        doc = found[0][0]
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        text = [r[0] for r in cur.fetchall()]
        raw.rollback()
    return {
        "sql": " ".join(statement.split()),
        "parameters": {k: str(v) for k, v in (parameters or {}).items()},
        "indexes": plan_indexes(doc["Plan"]),
        "execution_ms": doc["Execution Time"],
        "planning_ms": doc["Planning Time"],
        "plan": text,
    }


def explains(db: Database, version_id: str) -> dict[str, Any]:
    """The plans of what list_events (a, b) and the export's batches execute."""
    out: dict[str, Any] = {}
    for name, filters in (
        ("who_approved", who_approved(version_id)),
        ("version_all", Filters(version_id=version_id)),
    ):
        with captured(db) as seen:
            read_page(db, filters, 100, None)
        selects = [s for s in seen if "FROM events" in s[0]]
        out[f"{name}_settled_max"] = explain(db, *selects[0])
        out[f"{name}_query"] = explain(db, *selects[-1])
    with captured(db) as seen, db.reads() as session:
        for n, _row in enumerate(stream_events(session, Filters())):
            if n >= 1500:  # past the first batch: a batch with a keyset lower bound
                break
    batches = [s for s in seen if "ORDER BY events.seq" in s[0]]
    out["export_batch_query"] = explain(db, *batches[-1])
    return out


def http_sequential(
    base: str, token: str, ids: list[str], samples: int, query: str, expect: int
) -> dict[str, Any]:
    rng = random.Random(2)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:

        def call(_i: int) -> None:
            response = client.get(f"/v1/audit?version_id={rng.choice(ids)}{query}")
            assert response.status_code == 200, response.text
            assert len(response.json()["items"]) == expect

        timed(20, call)
        return stats(timed(samples, call))


WRK_LUA = """
local ids = {%s}
local token = "%s"
request = function()
  local v = ids[math.random(#ids)]
  return wrk.format("GET", "/v1/audit?version_id=" .. v .. "&type=decision.recorded",
                    {["Authorization"] = "Bearer " .. token})
end
"""


def http_wrk(base: str, token: str, ids: list[str], seconds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "audit.lua"
        script.write_text(WRK_LUA % (",".join(f'"{v}"' for v in ids[:5000]), token))
        result = wrk(base, script, connections=4, seconds=seconds)
    result.pop("raw")
    return {"connections": 4, "seconds": seconds, **result}


def server_pid(port: int) -> int:
    """The pid of `ratify serve --port PORT` (one worker: the process that serves)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"--port" in args and str(port).encode() in args:
            return int(entry.name)
    raise RuntimeError(f"no ratify serve on port {port}")


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def export(base: str, token: str, pid: int) -> dict[str, Any]:
    """Stream the whole CSV export, sampling the server's RSS every 50 ms."""
    rss_before = status_kb(pid, "VmRSS")
    hwm_before = status_kb(pid, "VmHWM")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    t0 = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter() - t0, status_kb(pid, "VmRSS")))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = rows = 0
    first_byte = None
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.stream(
            "GET", f"{base}/v1/audit/export?format=csv", headers=headers, timeout=300
        ) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(1 << 16):
                if first_byte is None:
                    first_byte = time.perf_counter() - t0
                size += len(chunk)
                rows += chunk.count(b"\n")
    finally:
        duration = time.perf_counter() - t0
        stop.set()
        sampler.join()
    peak = max(status_kb(pid, "VmHWM"), *(kb for _t, kb in samples))
    quarter = [samples[min(len(samples) - 1, int(len(samples) * f))][1] for f in (0.25, 0.5, 0.75)]
    return {
        "rows": rows - 1,
        "bytes": size,
        "mb": round(size / 2**20, 1),
        "duration_s": round(duration, 2),
        "rows_per_s": round((rows - 1) / duration),
        "first_byte_ms": round((first_byte or 0) * 1000, 1),
        "rss_before_mb": round(rss_before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "rss_growth_mb": round((peak - rss_before) / 1024, 1),
        "rss_at_25_50_75_pct_of_time_mb": [round(kb / 1024, 1) for kb in quarter],
        "rss_after_mb": round(status_kb(pid, "VmRSS") / 1024, 1),
        "vmhwm_since_start_before_export_mb": round(hwm_before / 1024, 1),
        "rss_samples": len(samples),
    }


def measure(url: str, args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Every measurement (of the parts `args.only` names) on the loaded database, into `result`."""
    disturbed: list[str] = result.setdefault("repeated_after_postgres_restart", [])
    parts = args.only
    ids = version_ids(url)
    result["versions"] = len(ids)
    env = env_for(url)
    token = ratify(
        "keys", "create", "--role", "auditor", "--name", f"bench-{uuid.uuid4()}", env=env
    )
    token = token.split()[-1]
    db = open_database(url)
    try:
        result["load_at_queries"] = load_average()
        if "in_process" in parts:
            result["in_process"] = steady(
                "in_process", lambda: in_process(db, ids, args.samples), disturbed
            )
            result["in_process"]["asgi"] = steady(
                "in_process_asgi", lambda: in_process_asgi(db, ids, args.samples, token), disturbed
            )
            result["in_process"]["settled_seq_with_writers"] = steady(
                "settled_seq_with_writers",
                lambda: settled_contended(db, url, min(args.samples, 300), 10.0),
                disturbed,
            )
        if "explain" in parts:
            result["explain"] = steady(
                "explain", lambda: explains(db, ids[len(ids) // 2]), disturbed
            )
    finally:
        db.dispose()
    if not {"http", "wrk", "export"} & set(parts):
        return
    with server(url, 1) as served:
        base = served.base
        if "http" in parts:
            result["load_at_http"] = load_average()
            result["http"] = {
                "who_approved": steady(
                    "http_who_approved",
                    lambda: http_sequential(
                        base, token, ids, args.samples, "&type=decision.recorded", 10
                    ),
                    disturbed,
                ),
                "version_all": steady(
                    "http_version_all",
                    lambda: http_sequential(base, token, ids, args.samples, "", PER_VERSION),
                    disturbed,
                ),
            }
        if "wrk" in parts and args.wrk_seconds:
            result.setdefault("http", {})["who_approved_wrk"] = steady(
                "http_wrk", lambda: http_wrk(base, token, ids, args.wrk_seconds), disturbed
            )
        if "export" in parts:
            result["load_at_export"] = load_average()
            pid = server_pid(int(base.rsplit(":", 1)[1]))
            result["export_csv"] = steady("export", lambda: export(base, token, pid), disturbed)


def loaded_events(url: str) -> int | None:
    """How many bench events the kept database holds, or None when it is not there."""
    try:
        with psycopg.connect(libpq(url)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM events WHERE program_id LIKE 'bench-%'"
            ).fetchone()
    except psycopg.Error:
        return None
    assert row is not None
    return int(row[0])


@contextlib.contextmanager
def kept_database(name: str) -> Iterator[str]:
    """The database NAME, created when missing and never dropped; yields its URL."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        if (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is None
        ):
            admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help=f"keep {DATABASE} afterwards, and reuse it when it holds --events events",
    )
    parser.add_argument(
        "--only",
        type=lambda v: [p for p in v.split(",") if p],
        default=list(PARTS),
        help="comma-separated parts to measure: " + ",".join(PARTS),
    )
    args = parser.parse_args()
    if args.events % (CONCURRENT * PER_VERSION) or args.events < 2 * CONCURRENT * PER_VERSION:
        parser.error(f"--events must be a multiple of {CONCURRENT * PER_VERSION}, at least 2x")
    if unknown := set(args.only) - set(PARTS):
        parser.error(f"--only: unknown parts {sorted(unknown)}")
    result: dict[str, Any] = {"code": code_state(), "load_before": load_average()}
    started = time.perf_counter()
    disturbed: list[str] = result.setdefault("repeated_after_postgres_restart", [])
    for attempt in range(3):
        database = kept_database(DATABASE) if args.keep_database else bench_database(DATABASE)
        with database as url:
            if args.keep_database and loaded_events(url) == args.events:
                result["load"] = {"reused": DATABASE}
            else:
                if args.keep_database:
                    # A partial or different load: start again from an empty database.
                    with psycopg.connect(ADMIN, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
                        admin.execute(f'CREATE DATABASE "{DATABASE}"')
                try:
                    result["load"] = steady("load", lambda: load(url, args.events), disturbed, 1)
                except Disturbed:
                    if attempt == 2:
                        raise
                    continue
            measure(url, args, result)
        break
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["load_after"] = load_average()
    targets: dict[str, bool] = {}
    if "in_process" in result:
        targets["in_process"] = result["in_process"]["who_approved_list_events"]["p95_ms"] < 20
    if "who_approved" in result.get("http", {}):
        targets["http"] = result["http"]["who_approved"]["p95_ms"] < 20
        targets["http_version_all"] = result["http"]["version_all"]["p95_ms"] < 20
    result["target_p95_under_20ms"] = targets
    report("audit_scale", result)


if __name__ == "__main__":
    main()
