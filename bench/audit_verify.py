"""How long the audit chain check takes, in full and incrementally, as the trail grows.

A fresh database (SQLite in a temporary folder, or `--url`) gets EVENTS audit
events over PROGRAMS chains (and `_global`), appended as the service appends
them. Then, each the median of `--repeat` runs, in process:

- the full check (what `GET /v1/audit/verify` does),
- the incremental check with nothing new (what the auditor's page does on a
  quiet day), and after NEW new events.

    .venv/bin/python -m bench.audit_verify [--events 20000] [--programs 20] [--new 10]

Writes `bench/results/audit_verify.json`. No assertion: figures only.
"""

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db import audit, audit_verify, migrate
from db.engine import Database, open_database
from workflow.actors import Actor, Role
from workflow.events import Event, EventType

ROOT = Path(__file__).resolve().parent
ACTOR = Actor(name="bench", role=Role.SECRETARIAT)


def fill(db: Database, events: int, programs: int, batch: int = 500) -> None:
    """`events` events, round-robin over the programs' chains and `_global`."""
    written = 0
    while written < events:
        count = min(batch, events - written)
        with db.writes() as session:
            rows = []
            for i in range(written, written + count):
                program = i % (programs + 1)
                if program == programs:
                    rows.append(Event(EventType.KEY_CREATED, None, data={"name": f"k{i}"}))
                else:
                    data = {"label": f"v{i}"}
                    rows.append(Event(EventType.VERSION_DRAFTED, f"p{program}", None, None, data))
            rows.sort(key=lambda e: e.program_id or "")  # one lock per chain per batch
            audit.append(session, rows, ACTOR, datetime.now(UTC))
            session.commit()
        written += count


def median_seconds(call: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(url: str, events: int, programs: int, new: int, repeat: int) -> dict[str, Any]:
    db = open_database(url)
    migrate.upgrade(db.engine)
    fill(db, events, programs)
    now = datetime.now(UTC)

    def full() -> None:
        assert audit_verify.verify_database(db, now).ok

    def incremental() -> None:
        assert audit_verify.verify_database(db, now, incremental=True).ok

    result = {
        "events": events,
        "programs": programs,
        "full_s": median_seconds(full, repeat),
        "incremental_nothing_new_s": median_seconds(incremental, repeat),
    }
    samples = []
    for _ in range(repeat):
        fill(db, new, programs)
        samples.append(median_seconds(incremental, 1))
    result[f"incremental_{new}_new_s"] = statistics.median(samples)
    db.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--programs", type=int, default=20)
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{folder}/bench.db"
        result = run(url, args.events, args.programs, args.new, args.repeat)
    result["backend"] = url.split(":", 1)[0]
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "audit_verify.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
