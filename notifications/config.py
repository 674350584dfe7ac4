"""What the notifications need to know, as plain values (built from settings by the caller)."""

from dataclasses import dataclass, field
from pathlib import Path

from db.outbox import Retry
from notifications.webhooks import Policy as WebhookPolicy
from workflow.reminders import Policy


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

    policy: Policy = field(default_factory=Policy)
    mail_from: str = "ratify@localhost"
    public_url: str | None = None
    retry: Retry = field(default_factory=Retry)
    batch_size: int = 20
    smtp: Smtp | None = None
    maildir: Path = Path("var/mail")
    webhooks: WebhookPolicy | None = None
    """When set, the scheduler's ticks deliver webhooks too."""
