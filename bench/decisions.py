"""Decision throughput over HTTP on PostgreSQL, against pgbench doing the same transaction.

    .venv/bin/python -m bench.decisions [--workers 1,2,3,4] [--seconds 20] [--programs 3000]
        [--asgi uvicorn|granian]

For each server worker count: a fresh database with PROGRAMS programs of the
eight Södertörn boards, one version each, sent out; wrk with 16 connections
records approvals (each (version, board) once; every eighth puts a version in
force). Then pgbench runs, with 16 clients on the same database, first the
same transaction (`decision_same_tx.sql`: every statement ratify sends for an
ordinary decision), then the minimal one (`decision_tx.sql`: row lock, two
inserts, one update). Prints the rates, the ratios, the server's p50/p99 and
its CPU per request (process CPU seconds ÷ requests), and the same for
GET /v1/versions/{id}. `--asgi granian` serves the same app under granian
instead of `ratify serve`'s uvicorn (`pip install granian` first).
"""

import argparse
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import (
    BIN,
    ROOT,
    Served,
    env_for,
    fresh_database,
    pgbench,
    ratify,
    report,
    server,
    wrk,
)
from db import commands, seed
from db.engine import open_database
from db.uow import UnitOfWork
from workflow.actors import SYSTEM

HERE = ROOT / "bench"
BOARDS = [b[0] for b in seed.BOARDS]


def prepare(url: str, programs: int) -> list[str]:
    """Seed, then PROGRAMS programs with one sent-out version each; the version ids."""
    ratify("seed", env=env_for(url))
    db = open_database(url)
    ids = []
    now = datetime.now(UTC)
    with UnitOfWork(db, SYSTEM, now) as uow:
        for n in range(1, programs + 1):
            program_id, version_id = f"bp-{n:07d}", f"bv-{n:07d}"
            commands.create_program(uow, program_id, f"Bench {n}", "bench", BOARDS)
            draft = commands.Draft(f"B{n}", date(2019, 5, 28), date(2019, 1, 1), None, None)
            commands.create_version(uow, program_id, draft, version_id=version_id)
            commands.send_out(uow, version_id, now.date() + timedelta(days=30), None)
            ids.append(version_id)
        uow.commit()
    db.dispose()
    return ids


def tokens(url: str) -> tuple[dict[str, str], str]:
    """A board token for each board, and a secretariat token for reading."""
    env = env_for(url)
    boards = {
        b: ratify(
            "keys", "create", "--role", "board", "--board", b, "--name", f"bench-{b}", env=env
        ).split()[-1]
        for b in BOARDS
    }
    reader = ratify(
        "keys", "create", "--role", "secretariat", "--name", "bench-reader", env=env
    ).split()[-1]
    return boards, reader


def write_data(url: str, versions: list[str]) -> None:
    """data.lua for the wrk scripts: versions, boards, a token per board, a reader token."""
    boards, reader = tokens(url)
    lines = ["versions = {" + ",".join(f'"{v}"' for v in versions) + "}"]
    lines.append("boards = {" + ",".join(f'"{b}"' for b in BOARDS) + "}")
    lines.append("tokens = {" + ",".join(f'{b}="{t}"' for b, t in boards.items()) + "}")
    lines.append(f'reader = "{reader}"')
    (HERE / "data.lua").write_text("\n".join(lines) + "\n")


def run(workers: int, seconds: int, programs: int, asgi: str) -> dict[str, object]:
    with fresh_database("ratify_bench") as url:
        versions = prepare(url, programs)
        write_data(url, versions)
        with server(url, workers, asgi=asgi) as served:
            wrk(served.base, HERE / "reads.lua", 16, 3)  # warm up
            decisions, decision_cpu = measured(served, "decisions.lua", seconds)
            reads, read_cpu = measured(served, "reads.lua", seconds)
        variables = {"nversions": str(programs)}
        same = pgbench(url, HERE / "decision_same_tx.sql", 16, seconds, variables)
        minimal = pgbench(url, HERE / "decision_tx.sql", 16, seconds, variables)
    (HERE / "data.lua").unlink()
    return {
        "workers": workers,
        "asgi": asgi,
        "decisions_per_s": decisions["rate"],
        "decision_p50_ms": decisions["p50_ms"],
        "decision_p99_ms": decisions["p99_ms"],
        "decision_non_2xx": decisions["non_2xx"],
        "pgbench_same_tps": same,
        "ratio_to_same": round(decisions["rate"] / same, 3),
        "pgbench_minimal_tps": minimal,
        "ratio_to_minimal": round(decisions["rate"] / minimal, 3),
        "reads_per_s": reads["rate"],
        "read_p50_ms": reads["p50_ms"],
        "read_p99_ms": reads["p99_ms"],
        "reads_to_decisions": round(reads["rate"] / decisions["rate"], 2),
        "server_cpu_ms_per_decision": decision_cpu,
        "server_cpu_ms_per_read": read_cpu,
    }


def measured(served: Served, script: str, seconds: int) -> tuple[dict[str, Any], float]:
    """wrk's figures for `script`, and the server's CPU milliseconds per request meanwhile."""
    before = served.cpu_seconds()
    result = wrk(served.base, HERE / script, 16, seconds)
    spent = served.cpu_seconds() - before
    requests = result["requests"] or result["rate"] * seconds
    return result, round(1000 * spent / requests, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,3,4")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--programs", type=int, default=3000)
    parser.add_argument("--asgi", choices=["uvicorn", "granian"], default="uvicorn")
    args = parser.parse_args()
    if args.asgi == "granian" and not (BIN / "granian").exists():
        parser.error("granian is not installed: .venv/bin/pip install granian")
    runs = [run(int(w), args.seconds, args.programs, args.asgi) for w in args.workers.split(",")]
    for r in runs:
        print(r)
    best = max(runs, key=lambda r: float(r["decisions_per_s"]))  # type: ignore[arg-type]
    report("decisions", {"best": best, "runs": runs})


if __name__ == "__main__":
    main()
