"""Where e-mail goes: an SMTP relay (STARTTLS and login when configured), or a maildir.

A sender opens a connection for a batch of messages; each `send` either
hands one message over or raises `SEND_ERRORS`, which the delivery loop
turns into a retry.
"""

import os
import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Protocol

from db.mail_queue import MailClaim
from notifications.config import Config, Smtp

SEND_ERRORS = (smtplib.SMTPException, OSError)
"""What a failed hand-over raises: SMTP replies, refused or dropped connections, disk errors."""


class Connection(Protocol):
    """An open way to hand messages over."""

    def send(self, mail: MailClaim) -> None:
        """Hand over one message, or raise one of `SEND_ERRORS`."""


class Sender(Protocol):
    """Opens a `Connection` for a batch of messages."""

    def open(self) -> AbstractContextManager[Connection]:
        """Connect (raising one of `SEND_ERRORS` when that fails)."""


class SmtpConnection:
    """One SMTP session."""

    def __init__(self, smtp: smtplib.SMTP, envelope_from: str) -> None:
        self.smtp = smtp
        self.envelope_from = envelope_from

    def send(self, mail: MailClaim) -> None:
        """`MAIL FROM`, `RCPT TO` the board's address, `DATA` the stored message."""
        self.smtp.sendmail(self.envelope_from, [mail.recipient], mail.message)


class SmtpSender:
    """Sends through an SMTP relay, with STARTTLS and login when configured."""

    def __init__(
        self, smtp: Smtp, envelope_from: str, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.config = smtp
        self.envelope_from = envelope_from
        self.ssl_context = ssl_context

    @contextmanager
    def open(self) -> Iterator[Connection]:
        """An SMTP session, closed on the way out whatever happened."""
        smtp = smtplib.SMTP(self.config.host, self.config.port, timeout=self.config.timeout)
        try:
            smtp.ehlo()
            if self.config.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.config.username:
                smtp.login(self.config.username, self.config.password or "")
            yield SmtpConnection(smtp, self.envelope_from)
        finally:
            try:
                smtp.quit()
            except SEND_ERRORS:
                smtp.close()


class MaildirSender:
    """Writes each message as `new/<Message-ID>.eml` in a maildir (the embedded default).

    The file is named after the Message-ID and moved into place atomically,
    so sending the same message again replaces it rather than adding a copy.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def open(self) -> Iterator[Connection]:
        """Make sure the maildir's folders exist."""
        for folder in ("tmp", "new", "cur"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        yield self

    def send(self, mail: MailClaim) -> None:
        """Write the message (LF line ends, as maildir readers expect)."""
        name = re.sub(r"[^A-Za-z0-9@+._-]", "_", mail.message_id.strip("<>")) + ".eml"
        temporary = self.root / "tmp" / f"{os.getpid()}-{name}"
        try:
            temporary.write_bytes(mail.message.replace(b"\r\n", b"\n"))
            os.replace(temporary, self.root / "new" / name)
        finally:
            with suppress(FileNotFoundError):
                temporary.unlink()


def make_sender(config: Config) -> Sender:
    """SMTP when a host is configured, else the maildir."""
    if config.smtp is not None:
        return SmtpSender(config.smtp, config.mail_from)
    return MaildirSender(config.maildir)
