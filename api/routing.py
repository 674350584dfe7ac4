"""How every route runs: on the event loop, its database work awaiting the driver.

Routes are written as plain functions: they call the same sync commands and
queries as the CLI and the scheduler. Every router is a `Router`, whose
routes turn such a function into a coroutine that `db.loop.run`s it, so no
request takes a worker thread; the dependencies that reach the database are
coroutines that do the same (`tests/integration/test_on_loop.py` holds both).
"""

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute

from db import loop


class LoopRoute(APIRoute):
    """An `APIRoute` whose plain-function endpoint runs on the event loop (`db.loop.run`)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = loop.on_loop(endpoint)
        super().__init__(path, endpoint, **kwargs)


def Router(**kwargs: Any) -> APIRouter:  # noqa: N802 (it stands for a class)
    """An `APIRouter` of `LoopRoute`s."""
    return APIRouter(route_class=LoopRoute, **kwargs)
