"""Settings, read from `RATIFY_*` environment variables (and a `.env` file)."""

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api import server_keys
from api.metrics import parse_listen
from api.oidc_settings import OidcConfig, group_map, group_map_of, issuer_url
from db import database_url
from db.mail_queue import Retry
from db.sealing import Sealer
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
    oidc_issuer: Annotated[str | None, AfterValidator(issuer_url)] = None
    """The identity provider (OpenID Connect); with the client id and secret, people sign in."""
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_role_claim: str = "ratify_role"
    oidc_board_claim: str = "ratify_board"
    oidc_group_map: Annotated[str | None, AfterValidator(group_map)] = None
    """JSON: group id → {"role", "board"}; when set, the `groups` claim gives role and board."""
    oidc_scopes: str = "openid profile email"
    sealing_keys: str | None = None
    """Seal webhook secrets at rest: Fernet keys, comma-separated; the first seals, all unseal."""
    sealing_key_file: Path = Path("var/sealing-keys")
    """Where the sealing keys are kept (one a line) when `sealing_keys` is not set (made, 0600)."""
    signing_key: str | None = None
    """Signs audit checkpoints: an Ed25519 private key, PKCS#8 PEM or base64 of its 32 bytes."""
    signing_key_file: Path = Path("var/signing-key")
    """Where the signing key is kept (PEM) when `signing_key` is not set (made once, 0600)."""

    @model_validator(mode="after")
    def _oidc_whole(self) -> "Settings":
        given = [self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret]
        if any(given) and not all(given):
            raise ValueError(
                "RATIFY_OIDC_ISSUER, RATIFY_OIDC_CLIENT_ID and RATIFY_OIDC_CLIENT_SECRET"
                " go together: set all three or none"
            )
        return self


def sealer(settings: Settings) -> Sealer:
    """The sealer of webhook secrets, from the sealing keys (`api.server_keys`)."""
    return server_keys.sealer(settings.sealing_keys, settings.sealing_key_file)


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The server's Ed25519 signing key (`api.server_keys`)."""
    return server_keys.signing_key(settings.signing_key, settings.signing_key_file)


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
            sealer=sealer(settings),
            max_per_board=settings.webhook_max_per_board,
        ),
        idempotency_ttl=timedelta(hours=settings.idempotency_ttl_hours),
    )


def oidc_config(settings: Settings) -> OidcConfig | None:
    """The identity provider's settings, or None when people sign in with keys only."""
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
        return None
    return OidcConfig(
        issuer=settings.oidc_issuer.rstrip("/"),
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        role_claim=settings.oidc_role_claim,
        board_claim=settings.oidc_board_claim,
        group_map=group_map_of(settings.oidc_group_map),
        scopes=settings.oidc_scopes,
        public_url=settings.public_url.rstrip("/") if settings.public_url else None,
    )
