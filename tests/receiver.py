"""A real HTTP(S) server on 127.0.0.1 that records what webhooks POST to it."""

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What to answer (a script of status codes, then 200) and what came in."""

    url: str = ""
    port: int = 0
    script: list[int] = field(default_factory=list)
    hang: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def receiver(
    script: list[int] | None = None,
    hang: threading.Event | None = None,
    location: str | None = None,
    tls: ssl.SSLContext | None = None,
    keep_alive: bool = False,
) -> Iterator[Receiver]:
    """Serve on a free loopback port until the block ends (over TLS with a server context).

    `location` is sent with 3xx answers, to see whether a redirect is followed;
    `keep_alive` keeps connections open (HTTP/1.1), to see whether they are reused.
    """
    state = Receiver(script=list(script or []), hang=hang)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                state.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = state.script.pop(0) if state.script else 200
            state.arrived.set()
            if state.hang is not None:
                state.hang.wait(30)
            payload = b'{"ok": true}' if status < 300 else b"x" * 5000
            try:
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                if location is not None and 300 <= status < 400:
                    self.send_header("location", location)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{state.port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if hang is not None:
            hang.set()
        server.shutdown()
        server.server_close()
        thread.join()
