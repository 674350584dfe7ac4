"""What one statement costs the client: the floor under a request's CPU.

    .venv/bin/python -m bench.statement [--statements 3000] [--rounds 3]

Client CPU (process time, so the server's work is not counted) per
statement on one PostgreSQL connection, the statement a parameterized
one-row SELECT, for each way ratify could send it:

- `psycopg`: psycopg's AsyncConnection, awaited statement by statement;
- `psycopg_pipeline`: the same, six statements per pipeline sync (one round
  trip for six, as a decision's writes could be sent);
- `sqlalchemy_async`: a Core statement on SQLAlchemy's AsyncConnection;
- `sqlalchemy_greenlet`: the same Core statement from sync code in
  SQLAlchemy's greenlet (`run_sync`): how ratify's routes reach the
  database (`db.loop`).

And the audit append's two writes (event insert, chain head update) as two
statements against one CTE, both in the greenlet: what folding them saves.
The medians of `--rounds` rounds.
"""

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable

import psycopg
import uvloop
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import ADMIN, report

PIPELINED = 6
SELECT = "SELECT %(x)s::text AS x, now() AS at"
SELECT_CORE = text("SELECT CAST(:x AS text) AS x, now() AS at")
SETUP = (
    "CREATE TEMPORARY TABLE bench_events (seq bigserial PRIMARY KEY, hash text NOT NULL)",
    "CREATE TEMPORARY TABLE bench_heads (chain text PRIMARY KEY, seq bigint, hash text)",
    "INSERT INTO bench_heads VALUES ('c', 0, '')",
)
INSERT = text("INSERT INTO bench_events (hash) VALUES (:hash) RETURNING seq")
MOVE = text("UPDATE bench_heads SET seq = :seq, hash = :hash WHERE chain = 'c'")
INSERT_AND_MOVE = text(
    "WITH written AS (INSERT INTO bench_events (hash) VALUES (:hash) RETURNING seq),"
    " moved AS (UPDATE bench_heads SET seq = (SELECT seq FROM written), hash = :hash"
    " WHERE chain = 'c') SELECT seq FROM written"
)


def per_statement(n: int, run: Callable[[], None]) -> float:
    """Microseconds of process CPU per statement for `run`, which sends `n`."""
    start = time.process_time()
    run()
    return 1e6 * (time.process_time() - start) / n


async def psycopg_rates(n: int) -> dict[str, float]:
    async with await psycopg.AsyncConnection.connect(ADMIN) as connection:
        cursor = connection.cursor()
        for i in range(50):  # past psycopg's prepare threshold, as a busy server is
            await (await cursor.execute(SELECT, {"x": str(i)})).fetchall()

        async def one_by_one() -> None:
            for i in range(n):
                await (await cursor.execute(SELECT, {"x": str(i)})).fetchall()

        async def pipelined() -> None:
            for i in range(n // PIPELINED):
                async with connection.pipeline():
                    for _ in range(PIPELINED):
                        await cursor.execute(SELECT, {"x": str(i)})
                await connection.commit()

        return {
            "psycopg": await timed(n, one_by_one),
            "psycopg_pipeline": await timed(n // PIPELINED * PIPELINED, pipelined),
        }


async def timed(n: int, run: Callable[[], Awaitable[None]]) -> float:
    start = time.process_time()
    await run()
    return 1e6 * (time.process_time() - start) / n


async def sqlalchemy_rates(n: int) -> dict[str, float]:
    engine = create_async_engine(ADMIN.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        async with engine.connect() as connection:

            async def on_async_connection() -> None:
                for i in range(n):
                    (await connection.execute(SELECT_CORE, {"x": str(i)})).all()

            def in_greenlet(sync: Connection) -> dict[str, float]:
                for statement in SETUP:
                    sync.execute(text(statement))

                def selects() -> None:
                    for i in range(n):
                        sync.execute(SELECT_CORE, {"x": str(i)}).all()

                def two_statements() -> None:
                    for i in range(n // 2):
                        seq = sync.execute(INSERT, {"hash": str(i)}).scalar_one()
                        sync.execute(MOVE, {"seq": seq, "hash": str(i)})

                def one_cte() -> None:
                    for i in range(n // 2):
                        sync.execute(INSERT_AND_MOVE, {"hash": str(i)}).scalar_one()

                for warm in (selects, two_statements, one_cte):
                    warm()
                return {
                    "sqlalchemy_greenlet": per_statement(n, selects),
                    "append_two_statements": per_statement(n // 2, two_statements),
                    "append_one_cte": per_statement(n // 2, one_cte),
                }

            for i in range(50):
                await connection.execute(SELECT_CORE, {"x": str(i)})
            rates = {"sqlalchemy_async": await timed(n, on_async_connection)}
            rates |= await connection.run_sync(in_greenlet)
            await connection.rollback()
            return rates
    finally:
        await engine.dispose()


async def one_round(n: int) -> dict[str, float]:
    return await psycopg_rates(n) | await sqlalchemy_rates(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [uvloop.run(one_round(args.statements)) for _ in range(args.rounds)]
    medians = {key: round(statistics.median(r[key] for r in rounds), 1) for key in rounds[0]}
    report(
        "statement",
        {
            "statements": args.statements,
            "rounds": args.rounds,
            "client_cpu_us_per_statement": medians,
            "note": "append_* are per append (event insert and head update), not per statement",
        },
    )


if __name__ == "__main__":
    main()
