"""Settings, read from `RATIFY_*` environment variables (and a `.env` file)."""

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.metrics import parse_listen
from db import database_url
from db.mail_queue import Retry
from notifications.config import Config, Smtp
from notifications.webhook_delivery import WebhookPolicy
from workflow.reminders import ReminderPolicy


def _database_url(value: str) -> str:
    """A URL ratify can use: SQLite or PostgreSQL through psycopg."""
    problem = database_url.problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _listen(value: str | None) -> str | None:
    """`host:port`, or unset."""
    if value:
        parse_listen(value)
    return value or None


def _reminder_offsets(value: str) -> str:
    """Offsets in days from the answer date, comma-separated: `-14,-3,1`."""
    ReminderPolicy.parse(value)
    return value


class Settings(BaseSettings):
    """Every knob of the service; only the composition root reads these."""

    model_config = SettingsConfigDict(env_prefix="RATIFY_", env_file=".env", extra="ignore")

    database_url: Annotated[str, AfterValidator(_database_url)] = "sqlite:///var/ratify.db"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    maildir: Path = Path("var/mail")
    mail_from: str = "ratify@localhost"
    smtp_timeout: float = 30.0
    public_url: str | None = None
    reminder_offsets: Annotated[str, AfterValidator(_reminder_offsets)] = "-14,-3,1"
    reminder_repeat_days: int = 7
    reminder_hour: int = 8
    mail_max_attempts: int = 8
    mail_retry_cap_minutes: int = 60
    mail_lease_seconds: int = 300
    mail_batch_size: int = 20
    scheduler_interval_seconds: float = 60.0
    run_scheduler: bool = False
    webhook_allowed_hosts: str = ""
    webhook_max_per_board: Annotated[int, Field(ge=0)] = 10
    """Live webhook subscriptions per board; more is 409 `too_many_webhooks`."""
    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    body_timeout_seconds: Annotated[float, Field(gt=0)] = 10
    """A request's whole body must arrive within this many seconds of its headers (else 408)."""
    metrics_public: bool = False
    """Serve `/metrics` to anyone; by default it needs an auditor's or admin's token."""
    metrics_listen: Annotated[str | None, AfterValidator(_listen)] = None
    """`host:port`: serve `/metrics` there, without a token, and not on the main address."""
    idempotency_ttl_hours: Annotated[float, Field(gt=0)] = 72
    """How long a write's answer is kept for an `Idempotency-Key` retry."""
    session_secret: str | None = None
    """Signs the status page's sessions; every process of one service needs the same."""
    session_secret_file: Path = Path("var/session-secret")
    """Where the secret is kept when `session_secret` is not set (made on first use, 0600)."""


def notifications_config(settings: Settings) -> Config:
    """The plain values the reminders, the outbox and the mail senders work with."""
    smtp = None
    if settings.smtp_host:
        smtp = Smtp(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        )
    return Config(
        policy=ReminderPolicy.parse(
            settings.reminder_offsets, settings.reminder_repeat_days, settings.reminder_hour
        ),
        mail_from=settings.mail_from,
        public_url=settings.public_url,
        retry=Retry(
            max_attempts=settings.mail_max_attempts,
            cap=timedelta(minutes=settings.mail_retry_cap_minutes),
            lease=timedelta(seconds=settings.mail_lease_seconds),
        ),
        batch_size=settings.mail_batch_size,
        smtp=smtp,
        maildir=settings.maildir,
        webhooks=WebhookPolicy(
            allowed_hosts=frozenset(
                h.strip().lower() for h in settings.webhook_allowed_hosts.split(",") if h.strip()
            ),
            max_per_board=settings.webhook_max_per_board,
        ),
        idempotency_ttl=timedelta(hours=settings.idempotency_ttl_hours),
    )
