"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

It can be stopped and started again on the same port, to play an SMTP relay
that goes down and comes back; with `tls` it offers STARTTLS with a
self-signed certificate and requires login.
"""

import email
import email.policy
import socket
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "ratify"
PASSWORD = "hemligt"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        """The Message-ID, unfolded."""
        return str(self.message["Message-ID"]).strip()


@dataclass
class Inbox:
    """The aiosmtpd handler: accepts every message and keeps it."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def _authenticate(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> Any:
    ok = (
        mechanism in ("LOGIN", "PLAIN")
        and isinstance(data, LoginPassword)
        and (data.login, data.password) == (USERNAME.encode(), PASSWORD.encode())
    )
    return AuthResult(success=ok)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class SmtpServer:
    """aiosmtpd's Controller on 127.0.0.1, restartable on the same port."""

    def __init__(self, tls_folder: Path | None = None) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None
        self.cert: Path | None = None
        self._tls: ssl.SSLContext | None = None
        if tls_folder is not None:
            self.cert, key = self_signed(tls_folder)
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(self.cert, key)

    def start(self) -> None:
        """Listen (again)."""
        assert self.controller is None
        options: dict[str, Any] = {}
        if self._tls is not None:
            options = {
                "tls_context": self._tls,
                "require_starttls": True,
                "authenticator": _authenticate,
                "auth_required": True,
            }
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        """Everything received so far, in order."""
        with self.inbox.lock:
            return list(self.inbox.received)

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        return Counter(r.message_id for r in self.received)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate."""
        assert self.cert is not None
        return ssl.create_default_context(cafile=str(self.cert))
