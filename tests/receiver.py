"""A real HTTP server on 127.0.0.1 that records what webhooks POST to it."""

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
    script: list[int] = field(default_factory=list)
    hang: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def receiver(
    script: list[int] | None = None, hang: threading.Event | None = None
) -> Iterator[Receiver]:
    """Serve on a free loopback port until the block ends."""
    state = Receiver(script=list(script or []), hang=hang)

    class Handler(BaseHTTPRequestHandler):
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
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
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
