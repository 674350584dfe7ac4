"""The states of what ratify sends: reminders, e-mails and webhook deliveries.

Like the domain's states, these are closed vocabularies: the database's
CHECK constraints and the API's schemas derive from them.
"""

from enum import StrEnum


class ReminderStatus(StrEnum):
    """What became of one reminder slot of one board."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    COALESCED = "coalesced"
    """Due while a later slot was also due: never sent."""
    CANCELLED = "cancelled"
    """The board decided, or the version left `sent_out`, before it went out."""


class ReminderKind(StrEnum):
    """A reminder before the answer date, or after it."""

    BEFORE = "before"
    OVERDUE = "overdue"


class MailStatus(StrEnum):
    """Where one e-mail of the outbox stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    """Where one webhook delivery stands."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


OPEN_DELIVERIES = frozenset({DeliveryStatus.PENDING, DeliveryStatus.DELIVERING})
"""Deliveries with work left (they hold back the subscription's later events)."""
