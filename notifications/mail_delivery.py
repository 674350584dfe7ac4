"""Mail delivery: claim due e-mails, send them, settle each with its audit event.

Claim, send and settle are three steps on purpose (`db.mail_queue` says
why): the send happens outside any transaction, and a process that dies
between claim and settle leaves a lease that runs out, so the e-mail is sent
again (at least once), never lost.
"""

from dataclasses import dataclass
from datetime import datetime

import structlog

from db import mail_queue
from db.engine import Database
from db.mail_queue import MailClaim
from notifications.config import Config
from notifications.senders import SEND_ERRORS, Sender

log = structlog.get_logger(__name__)


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lost_lease: int = 0

    def count(self, status: str) -> None:
        """Add one settled e-mail by its new status."""
        field = {"sent": "sent", "pending": "retrying", "failed": "failed"}
        name = field.get(status, "lost_lease")
        setattr(self, name, getattr(self, name) + 1)


def deliver(db: Database, config: Config, sender: Sender, now: datetime) -> DeliveryReport:
    """Send every e-mail due at `now`, batch by batch, until none is left."""
    report = DeliveryReport()
    while batch := mail_queue.claim(db, now, config.batch_size, config.retry):
        _send_batch(db, config, sender, batch, now, report)
    if report.sent or report.retrying or report.failed or report.lost_lease:
        log.info("mail delivery", now=now.isoformat(), **report.__dict__)
    return report


def _send_batch(
    db: Database,
    config: Config,
    sender: Sender,
    batch: list[MailClaim],
    now: datetime,
    report: DeliveryReport,
) -> None:
    waiting = list(batch)
    try:
        with sender.open() as connection:
            while waiting:
                mail = waiting[0]
                try:
                    connection.send(mail)
                except SEND_ERRORS as exc:
                    _settle(db, config, mail, now, report, _describe(exc))
                else:
                    _settle(db, config, mail, now, report, None)
                waiting.pop(0)
    except SEND_ERRORS as exc:
        # No connection, or it broke: whatever was not handed over is retried later.
        for mail in waiting:
            _settle(db, config, mail, now, report, _describe(exc))


def _settle(
    db: Database,
    config: Config,
    mail: MailClaim,
    now: datetime,
    report: DeliveryReport,
    error: str | None,
) -> None:
    status = mail_queue.settle(db, mail, now, config.retry, error)
    report.count(status)
    if error is not None:
        log.warning(
            "mail not delivered",
            message_id=mail.message_id,
            attempts=mail.attempts,
            status=status,
            error=error,
        )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
