"""The composition root: the one place that wires the database to the notifications.

The server (each worker process), `ratify worker` and every CLI command (through
`api/cli_guard.py`) get their database from `bootstrap`, so an event reaches the same outbox writers
whoever caused it: the e-mail and reminder writer, then the webhook writer.
"""

from api.settings import Settings, notifications_config
from db.engine import Database, open_database
from notifications.config import Config
from notifications.mail_writer import MailWriter
from notifications.webhook_writer import WebhookWriter


def bootstrap(
    settings: Settings, db: Database | None = None, config: Config | None = None
) -> Database:
    """`db` (by default the configured database) with its outbox writers installed, for
    `config` (by default the one `settings` give)."""
    return install_writers(
        db or open_database(settings.database_url), config or notifications_config(settings)
    )


def install_writers(db: Database, config: Config) -> Database:
    """`db` with the outbox writers for `config` (replacing any it had)."""
    db.outbox_writers[:] = [MailWriter(config), WebhookWriter()]
    return db
