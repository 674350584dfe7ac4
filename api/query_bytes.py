"""Query strings as browsers send them: raw bytes outside ASCII are percent-encoded.

HTTP servers (uvicorn's h11 among them) pass a request target's bytes on as
they came, and a client may send `?before=\\xb2` unencoded. Starlette decodes
the query string as UTF-8 wherever it builds `request.url`, so such a byte
raised UnicodeDecodeError (a 500) on any page that links to itself. This
middleware percent-encodes every byte above 0x7E and every control byte
before the app sees it, as a browser would have: the value then decodes
(lossily) like any other, and the route judges it.
"""

from starlette.types import ASGIApp, Receive, Scope, Send


def ascii_query(raw: bytes) -> bytes:
    """`raw` with every byte outside printable ASCII percent-encoded."""
    if all(0x20 < b < 0x7F for b in raw):
        return raw
    return b"".join(bytes([b]) if 0x20 < b < 0x7F else b"%%%02X" % b for b in raw)


class AsciiQuery:
    """ASGI middleware: the query string the app sees is printable ASCII."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = scope.get("query_string", b"")
            fixed = ascii_query(raw)
            if fixed is not raw:
                scope = {**scope, "query_string": fixed}
        await self.app(scope, receive, send)
