"""A board's decision as recorded, and the dates and status its life after the meeting gives it.

The minutes are attested (justering), the attestation is announced on the
municipality's notice board (anslag), and the three-week appeal period runs
from the announcement (`workflow.dates`). A decision gains legal force
(laga kraft) the day after the last day to appeal, unless a timely appeal
holds it back: then it gains legal force when every timely appeal's ruling
has (and never before the appeal period ends). A ruling that annuls it means
it no longer counts. A late appeal is recorded but changes none of this.
"""

from dataclasses import dataclass, field
from datetime import date

from workflow import dates
from workflow.states import AppealOutcome, DecisionStatus, Outcome


@dataclass
class Appeal:
    """An appeal of a decision to the administrative court, and its ruling once known."""

    id: str
    lodged_on: date
    court: str
    case_number: str
    late: bool
    outcome: AppealOutcome | None = None
    ruled_on: date | None = None
    ruling_final_on: date | None = None

    @property
    def pending(self) -> bool:
        """A timely appeal without its ruling: it holds the decision's legal force back."""
        return not self.late and self.outcome is None


@dataclass
class Decision:
    """What one board decided at one meeting, as recorded, with its appeals."""

    id: str
    board_id: str
    outcome: Outcome
    decided_on: date
    paragraph: str
    case_number: str
    document_sha256: str | None = None
    minutes_attested_on: date | None = None
    announced_on: date | None = None
    note: str | None = None
    appeals: list[Appeal] = field(default_factory=list)
    corrected: bool = False

    @property
    def appeal_until(self) -> date | None:
        """The last day to appeal (None until announced)."""
        return dates.appeal_until(self.announced_on)

    @property
    def late_announcement(self) -> bool:
        """Announced more than two days after the minutes were attested (KL 8:12)."""
        return dates.late_announcement(self.minutes_attested_on, self.announced_on)

    @property
    def status(self) -> DecisionStatus:
        """Standing, appealed (a timely appeal awaits its ruling) or annulled."""
        if any(a.outcome is AppealOutcome.ANNULLED for a in self.appeals):
            return DecisionStatus.ANNULLED
        if any(a.pending for a in self.appeals):
            return DecisionStatus.APPEALED
        return DecisionStatus.STANDING

    @property
    def final_on(self) -> date | None:
        """When the decision gains legal force, or None while that is not known."""
        if self.status is not DecisionStatus.STANDING:
            return None
        after_period = dates.final_on(self.announced_on)
        rulings = [a.ruling_final_on for a in self.appeals if not a.late]
        if after_period is None or None in rulings:
            return None
        return max([after_period, *(d for d in rulings if d is not None)])

    def refresh_lateness(self) -> None:
        """Whether each appeal came too late, by the announcement date now recorded (an appeal
        lodged before the announcement was known may turn out late once it is)."""
        for appeal in self.appeals:
            appeal.late = dates.appeal_is_late(appeal.lodged_on, self.announced_on)

    def fields(self) -> dict[str, str | bool | None]:
        """Every field as plain JSON values, for the audit trail."""

        def iso(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "decision_id": self.id,
            "outcome": self.outcome.value,
            "decided_on": self.decided_on.isoformat(),
            "paragraph": self.paragraph,
            "case_number": self.case_number,
            "document_sha256": self.document_sha256,
            "minutes_attested_on": iso(self.minutes_attested_on),
            "announced_on": iso(self.announced_on),
            "appeal_until": iso(self.appeal_until),
            "final_on": iso(self.final_on),
            "note": self.note,
        }
