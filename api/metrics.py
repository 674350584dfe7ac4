"""Who may read `/metrics`, and the separate listener that serves it instead.

By default `/metrics` on the service's own address needs a bearer token of
role `auditor` (or `admin`), like the audit trail: the figures tell process
and version details that are nobody else's business. `RATIFY_METRICS_PUBLIC`
opens it to anyone (behind a proxy that already restricts it, say).

With `RATIFY_METRICS_LISTEN=host:port`, each server process also serves
`GET /metrics` there, without a token (bind it to a private address a
scraper reaches), and the service's own address answers 404 for it. Every
process binds the address with SO_REUSEPORT, so `ratify serve --workers N`
works: the kernel hands each scrape to one of the processes, just as it does
with the service's own port. Each process reports its own figures (one
scrape sees one process); adding them up across processes would need
prometheus_client's multiprocess mode, which ratify does not set up.
"""

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client.exposition import MetricsHandler


def parse_listen(text: str) -> tuple[str, int]:
    """`host:port` (`[v6]:port` for IPv6) as (host, port); ValueError when it is not."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: the port must be 1-65535")
    return host, port


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class _Handler(MetricsHandler):
    """The registry's metrics at `/metrics`; 404 for any other path."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if urlsplit(self.path).path != "/metrics":
            self.send_error(404)
            return
        super().do_GET()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        self.address_family = _family(address[0])
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # Every worker of `ratify serve --workers N` binds the same address.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class MetricsListener:
    """A running metrics listener; `close` stops it."""

    def __init__(self, host: str, port: int) -> None:
        self._server = _Server((host, port))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ratify-metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def check_listen(text: str) -> str | None:
    """Why `host:port` cannot serve metrics (malformed, address taken …), or None."""
    try:
        host, port = parse_listen(text)
        with contextlib.closing(socket.socket(_family(host), socket.SOCK_STREAM)) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            probe.bind((host, port))
    except (ValueError, OSError) as exc:
        return str(exc)
    return None


def start(text: str) -> MetricsListener:
    """Serve metrics on `host:port` until `close`."""
    return MetricsListener(*parse_listen(text))
