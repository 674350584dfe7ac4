"""Commands on a decision after its meeting: announcement, appeals, rulings, corrections.

Each takes the version the decision belongs to (locked by the caller) and
the decision with its appeals, checks the rules, changes them and records
events; a refusal changes nothing. None of them edits history: the audit
trail keeps every step. When a ruling annuls a decision that counted, the
version is brought to the state the decisions still counting give it
(`workflow.versions.settle`), which may reopen it and put its predecessor
back in force in the same command.
"""

from datetime import date, datetime
from typing import Any

from workflow.dates import appeal_is_late, today_in_stockholm
from workflow.decisions import Appeal, Decision
from workflow.errors import (
    AlreadyAnnounced,
    AlreadyRuled,
    InvalidTransition,
    InvalidValue,
    NotCorrectable,
)
from workflow.events import EventType
from workflow.machines import BOARD_MACHINE, fire
from workflow.states import CORRECTABLE, FINAL_OUTCOMES, AppealOutcome, DecisionStatus, VersionState
from workflow.versions import Version, all_or_nothing, check_dates, in_force_from, settle


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _record(version: Version, decision: Decision, type_: EventType, **data: Any) -> None:
    """An event about `decision`, with the dates and status it now has."""
    version.record(
        type_,
        decision.board_id,
        decision_id=decision.id,
        **data,
        status=decision.status.value,
        appeal_until=_iso(decision.appeal_until),
        final_on=_iso(decision.final_on),
    )


def _follow(version: Version, decision: Decision) -> None:
    """The version's view of its board follows the decision, when it is the one that stands."""
    board = version.board(decision.board_id)
    if board.decision_id == decision.id:
        board.decided_on, board.final_on = decision.decided_on, decision.final_on
        version.refresh_final_on()


def announce(
    version: Version,
    decision: Decision,
    minutes_attested_on: date,
    announced_on: date,
    now: datetime,
) -> bool:
    """Record when the minutes were attested and the attestation announced; True when that
    changed anything (the same dates again change nothing). An attestation date given with
    the decision is no other date when it is the one given here."""
    given = (minutes_attested_on, announced_on)
    attested = decision.minutes_attested_on
    if decision.announced_on is not None or attested not in (None, minutes_attested_on):
        if (attested, decision.announced_on) == given:
            return False
        raise AlreadyAnnounced("the announcement is recorded with other dates: correct it")
    check_dates(decision.decided_on, minutes_attested_on, announced_on, today_in_stockholm(now))
    decision.minutes_attested_on, decision.announced_on = given
    decision.refresh_lateness()
    _follow(version, decision)
    _record(
        version,
        decision,
        EventType.DECISION_ANNOUNCED,
        minutes_attested_on=minutes_attested_on.isoformat(),
        announced_on=announced_on.isoformat(),
        late_announcement=decision.late_announcement,
    )
    return True


def lodge_appeal(
    version: Version,
    decision: Decision,
    appeal_id: str,
    lodged_on: date,
    court: str,
    case_number: str,
    now: datetime,
) -> Appeal:
    """Record an appeal of a decision; a timely one holds its legal force back."""
    if decision.outcome not in FINAL_OUTCOMES:
        raise InvalidTransition(f"a decision to {decision.outcome.value} cannot be appealed")
    if decision.status is DecisionStatus.ANNULLED:
        raise InvalidTransition("the decision is annulled")
    if lodged_on < decision.decided_on:
        raise InvalidValue("lodged_on is before decided_on")
    if lodged_on > today_in_stockholm(now):
        raise InvalidValue("lodged_on is in the future")
    late = appeal_is_late(lodged_on, decision.announced_on)
    appeal = Appeal(appeal_id, lodged_on, court, case_number, late)
    decision.appeals.append(appeal)
    _follow(version, decision)
    _record(
        version,
        decision,
        EventType.APPEAL_LODGED,
        appeal_id=appeal_id,
        lodged_on=lodged_on.isoformat(),
        court=court,
        case_number=case_number,
        late=late,
    )
    return appeal


def rule(
    version: Version,
    decision: Decision,
    appeal: Appeal,
    outcome: AppealOutcome,
    ruled_on: date,
    ruling_final_on: date | None,
    now: datetime,
    predecessor: Version | None = None,
) -> None:
    """Record the court's ruling on an appeal; an annulment can reopen the version.

    A ruling without its legal-force date may be recorded again with the same
    outcome and date to add it; any other second ruling is refused.
    """
    today = today_in_stockholm(now)
    if appeal.outcome is not None:
        again = (appeal.outcome, appeal.ruled_on, appeal.ruling_final_on) == (
            outcome,
            ruled_on,
            None,
        )
        if not again or ruling_final_on is None:
            raise AlreadyRuled(f"the appeal was ruled {appeal.outcome.value} on {appeal.ruled_on}")
    if not appeal.lodged_on <= ruled_on <= today:
        raise InvalidValue("ruled_on must be on or after lodged_on and not in the future")
    if ruling_final_on is not None and not ruled_on <= ruling_final_on <= today:
        raise InvalidValue("ruling_final_on must be on or after ruled_on and not in the future")
    with all_or_nothing(version, predecessor):
        counted = decision.status is not DecisionStatus.ANNULLED
        appeal.outcome, appeal.ruled_on, appeal.ruling_final_on = (
            outcome,
            ruled_on,
            ruling_final_on,
        )
        _record(
            version,
            decision,
            EventType.APPEAL_RULED,
            appeal_id=appeal.id,
            outcome=outcome.value,
            ruled_on=ruled_on.isoformat(),
            ruling_final_on=_iso(ruling_final_on),
        )
        if counted and decision.status is DecisionStatus.ANNULLED:
            _annulled(version, decision, predecessor)
        else:
            _follow(version, decision)


def _annulled(version: Version, decision: Decision, predecessor: Version | None) -> None:
    """A decision that counted no longer does: its board decides again, and the version
    takes the state the decisions still counting give it."""
    _record(version, decision, EventType.DECISION_ANNULLED, outcome=decision.outcome.value)
    board = version.board(decision.board_id)
    if board.decision_id != decision.id:
        return  # not the decision that stands for its board (one before a re-decision)
    fire(BOARD_MACHINE, "annul", board)
    board.final_on = None
    settle(version, board.id, predecessor)


def correct(
    version: Version,
    decision: Decision,
    changes: dict[str, Any],
    reason: str,
    now: datetime,
    predecessor: Version | None = None,
) -> dict[str, dict[str, Any]]:
    """Put right a slip in the record (rättelse); the changes as {field: {from, to}}.

    The corrected values obey the same rules as when first given, and every
    date derived from them follows, each change an event.
    """
    wrong = sorted(set(changes) - set(CORRECTABLE))
    if wrong:
        raise NotCorrectable(
            f"{', '.join(wrong)} cannot be corrected: a different outcome is a new decision"
        )
    diff = {
        name: {"from": getattr(decision, name), "to": value}
        for name, value in changes.items()
        if getattr(decision, name) != value
    }
    if not diff:
        raise InvalidValue("the correction changes nothing")
    unannounced = decision.announced_on is None and decision.minutes_attested_on is None
    if unannounced and {"minutes_attested_on", "announced_on"} & set(diff):
        raise InvalidValue("the decision is not announced yet: record its announcement")
    emptied = [name for name, change in diff.items() if change["to"] is None and name != "note"]
    if emptied:
        raise InvalidValue(f"{', '.join(emptied)} cannot be emptied by a correction")

    def corrected(name: str) -> Any:
        """The value `name` has once corrected (checked before anything is changed)."""
        return diff[name]["to"] if name in diff else getattr(decision, name)

    check_dates(
        corrected("decided_on"),
        corrected("minutes_attested_on"),
        corrected("announced_on"),
        today_in_stockholm(now),
    )
    if any(a.lodged_on < corrected("decided_on") for a in decision.appeals):
        raise InvalidValue("decided_on would be after an appeal was lodged")
    with all_or_nothing(version, predecessor):
        before = (decision.appeal_until, decision.final_on)
        for name, change in diff.items():
            setattr(decision, name, change["to"])
        decision.refresh_lateness()
        decision.corrected = True
        derived = {
            name: {"from": _iso(old), "to": _iso(new)}
            for name, old, new in zip(
                ("appeal_until", "final_on"),
                before,
                (decision.appeal_until, decision.final_on),
                strict=True,
            )
            if old != new
        }
        shown = {
            name: {k: v.isoformat() if isinstance(v, date) else v for k, v in change.items()}
            for name, change in diff.items()
        }
        _record(
            version,
            decision,
            EventType.DECISION_CORRECTED,
            changes=shown,
            reason=reason,
            derived=derived,
        )
        _redate(version, decision, predecessor)
    return diff


def _redate(version: Version, decision: Decision, predecessor: Version | None) -> None:
    """A corrected meeting date of an approval moves the day its version entered into
    force, and the day its predecessor was superseded; a legal-force date moves the
    version's."""
    board = version.board(decision.board_id)
    if board.decision_id != decision.id:
        return
    before = (version.in_force_from, version.final_on)
    board.decided_on, board.final_on = decision.decided_on, decision.final_on
    if version.state is VersionState.IN_FORCE and version.entries > 0:
        version.in_force_from = in_force_from(version)
    version.refresh_final_on()
    moved = {
        name: {"from": _iso(old), "to": _iso(new)}
        for name, old, new in zip(
            ("in_force_from", "final_on"),
            before,
            (version.in_force_from, version.final_on),
            strict=True,
        )
        if old != new
    }
    if moved:
        version.record(EventType.VERSION_CORRECTED, decision.board_id, **moved)
    follows = predecessor is not None and predecessor.superseded_by == version.id
    if "in_force_from" in moved and predecessor is not None and follows:
        old = predecessor.superseded_on
        predecessor.superseded_on = version.in_force_from
        predecessor.record(
            EventType.VERSION_CORRECTED,
            superseded_on={"from": _iso(old), "to": _iso(predecessor.superseded_on)},
        )
