"""A body sent one byte a second gets 408 `request_timeout` (issue 13, item 11).

A real `ratify serve` with `RATIFY_BODY_TIMEOUT_SECONDS=2` and a raw socket:
the headers arrive at once, the body one byte a second. Within the timeout
(plus a little) the server answers 408 with a problem document and closes the
connection, so the client cannot hold the request open. A body that arrives
slowly but in time, and a body sent at once, are served as usual.
"""

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Ratify, Server

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(module_ratify: Ratify) -> tuple[Server, str]:
    """One server for the module's tests (each opens its own connections)."""
    module_ratify.extra_env["RATIFY_BODY_TIMEOUT_SECONDS"] = str(TIMEOUT)
    (server,) = module_ratify.serve()
    return server, module_ratify.create_key("ops", "admin")


def connect(server: Server) -> socket.socket:
    url = urlsplit(server.base_url)
    return socket.create_connection((url.hostname or "", url.port or 80), timeout=30)


def head(token: str, length: int) -> bytes:
    return (
        "POST /v1/programs HTTP/1.1\r\nHost: ratify\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    header, _, body = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    return status, headers, body


def test_a_body_trickled_one_byte_a_second_gets_408_and_the_connection_closes(
    server: tuple[Server, str],
) -> None:
    srv, token = server
    body = json.dumps({"id": "slow", "title": "Slow", "owner": "x", "boards": ["tyreso"]})
    with connect(srv) as sock:
        started = time.monotonic()
        sock.sendall(head(token, len(body)))
        sock.setblocking(False)
        answer = b""
        for byte in body.encode():
            if time.monotonic() - started > TIMEOUT - 0.5:
                # Stop short of the deadline: a byte arriving as the server closes the
                # connection makes its kernel reset it, and the answer would be lost.
                break
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(1.0)
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                continue
            if answer:
                break
        sock.setblocking(True)
        answer += read_all(sock)  # ends: the server closed the connection
        elapsed = time.monotonic() - started
    status, headers, content = parse(answer)
    assert status == 408, answer
    assert headers["content-type"].startswith("application/problem+json")
    assert headers.get("connection") == "close"
    problem = json.loads(content)
    assert (problem["status"], problem["code"]) == (408, "request_timeout")
    assert TIMEOUT <= elapsed < TIMEOUT + 4, elapsed
    assert not srv.problems()


def test_a_slow_body_that_arrives_in_time_and_a_quick_one_are_served(
    server: tuple[Server, str],
) -> None:
    srv, token = server
    for n, pause in enumerate((0.0, 0.4)):
        body = json.dumps({"id": f"p{n}", "title": "T", "owner": "x", "boards": ["tyreso"]})
        with connect(srv) as sock:
            sock.sendall(head(token, len(body)) + body[:10].encode())
            time.sleep(pause)
            sock.sendall(body[10:].encode())
            raw = b""
            while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
                raw += sock.recv(65536)
        status, _headers, content = parse(raw)
        assert status == 201, raw
        assert json.loads(content)["id"] == f"p{n}"
