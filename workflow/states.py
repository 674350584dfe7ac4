"""The closed vocabularies of the domain: states, statuses, outcomes.

Everything that is stored as a word (a version's state, a board's status, a
decision's outcome, an appeal's ruling) is one of these `StrEnum`s; the
database's CHECK constraints, the API's schemas and the status page derive
from them.
"""

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
    decisions were never recorded in ratify; `annulled` when a court annulled
    the board's decision, which leaves the board to decide again.
    """

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    AMENDED = "amended"
    REFERRED_BACK = "referred_back"
    TABLED = "tabled"
    ANNULLED = "annulled"
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

UNDECIDED = frozenset(
    {BoardStatus.PENDING, BoardStatus.REFERRED_BACK, BoardStatus.TABLED, BoardStatus.ANNULLED}
)
"""Board statuses that still owe a decision."""


class DecisionStatus(StrEnum):
    """Whether a decision still counts: after the meeting it can be appealed and annulled."""

    STANDING = "standing"
    APPEALED = "appealed"
    """A timely appeal awaits its ruling: the decision cannot gain legal force meanwhile."""
    ANNULLED = "annulled"
    """A court annulled it (upphävt): it no longer counts."""


class AppealOutcome(StrEnum):
    """What the court ruled on an appeal."""

    REJECTED = "rejected"
    """Avslaget: the decision stands."""
    DISMISSED = "dismissed"
    """Avvisat: the appeal was not tried; the decision stands."""
    WITHDRAWN = "withdrawn"
    """Återkallat: the appellant withdrew it; the decision stands."""
    ANNULLED = "annulled"
    """Upphävt: the decision no longer counts."""


CORRECTABLE = (
    "paragraph",
    "case_number",
    "decided_on",
    "minutes_attested_on",
    "announced_on",
    "note",
)
"""The fields of a decision a correction (rättelse) may change: slips in the record,
never the outcome (a different outcome is a new decision)."""
