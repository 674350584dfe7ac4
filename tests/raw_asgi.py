"""Requests with exact bytes, straight through an app's ASGI interface.

A test client re-encodes header values (a cookie byte 0xB2 arrives as the
two bytes of 'Â²'); uvicorn hands an app the bytes the client sent. These
helpers do the same, so a test can send what a hostile client would.
"""

from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict, Unpack

import anyio

RawHeaders = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class RawResponse:
    """Status, headers (latin-1 decoded, lower-case names) and body of an answer."""

    status: int
    headers: dict[str, str]
    body: bytes


class Parts(TypedDict, total=False):
    """What a request carries besides its method and path."""

    query: bytes
    headers: RawHeaders | None
    body: bytes


def raw_request(app: Any, method: str, path: str, **parts: Unpack[Parts]) -> RawResponse:
    """`method path?query` with exactly these header and body bytes, through `app`."""
    return anyio.run(partial(raw_call, app, method, path, **parts))


async def raw_call(
    app: Any,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: RawHeaders | None = None,
    body: bytes = b"",
) -> RawResponse:
    """`raw_request` on a running event loop (`bench.in_process` calls it too)."""
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    return RawResponse(start["status"], found, content)
