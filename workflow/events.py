"""Domain events: the closed vocabulary of what can happen, and the event record itself.

Commands record events; the unit of work (in `db/`) appends them to the
audit trail and hands them to the outbox writers, whoever caused them. The
webhook route's list of event types, the e-mails a version's events send and
the database's CHECK constraint on `events.type` all derive from `EventType`.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """Every kind of event the audit trail (and a webhook) can carry."""

    BOARD_CREATED = "board.created"
    PROGRAM_CREATED = "program.created"
    PROGRAM_PUBLISHED = "program.published"
    PROGRAM_UNPUBLISHED = "program.unpublished"
    VERSION_DRAFTED = "version.drafted"
    VERSION_IMPORTED = "version.imported"
    VERSION_SENT_OUT = "version.sent_out"
    VERSION_WITHDRAWN = "version.withdrawn"
    VERSION_REJECTED = "version.rejected"
    VERSION_IN_FORCE = "version.in_force"
    VERSION_SUPERSEDED = "version.superseded"
    VERSION_REOPENED = "version.reopened"
    VERSION_REINSTATED = "version.reinstated"
    VERSION_CORRECTED = "version.corrected"
    VERSION_FINAL = "version.final"
    DECISION_RECORDED = "decision.recorded"
    DECISION_IMPORTED = "decision.imported"
    DECISION_ANNOUNCED = "decision.announced"
    DECISION_CORRECTED = "decision.corrected"
    DECISION_ANNULLED = "decision.annulled"
    DECISION_FINAL = "decision.final"
    APPEAL_LODGED = "appeal.lodged"
    APPEAL_RULED = "appeal.ruled"
    REMINDER_SENT = "reminder.sent"
    REMINDER_FAILED = "reminder.failed"
    MAIL_SENT = "mail.sent"
    MAIL_FAILED = "mail.failed"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    FEED_CREATED = "feed.created"
    FEED_REVOKED = "feed.revoked"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"  # noqa: S105  (an event name)


E = EventType

NOTIFY_MEMBERS = frozenset(
    {E.VERSION_SENT_OUT, E.VERSION_IN_FORCE, E.VERSION_REJECTED, E.VERSION_REOPENED}
)
"""A version's events that e-mail every member board."""

START_REMINDERS = frozenset({E.VERSION_SENT_OUT, E.VERSION_REOPENED})
"""A version's events after which every board that still owes a decision is reminded."""

STOP_REMINDERS = frozenset({E.VERSION_IN_FORCE, E.VERSION_REJECTED, E.VERSION_WITHDRAWN})
"""A version's events after which no board is reminded any more."""


@dataclass(frozen=True, slots=True)
class Event:
    """One fact for the audit trail, e.g. `version.in_force`."""

    type: EventType
    program_id: str | None
    version_id: str | None = None
    board_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    once: str | None = None
    """For an event that may happen only once (`version.in_force` of each entry into
    force, `decision.final` of each legal-force date): a key the audit trail holds
    unique, so a concurrent second writer fails instead of writing it twice."""
