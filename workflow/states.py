"""The states of a program version and of one board's decision on it."""

from enum import StrEnum


class VersionState(StrEnum):
    """Where a program version stands."""

    DRAFTED = "drafted"
    SENT_OUT = "sent_out"
    IN_FORCE = "in_force"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class BoardStatus(StrEnum):
    """Where one member board stands on one version.

    `unknown` is only used for historical (imported) versions whose board
    decisions were never recorded in ratify.
    """

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    AMENDED = "amended"
    REFERRED_BACK = "referred_back"
    TABLED = "tabled"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """What a board decided at one meeting."""

    APPROVED = "approved"
    REJECTED = "rejected"
    AMENDED = "amended"
    REFERRED_BACK = "referred_back"
    TABLED = "tabled"


FINAL_OUTCOMES = frozenset({Outcome.APPROVED, Outcome.REJECTED, Outcome.AMENDED})
"""Outcomes after which a board has decided for good."""

REJECTING_OUTCOMES = frozenset({Outcome.REJECTED, Outcome.AMENDED})
"""Outcomes that make the version rejected (`amended` is not the same text)."""

UNDECIDED = frozenset({BoardStatus.PENDING, BoardStatus.REFERRED_BACK, BoardStatus.TABLED})
"""Board statuses that still owe a decision."""
