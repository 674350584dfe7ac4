"""What the notifications need to know, as plain values (built from settings by the caller)."""

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from db.mail_queue import Retry
from notifications.webhook_delivery import WebhookPolicy
from workflow.reminders import ReminderPolicy


@dataclass(frozen=True, slots=True)
class Smtp:
    """An SMTP relay; STARTTLS and login are used when set."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    """The reminder policy, the sender address and how mail is delivered and retried."""

    policy: ReminderPolicy = field(default_factory=ReminderPolicy)
    mail_from: str = "ratify@localhost"
    public_url: str | None = None
    retry: Retry = field(default_factory=Retry)
    batch_size: int = 20
    smtp: Smtp | None = None
    maildir: Path = Path("var/mail")
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    """Where webhooks may go and how they are retried (the scheduler delivers them too)."""
    idempotency_ttl: timedelta = timedelta(hours=72)
    """How long a write's answer is kept for an `Idempotency-Key` retry; the tick deletes older."""
