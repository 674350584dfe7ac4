"""Every request reaches the database on the event loop, on an asyncio driver, in no
worker thread (api/routing.py, db/loop.py)."""

import asyncio
import inspect
import threading
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event
from sqlalchemy.util.concurrency import in_greenlet

from api.app import create_app
from db import loop
from db.engine import Database
from tests.conftest import SUP_2035, Api, decision


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _runs_on_loop(call: Any) -> bool:
    """Whether FastAPI awaits `call` (a coroutine or async generator, or an object whose
    `__call__` is one) rather than running it in a worker thread."""
    for target in (call, getattr(call, "__call__", None)):  # noqa: B004
        if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
            return True
    return False


def test_no_route_and_no_dependency_takes_a_worker_thread(seeded: Database) -> None:
    app = create_app(seeded)
    routes = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        routes += 1
        assert asyncio.iscoroutinefunction(route.endpoint), route.path
        dependant: Dependant = getattr(context, "dependant", None) or route.dependant
        for call in _calls(dependant):
            assert _runs_on_loop(call), f"{route.path}: {call!r} would run in a worker thread"
    assert routes > 50


def test_a_decision_and_a_read_run_their_statements_on_the_loop(api: Api, seeded: Database) -> None:
    app = api.client.app
    routes_db: Database = app.state.db  # type: ignore[attr-defined]
    assert routes_db.engine.dialect.is_async
    assert routes_db.url == seeded.url
    seen: list[tuple[bool, bool]] = []

    def note(*_: Any) -> None:
        try:
            asyncio.get_running_loop()  # this thread is running an event loop
        except RuntimeError:
            seen.append((in_greenlet(), False))
        else:
            seen.append((in_greenlet(), True))

    event.listen(routes_db.engine, "before_cursor_execute", note)
    try:
        api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": "2031-01-31"})
        r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("botkyrka"), as_="botkyrka")
        assert r.status_code == 201, r.text
        assert api.get(f"/v1/versions/{SUP_2035}").status_code == 200
    finally:
        event.remove(routes_db.engine, "before_cursor_execute", note)
    assert len(seen) > 5
    assert set(seen) == {(True, True)}


def test_a_blocking_call_waits_in_a_worker_thread_and_only_there() -> None:
    here = threading.get_ident()
    assert loop.blocking(threading.get_ident) == here  # outside `run`: called directly

    async def main() -> tuple[int, int]:
        return await loop.run(lambda: (threading.get_ident(), loop.blocking(threading.get_ident)))

    on_loop, waited = asyncio.run(main())
    assert on_loop == here
    assert waited != here


def test_an_abandoned_stream_is_closed_on_the_loop() -> None:
    closed: list[bool] = []

    def rows() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            closed.append(in_greenlet())

    async def first_three() -> list[int]:
        taken = []
        stream = loop.iterate(rows())
        async for n in stream:
            taken.append(n)
            if len(taken) == 3:
                break
        await stream.aclose()
        return taken

    assert asyncio.run(first_three()) == [0, 1, 2]
    assert closed == [True]


def test_a_stream_yields_everything_in_order() -> None:
    async def collect() -> list[int]:
        return [n async for n in loop.iterate(iter(range(10)))]

    assert asyncio.run(collect()) == list(range(10))
