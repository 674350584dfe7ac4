"""Limits on request bodies, enforced before anything reads them: size and time.

`BodyLimit` answers 413 `payload_too_large` for a body over
`RATIFY_MAX_BODY_BYTES`. `BodyTimeout` answers 408 `request_timeout` when a
body has not arrived in full within `RATIFY_BODY_TIMEOUT_SECONDS` of the
request's headers: a client sending one byte a second would otherwise hold
a worker's request open for as long as it likes. Both raise an
`HTTPException` from inside `receive`, so the app's handler writes the
problem document (FastAPI turns any other error while reading a body into a
400); the middleware writes it itself if nothing had answered yet.
"""

import time

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.encoding import dumps
from api.errors import HTTP_CODES, PROBLEM, TYPE_BASE


class BodyTooLarge(HTTPException):
    """The body went past the limit while streaming in (a chunked upload)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"bodies are limited to {max_bytes} bytes")


class BodyTimedOut(HTTPException):
    """The body did not arrive in full in time; the connection is closed after the answer."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"the request body must arrive within {seconds:g} seconds",
            headers={"Connection": "close"},
        )


async def _send_problem(send: Send, exc: HTTPException) -> None:
    """The problem document for `exc` (one of HTTP_CODES), straight to the client."""
    code, title = HTTP_CODES[exc.status_code]
    body = dumps(
        {
            "type": TYPE_BASE + code,
            "title": title,
            "status": exc.status_code,
            "detail": exc.detail,
            "code": code,
        }
    )
    headers = [
        (b"content-type", PROBLEM.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _bodiless(scope: Scope) -> bool:
    """Whether the request can carry no body: HTTP/1.x without `Content-Length` or
    `Transfer-Encoding` (RFC 9112, 6.3), as most reads are. Nothing to limit or time then.
    (An HTTP/2 body needs neither header, so HTTP/2 requests are always checked.)"""
    if scope["type"] != "http":
        return True
    if scope.get("http_version") not in ("1.1", "1.0"):
        return False
    return not any(k in (b"content-length", b"transfer-encoding") for k, _v in scope["headers"])


async def _run(app: ASGIApp, scope: Scope, receive: Receive, send: Send, kind: type) -> None:
    """`app`, answering a `kind` error that escapes it (unless an answer had started)."""
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except HTTPException as exc:
        if not isinstance(exc, kind):
            raise
        if not started:  # else the answer is under way: nothing more can be said
            await _send_problem(send, exc)


class BodyLimit:
    """ASGI middleware: 413 `payload_too_large` for bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _bodiless(scope):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _send_problem(send, BodyTooLarge(self.max_bytes))
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await _run(self.app, scope, limited_receive, send, BodyTooLarge)


class BodyTimeout:
    """ASGI middleware: 408 `request_timeout` when the body takes longer than `seconds`.

    The clock starts when the app is called (the headers are in) and stops
    once the last part of the body has arrived; waiting for a disconnect
    after that (a streamed answer does) is not limited.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _bodiless(scope):
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        complete = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0)):
                    message = await receive()
            except TimeoutError:
                raise BodyTimedOut(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        await _run(self.app, scope, timed_receive, send, BodyTimedOut)
