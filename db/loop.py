"""Sync database code on the event loop: how the HTTP server reaches the database.

The commands, queries and unit of work are plain functions over a sync
`Session`, shared by the server, the CLI and the scheduler. In the server
the database is opened `on_loop` (asyncio drivers: psycopg's async
connections, aiosqlite), and `run` calls that same code in a greenlet on the
event loop: each statement awaits the driver, so a request waiting on
PostgreSQL holds no thread and costs no thread switch (SQLAlchemy's own
asyncio layer works this way).

Code run here must not block the loop on anything but the database: a call
to another service goes through `blocking`, which waits for it in a worker
thread.
"""

import functools
import itertools
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import ParamSpec, TypeVar

from anyio import to_thread
from sqlalchemy.util import await_, greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

P = ParamSpec("P")
T = TypeVar("T")


async def run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` on the event loop, its statements awaiting the driver."""
    return await greenlet_spawn(functools.partial(fn, *args, **kwargs))


def on_loop(fn: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """`fn` as a coroutine function that `run`s it (signature and name kept, so
    FastAPI reads the same parameters from it)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await run(fn, *args, **kwargs)

    return wrapper


def blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker thread when called under `run` (the loop goes
    on meanwhile); called directly anywhere else."""
    if not in_greenlet():
        return fn(*args, **kwargs)
    return await_(to_thread.run_sync(functools.partial(fn, *args, **kwargs)))


async def iterate(items: Iterator[T]) -> AsyncGenerator[T]:
    """A sync generator that reads the database (a streamed export), advanced on the
    loop an item at a time (so let it yield chunks); closed on the loop too, even when
    the client leaves."""
    try:
        while taken := await run(lambda: list(itertools.islice(items, 1))):
            yield taken[0]
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            await run(close)
