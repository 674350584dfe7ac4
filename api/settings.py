"""Settings, read from `RATIFY_*` environment variables (and a `.env` file)."""

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; only the composition root reads these."""

    model_config = SettingsConfigDict(env_prefix="RATIFY_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/ratify.db"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    maildir: Path = Path("var/mail")
    mail_from: str = "ratify@localhost"
    webhook_allowed_hosts: str = ""
    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
