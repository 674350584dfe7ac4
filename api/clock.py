"""The wall clock (kept apart so the CLI need not import the web app)."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def shown(value: datetime | None) -> str:
    """`value` as the CLI's listings show it: RFC 3339 in UTC with `Z`, or `-` for none."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"
