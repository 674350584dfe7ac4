"""The wall clock (kept apart so the CLI need not import the web app)."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
