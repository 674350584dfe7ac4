"""Decisions after the meeting, in the pure domain: announcement, appeals, rulings, corrections.

Every rule and branch of `workflow/after_meeting.py` and `workflow/decisions.py`,
and the version's legal-force date (`Version.refresh_final_on`). The seed case:
SUP 2035 replaces SUP 2013 (imported as in force) and needs the approval of three
member boards. Every refused command is checked to change nothing: the version,
its predecessor and the decision (with its appeals) are compared with deep copies
taken before it.
"""

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from workflow.after_meeting import announce, correct, lodge_appeal, rule
from workflow.dates import appeal_until, final_on
from workflow.decisions import Appeal, Decision
from workflow.errors import (
    AlreadyAnnounced,
    AlreadyRuled,
    InvalidTransition,
    InvalidValue,
    NotCorrectable,
)
from workflow.events import Event
from workflow.states import (
    CORRECTABLE,
    AppealOutcome,
    BoardStatus,
    DecisionStatus,
    Outcome,
    VersionState,
)
from workflow.versions import Board, Version, draft, import_in_force, record_decision, send_out

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 27)
LATE_EVENING = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
"""Already 2026-11-28 in Stockholm."""
RESPOND_BY = date(2026, 12, 31)
MEMBERS = ("botkyrka", "haninge", "tyreso")
DECIDED_ON = date(2019, 6, 10)
"""A Monday."""
ATTESTED_ON = date(2019, 6, 14)
"""The Friday after."""
ANNOUNCED_ON = date(2019, 6, 17)
"""The Monday after that: in time, the second day after the attestation being a Sunday."""
APPEAL_UNTIL = date(2019, 7, 8)
"""2019-06-17 + 21 days, a Monday."""
FINAL_ON = date(2019, 7, 9)
APPROVED_ON = {"botkyrka": date(2019, 6, 3), "haninge": date(2019, 6, 17), "tyreso": DECIDED_ON}
"""The meetings that put SUP 2035 in force; Haninge's is the latest."""
COURT = "Förvaltningsrätten i Stockholm"
AO = AppealOutcome
STANDS = [AO.REJECTED, AO.DISMISSED, AO.WITHDRAWN]
"""The rulings after which the decision stands."""

_ids = itertools.count(1)


# --- building blocks -------------------------------------------------------------------------


def decision(
    board_id: str,
    outcome: Outcome = Outcome.APPROVED,
    decided_on: date = DECIDED_ON,
    minutes_attested_on: date | None = None,
    announced_on: date | None = None,
) -> Decision:
    """A decision with a fresh id, § 60 and Tyresö's diarienummer."""
    return Decision(
        id=f"d{next(_ids)}",
        board_id=board_id,
        outcome=outcome,
        decided_on=decided_on,
        paragraph="§ 60",
        case_number="2019/KS 0260 005",
        minutes_attested_on=minutes_attested_on,
        announced_on=announced_on,
    )


def old_version() -> Version:
    """SUP 2013, entered as already in force."""
    return import_in_force(
        version_id="sup-2013",
        program_id="sup",
        members=MEMBERS,
        in_force_from=date(2013, 4, 29),
        note="historical record",
    )


def sent_out(
    replaces: Version | None = None,
    version_id: str = "sup-2035",
    valid_from: date = date(2019, 1, 1),
) -> Version:
    """A version out for decision, replacing `replaces`."""
    version = draft(
        version_id=version_id,
        program_id="sup",
        members=MEMBERS,
        valid_from=valid_from,
        valid_until=None,
        replaces=replaces,
    )
    send_out(version, RESPOND_BY, NOW)
    return version


def record(
    version: Version,
    board_id: str,
    outcome: Outcome = Outcome.APPROVED,
    decided_on: date = DECIDED_ON,
    predecessor: Version | None = None,
    minutes_attested_on: date | None = None,
    announced_on: date | None = None,
) -> Decision:
    """Record a decision on `version` through the command; the decision."""
    recorded = decision(board_id, outcome, decided_on, minutes_attested_on, announced_on)
    record_decision(version, recorded, NOW, predecessor)
    return recorded


@dataclass
class InForce:
    """SUP 2035 in force, SUP 2013 superseded by it, and the approvals by board."""

    version: Version
    predecessor: Version
    approvals: dict[str, Decision] = field(default_factory=dict)


def in_force(announced: bool = False, valid_from: date = date(2019, 1, 1)) -> InForce:
    """Every member approves SUP 2035 (announced three days after each meeting when
    `announced`, attested the day after); SUP 2013 is superseded."""
    old = old_version()
    version = sent_out(old, valid_from=valid_from)
    made = InForce(version, old)
    for board_id, on in APPROVED_ON.items():
        attested = on + timedelta(days=1) if announced else None
        announced_on = on + timedelta(days=3) if announced else None
        made.approvals[board_id] = record(
            version, board_id, Outcome.APPROVED, on, old, attested, announced_on
        )
    assert version.state is VersionState.IN_FORCE
    assert old.state is VersionState.SUPERSEDED
    return made


def appeal(
    version: Version, decided: Decision, lodged_on: date = date(2019, 6, 20), case: str = "1-19"
) -> Appeal:
    """Lodge an appeal of `decided` through the command; the appeal."""
    return lodge_appeal(version, decided, f"a{next(_ids)}", lodged_on, COURT, case, NOW)


def annul(version: Version, decided: Decision, predecessor: Version | None = None) -> Appeal:
    """A timely appeal of `decided` ten days after its meeting, upheld by the court two
    months later: the decision is annulled."""
    lodged = appeal(version, decided, decided.decided_on + timedelta(days=10))
    ruled_on = decided.decided_on + timedelta(days=70)
    rule(version, decided, lodged, AO.ANNULLED, ruled_on, None, NOW, predecessor)
    return lodged


@contextmanager
def refused(error: type[Exception], *objects: object) -> Iterator[None]:
    """Expect exactly `error`, and every object given exactly as it was before."""
    before = copy.deepcopy(objects)
    with pytest.raises(error) as excinfo:
        yield
    assert excinfo.type is error
    assert objects == before


def types(events: list[Event]) -> list[str]:
    """The events' types, in order."""
    return [e.type for e in events]


def state_of(version: Version) -> VersionState:
    """The state, read through a call so that mypy does not keep an earlier narrowing."""
    return version.state


def status_of(decided: Decision) -> DecisionStatus:
    """The decision's status, read through a call (see `state_of`)."""
    return decided.status


# --- announcement ----------------------------------------------------------------------------


def test_an_announcement_records_the_dates_and_starts_the_appeal_period() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    count = len(version.events)

    assert announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW) is True

    assert (decided.minutes_attested_on, decided.announced_on) == (ATTESTED_ON, ANNOUNCED_ON)
    assert decided.appeal_until == APPEAL_UNTIL
    assert decided.final_on == FINAL_ON
    assert decided.late_announcement is False
    assert status_of(decided) is DecisionStatus.STANDING
    board = version.board("tyreso")
    assert (board.decided_on, board.final_on) == (DECIDED_ON, FINAL_ON)
    assert version.state is VersionState.SENT_OUT
    assert version.final_on is None
    [event] = version.events[count:]
    assert (event.type, event.program_id, event.version_id, event.board_id) == (
        "decision.announced",
        "sup",
        "sup-2035",
        "tyreso",
    )
    assert event.data == {
        "decision_id": decided.id,
        "minutes_attested_on": "2019-06-14",
        "announced_on": "2019-06-17",
        "late_announcement": False,
        "status": "standing",
        "appeal_until": "2019-07-08",
        "final_on": "2019-07-09",
    }


@pytest.mark.parametrize(
    ("attested", "announced"),
    [
        (DECIDED_ON, DECIDED_ON),
        (DECIDED_ON, ANNOUNCED_ON),
        (ATTESTED_ON, ATTESTED_ON),
        (TODAY, TODAY),
    ],
)
def test_announcement_dates_may_fall_on_the_same_day(attested: date, announced: date) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    assert announce(version, decided, attested, announced, NOW) is True
    assert decided.announced_on == announced


@pytest.mark.parametrize(
    ("attested", "announced"),
    [
        (date(2019, 6, 9), ANNOUNCED_ON),  # attested before the meeting
        (ANNOUNCED_ON, ATTESTED_ON),  # announced before the attestation
        (ATTESTED_ON, date(2026, 11, 28)),  # announced tomorrow
        (date(2026, 11, 28), date(2026, 11, 28)),  # attested tomorrow
    ],
)
def test_announcement_dates_out_of_order_or_in_the_future_are_refused(
    attested: date, announced: date
) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    with refused(InvalidValue, version, decided):
        announce(version, decided, attested, announced, NOW)


def test_an_announcement_is_dated_by_today_in_stockholm() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    with refused(InvalidValue, version, decided):
        announce(version, decided, ATTESTED_ON, date(2026, 11, 29), LATE_EVENING)
    assert announce(version, decided, ATTESTED_ON, date(2026, 11, 28), LATE_EVENING) is True


def test_the_same_dates_again_change_nothing() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW)
    before = copy.deepcopy((version, decided))
    assert announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW) is False
    assert (version, decided) == before


@pytest.mark.parametrize(
    ("attested", "announced"),
    [
        (date(2019, 6, 13), ANNOUNCED_ON),
        (ATTESTED_ON, date(2019, 6, 18)),
        (date(2019, 6, 11), date(2019, 6, 12)),
    ],
)
def test_other_dates_once_announced_are_refused(attested: date, announced: date) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW)
    with refused(AlreadyAnnounced, version, decided):
        announce(version, decided, attested, announced, NOW)


def test_dates_given_with_the_decision_count_as_its_announcement() -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    assert decided.appeal_until == APPEAL_UNTIL
    assert version.board("tyreso").final_on == FINAL_ON
    count = len(version.events)
    assert announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW) is False
    assert len(version.events) == count
    with refused(AlreadyAnnounced, version, decided):
        announce(version, decided, ATTESTED_ON, date(2019, 6, 18), NOW)


def test_an_announcement_date_given_with_the_decision_alone_is_corrected_not_announced() -> None:
    version = sent_out()
    decided = record(version, "tyreso", announced_on=ANNOUNCED_ON)
    with refused(AlreadyAnnounced, version, decided):
        announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW)


def test_an_attestation_given_with_the_decision_is_announced_later() -> None:
    """Minutes attested when the decision was recorded, announced afterwards: the
    announcement is recorded (not refused as "other dates", which none are)."""
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON)
    assert decided.appeal_until is None
    with refused(AlreadyAnnounced, version, decided):
        announce(version, decided, date(2019, 6, 13), ANNOUNCED_ON, NOW)
    count = len(version.events)

    assert announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW) is True

    assert decided.announced_on == ANNOUNCED_ON
    assert decided.final_on == FINAL_ON
    assert types(version.events[count:]) == ["decision.announced"]
    assert announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW) is False


@pytest.mark.parametrize(
    ("attested", "announced", "late"),
    [
        # attested on a Tuesday: the second day after is the Thursday
        (date(2019, 6, 11), date(2019, 6, 11), False),
        (date(2019, 6, 11), date(2019, 6, 13), False),
        (date(2019, 6, 11), date(2019, 6, 14), True),
        # attested on a Thursday: the Saturday moves to the Monday
        (date(2019, 6, 13), date(2019, 6, 17), False),
        (date(2019, 6, 13), date(2019, 6, 18), True),
        # attested on a Wednesday: midsommarafton and the weekend move it to the Monday
        (date(2019, 6, 19), date(2019, 6, 24), False),
        (date(2019, 6, 19), date(2019, 6, 25), True),
    ],
)
def test_an_announcement_more_than_two_days_after_the_attestation_is_late(
    attested: date, announced: date, late: bool
) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    announce(version, decided, attested, announced, NOW)
    assert decided.late_announcement is late
    assert version.events[-1].data["late_announcement"] is late
    # a late announcement still starts the appeal period
    assert decided.appeal_until == appeal_until(announced)


def test_a_decision_without_an_announcement_has_no_appeal_period() -> None:
    decided = decision("tyreso")
    assert decided.appeal_until is None
    assert decided.final_on is None
    assert decided.late_announcement is False
    assert decision("tyreso", minutes_attested_on=ATTESTED_ON).late_announcement is False


def test_the_year_end_moves_the_last_day_to_appeal() -> None:
    version = sent_out()
    decided = record(version, "tyreso", decided_on=date(2019, 12, 9))
    announce(version, decided, date(2019, 12, 9), date(2019, 12, 10), NOW)
    # 2019-12-31 is nyårsafton and 2020-01-01 a public holiday
    assert decided.appeal_until == date(2020, 1, 2)
    assert decided.final_on == date(2020, 1, 3)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_any_decision_can_be_announced(outcome: Outcome) -> None:
    version = sent_out()
    decided = record(version, "tyreso", outcome)
    assert announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW) is True
    assert decided.final_on == FINAL_ON


def test_announcing_an_annulled_decision_gives_it_no_legal_force() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    annul(version, decided)
    announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW)
    assert status_of(decided) is DecisionStatus.ANNULLED
    assert decided.appeal_until == APPEAL_UNTIL
    assert decided.final_on is None
    assert version.board("tyreso").final_on is None
    assert version.events[-1].data["final_on"] is None


# --- appeals ---------------------------------------------------------------------------------


def test_a_timely_appeal_holds_legal_force_back() -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    count = len(version.events)

    lodged = lodge_appeal(version, decided, "a1", date(2019, 6, 20), COURT, "1-19", NOW)

    assert lodged == Appeal("a1", date(2019, 6, 20), COURT, "1-19", late=False)
    assert lodged.pending
    assert decided.appeals == [lodged]
    assert status_of(decided) is DecisionStatus.APPEALED
    assert decided.final_on is None
    assert decided.appeal_until == APPEAL_UNTIL
    assert version.board("tyreso").final_on is None
    [event] = version.events[count:]
    assert (event.type, event.board_id) == ("appeal.lodged", "tyreso")
    assert event.data == {
        "decision_id": decided.id,
        "appeal_id": "a1",
        "lodged_on": "2019-06-20",
        "court": COURT,
        "case_number": "1-19",
        "late": False,
        "status": "appealed",
        "appeal_until": "2019-07-08",
        "final_on": None,
    }


@pytest.mark.parametrize("outcome", [Outcome.APPROVED, Outcome.REJECTED, Outcome.AMENDED])
def test_a_final_decision_can_be_appealed(outcome: Outcome) -> None:
    version = sent_out()
    decided = record(version, "tyreso", outcome)
    appeal(version, decided)
    assert status_of(decided) is DecisionStatus.APPEALED


@pytest.mark.parametrize("outcome", [Outcome.REFERRED_BACK, Outcome.TABLED])
def test_a_decision_to_decide_later_cannot_be_appealed(outcome: Outcome) -> None:
    version = sent_out()
    decided = record(version, "tyreso", outcome)
    with refused(InvalidTransition, version, decided):
        appeal(version, decided)


def test_an_annulled_decision_cannot_be_appealed() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    annul(version, decided)
    with refused(InvalidTransition, version, decided):
        appeal(version, decided, date(2019, 9, 3))


@pytest.mark.parametrize("lodged_on", [date(2019, 6, 9), date(2026, 11, 28), date(2027, 1, 1)])
def test_an_appeal_before_the_meeting_or_in_the_future_is_refused(lodged_on: date) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    with refused(InvalidValue, version, decided):
        appeal(version, decided, lodged_on)


def test_an_appeal_may_be_lodged_on_the_day_of_the_meeting_or_today() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    assert appeal(version, decided, DECIDED_ON).lodged_on == DECIDED_ON
    assert appeal(version, decided, TODAY).lodged_on == TODAY
    late_evening = lodge_appeal(
        version, decided, "a-late", date(2026, 11, 28), COURT, "9", LATE_EVENING
    )
    assert late_evening.lodged_on == date(2026, 11, 28)


def test_an_appeal_on_the_last_day_is_timely_and_the_day_after_late() -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)

    late = appeal(version, decided, APPEAL_UNTIL + timedelta(days=1))
    assert late.late is True
    assert not late.pending
    assert status_of(decided) is DecisionStatus.STANDING
    assert decided.final_on == FINAL_ON
    assert version.events[-1].data["late"] is True
    assert version.board("tyreso").final_on == FINAL_ON

    timely = appeal(version, decided, APPEAL_UNTIL)
    assert timely.late is False
    assert status_of(decided) is DecisionStatus.APPEALED
    assert decided.final_on is None


def test_an_appeal_before_the_announcement_is_timely_until_the_announcement_shows_it_late() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    lodged = appeal(version, decided, date(2019, 8, 1))
    assert lodged.late is False
    assert status_of(decided) is DecisionStatus.APPEALED

    # the announcement, recorded now, was on 2019-06-17: the appeal period ended 2019-07-08
    announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW)

    assert lodged.late is True
    assert status_of(decided) is DecisionStatus.STANDING
    assert decided.final_on == FINAL_ON
    assert version.board("tyreso").final_on == FINAL_ON
    assert version.events[-1].data["status"] == "standing"


def test_an_appeal_before_the_announcement_stays_timely_within_the_period() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    lodged = appeal(version, decided, date(2019, 6, 12))
    announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW)
    assert lodged.late is False
    assert status_of(decided) is DecisionStatus.APPEALED
    assert decided.final_on is None


def test_status_and_final_on_with_several_appeals() -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    first = appeal(version, decided, date(2019, 6, 20), "1-19")
    second = appeal(version, decided, date(2019, 7, 1), "2-19")
    late = appeal(version, decided, date(2019, 7, 9), "3-19")
    assert late.late
    assert status_of(decided) is DecisionStatus.APPEALED

    rule(version, decided, first, AO.REJECTED, date(2019, 9, 2), date(2019, 9, 24), NOW)
    assert status_of(decided) is DecisionStatus.APPEALED  # the second still awaits its ruling
    assert decided.final_on is None

    rule(version, decided, second, AO.WITHDRAWN, date(2019, 8, 1), None, NOW)
    assert status_of(decided) is DecisionStatus.STANDING
    assert decided.final_on is None  # the second ruling's legal force is not known yet

    rule(version, decided, second, AO.WITHDRAWN, date(2019, 8, 1), date(2019, 8, 23), NOW)
    assert decided.final_on == date(2019, 9, 24)  # the latest ruling's legal force
    assert version.board("tyreso").final_on == date(2019, 9, 24)

    # the late appeal's ruling changes nothing
    rule(version, decided, late, AO.DISMISSED, date(2019, 10, 1), None, NOW)
    assert status_of(decided) is DecisionStatus.STANDING
    assert decided.final_on == date(2019, 9, 24)


def test_legal_force_never_comes_before_the_appeal_period_ends() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    lodged = appeal(version, decided, date(2019, 6, 11))
    rule(version, decided, lodged, AO.WITHDRAWN, date(2019, 6, 12), date(2019, 6, 13), NOW)
    assert decided.final_on is None  # not announced: no appeal period yet
    announce(version, decided, ATTESTED_ON, ANNOUNCED_ON, NOW)
    assert decided.final_on == FINAL_ON


def test_an_appeal_pending_or_annulled_decides_the_status() -> None:
    decided = decision("tyreso", announced_on=ANNOUNCED_ON)
    assert status_of(decided) is DecisionStatus.STANDING
    decided.appeals.append(Appeal("a", date(2019, 6, 20), COURT, "1", late=True))
    assert status_of(decided) is DecisionStatus.STANDING
    decided.appeals.append(Appeal("b", date(2019, 6, 20), COURT, "2", late=False))
    assert status_of(decided) is DecisionStatus.APPEALED
    decided.appeals[0].outcome = AO.ANNULLED  # a court annulled it even on a late appeal
    assert status_of(decided) is DecisionStatus.ANNULLED
    assert decided.final_on is None


# --- rulings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", STANDS)
def test_a_ruling_that_lets_the_decision_stand(outcome: AppealOutcome) -> None:
    made = in_force(announced=True)
    version, old = made.version, made.predecessor
    decided = made.approvals["haninge"]
    lodged = appeal(version, decided, date(2019, 6, 25))
    assert version.final_on is None
    count = len(version.events)

    rule(version, decided, lodged, outcome, date(2019, 9, 2), date(2019, 9, 24), NOW, old)

    assert (lodged.outcome, lodged.ruled_on, lodged.ruling_final_on) == (
        outcome,
        date(2019, 9, 2),
        date(2019, 9, 24),
    )
    assert status_of(decided) is DecisionStatus.STANDING
    assert decided.final_on == date(2019, 9, 24)
    assert version.board("haninge").final_on == date(2019, 9, 24)
    assert version.state is VersionState.IN_FORCE
    assert version.final_on == date(2019, 9, 24)
    assert version.board("haninge").state is BoardStatus.APPROVED
    [event] = version.events[count:]
    assert (event.type, event.board_id) == ("appeal.ruled", "haninge")
    assert event.data == {
        "decision_id": decided.id,
        "appeal_id": lodged.id,
        "outcome": outcome.value,
        "ruled_on": "2019-09-02",
        "ruling_final_on": "2019-09-24",
        "status": "standing",
        "appeal_until": "2019-07-11",  # announced 2019-06-20
        "final_on": "2019-09-24",
    }
    assert old.state is VersionState.SUPERSEDED


@pytest.mark.parametrize("outcome", list(AppealOutcome))
def test_a_ruling_without_its_legal_force_date_is_completed_once(outcome: AppealOutcome) -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    lodged = appeal(version, decided)
    rule(version, decided, lodged, outcome, date(2019, 9, 2), None, NOW)
    assert decided.final_on is None
    count = len(version.events)

    rule(version, decided, lodged, outcome, date(2019, 9, 2), date(2019, 9, 24), NOW)

    assert lodged.ruling_final_on == date(2019, 9, 24)
    assert types(version.events[count:]) == ["appeal.ruled"]  # no second annulment
    assert version.events[-1].data["ruling_final_on"] == "2019-09-24"
    if outcome is AO.ANNULLED:
        assert decided.final_on is None
    else:
        assert decided.final_on == date(2019, 9, 24)
    with refused(AlreadyRuled, version, decided):
        rule(version, decided, lodged, outcome, date(2019, 9, 2), date(2019, 9, 24), NOW)


@pytest.mark.parametrize(
    ("outcome", "ruled_on", "ruling_final_on"),
    [
        (AO.DISMISSED, date(2019, 9, 2), date(2019, 9, 24)),  # another outcome
        (AO.REJECTED, date(2019, 9, 3), date(2019, 9, 24)),  # another date
        (AO.REJECTED, date(2019, 9, 2), None),  # the same ruling, adding nothing
        (AO.ANNULLED, date(2019, 9, 2), None),
    ],
)
def test_any_other_second_ruling_is_refused(
    outcome: AppealOutcome, ruled_on: date, ruling_final_on: date | None
) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    lodged = appeal(version, decided)
    rule(version, decided, lodged, AO.REJECTED, date(2019, 9, 2), None, NOW)
    with refused(AlreadyRuled, version, decided):
        rule(version, decided, lodged, outcome, ruled_on, ruling_final_on, NOW)


def test_a_ruling_with_its_legal_force_date_cannot_be_recorded_again() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    lodged = appeal(version, decided)
    rule(version, decided, lodged, AO.REJECTED, date(2019, 9, 2), date(2019, 9, 24), NOW)
    for ruling_final_on in (None, date(2019, 9, 24), date(2019, 9, 25)):
        with refused(AlreadyRuled, version, decided):
            rule(version, decided, lodged, AO.REJECTED, date(2019, 9, 2), ruling_final_on, NOW)


@pytest.mark.parametrize(
    ("ruled_on", "ruling_final_on"),
    [
        (date(2019, 6, 19), None),  # before the appeal was lodged
        (date(2026, 11, 28), None),  # in the future
        (date(2019, 9, 2), date(2019, 9, 1)),  # legal force before the ruling
        (date(2019, 9, 2), date(2026, 11, 28)),  # legal force in the future
    ],
)
@pytest.mark.parametrize("outcome", list(AppealOutcome))
def test_ruling_dates_out_of_order_or_in_the_future_are_refused(
    outcome: AppealOutcome, ruled_on: date, ruling_final_on: date | None
) -> None:
    made = in_force()
    decided = made.approvals["tyreso"]
    lodged = appeal(made.version, decided, date(2019, 6, 20))
    with refused(InvalidValue, made.version, made.predecessor, decided):
        rule(
            made.version, decided, lodged, outcome, ruled_on, ruling_final_on, NOW, made.predecessor
        )


def test_ruling_dates_may_fall_on_the_same_day_or_today() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    lodged = appeal(version, decided, date(2019, 6, 20))
    rule(version, decided, lodged, AO.REJECTED, date(2019, 6, 20), date(2019, 6, 20), NOW)
    other = appeal(version, decided, TODAY)
    rule(version, decided, other, AO.REJECTED, TODAY, TODAY, NOW)
    assert other.ruling_final_on == TODAY
    tomorrow = date(2026, 11, 28)
    last = appeal(version, decided, TODAY)
    rule(version, decided, last, AO.REJECTED, tomorrow, tomorrow, LATE_EVENING)
    assert last.ruled_on == tomorrow


def test_a_ruling_on_a_late_appeal_leaves_final_on_as_it_was() -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    late = appeal(version, decided, date(2019, 7, 10))
    assert late.late
    rule(version, decided, late, AO.DISMISSED, date(2019, 8, 1), None, NOW)
    assert decided.final_on == FINAL_ON
    rule(version, decided, late, AO.DISMISSED, date(2019, 8, 1), date(2019, 8, 23), NOW)
    assert decided.final_on == FINAL_ON


def test_annulling_an_approval_of_a_version_in_force_reinstates_its_predecessor() -> None:
    made = in_force(announced=True)
    version, old = made.version, made.predecessor
    decided = made.approvals["haninge"]
    assert version.final_on is not None
    lodged = appeal(version, decided, date(2019, 6, 25))
    version_count, old_count = len(version.events), len(old.events)

    rule(version, decided, lodged, AO.ANNULLED, date(2019, 9, 2), date(2019, 9, 24), NOW, old)

    assert status_of(decided) is DecisionStatus.ANNULLED
    assert decided.final_on is None
    assert state_of(version) is VersionState.SENT_OUT
    assert version.in_force_from is None
    assert version.final_on is None
    assert version.entries == 1
    board = version.board("haninge")
    assert board.state is BoardStatus.ANNULLED
    assert board.final_on is None
    assert board.decision_id == decided.id
    assert version.status("tyreso") is BoardStatus.APPROVED
    assert state_of(old) is VersionState.IN_FORCE
    assert old.superseded_on is None
    assert old.superseded_by is None
    assert old.in_force_from == date(2013, 4, 29)
    new_version_events = version.events[version_count:]
    new_old_events = old.events[old_count:]
    assert types(new_version_events) == ["appeal.ruled", "decision.annulled", "version.reopened"]
    assert types(new_old_events) == ["version.reinstated"]
    ruled, annulled, reopened = new_version_events
    assert ruled.data["status"] == "annulled"
    assert (annulled.board_id, annulled.data["outcome"]) == ("haninge", "approved")
    assert annulled.data["decision_id"] == decided.id
    assert (reopened.board_id, reopened.data) == ("haninge", {"was": "in_force"})
    assert new_old_events[0].data == {"reopened": "sup-2035"}


def test_after_an_annulment_the_board_decides_again_and_the_version_enters_into_force_again() -> (
    None
):
    made = in_force()
    version, old = made.version, made.predecessor
    annul(version, made.approvals["haninge"], old)
    assert version.state is VersionState.SENT_OUT

    # the board may first put it off, then approve again
    record(version, "haninge", Outcome.TABLED, date(2019, 9, 30), old)
    again = record(version, "haninge", decided_on=date(2019, 10, 7), predecessor=old)

    assert state_of(version) is VersionState.IN_FORCE
    assert version.entries == 2
    assert version.in_force_from == date(2019, 10, 7)
    assert version.board("haninge").decision_id == again.id
    assert state_of(old) is VersionState.SUPERSEDED
    assert (old.superseded_by, old.superseded_on) == ("sup-2035", date(2019, 10, 7))
    entries = [e for e in version.events if e.type == "version.in_force"]
    assert [e.once for e in entries] == [
        "version.in_force:sup-2035:1",
        "version.in_force:sup-2035:2",
    ]
    assert [e.data["in_force_from"] for e in entries] == ["2019-06-17", "2019-10-07"]
    assert types(old.events) == [
        "version.imported",
        "version.superseded",
        "version.reinstated",
        "version.superseded",
    ]


def test_a_reinstated_predecessor_gets_back_its_legal_force() -> None:
    """A predecessor that entered into force through ratify has a `final_on`; superseded it
    has none, and put back in force it has its own again."""
    made = in_force(announced=True)
    middle, oldest = made.version, made.predecessor
    known = middle.final_on
    assert known == final_on(APPROVED_ON["haninge"] + timedelta(days=3))
    newest = sent_out(middle, version_id="sup-2050")
    approvals = {
        b: record(newest, b, decided_on=date(2024, 3, 4), predecessor=middle) for b in MEMBERS
    }
    assert middle.state is VersionState.SUPERSEDED
    assert middle.final_on is None

    annul(newest, approvals["tyreso"], middle)

    assert state_of(middle) is VersionState.IN_FORCE
    assert middle.final_on == known
    assert oldest.state is VersionState.SUPERSEDED


def test_annulling_an_approval_of_a_version_that_replaces_none_takes_it_out_of_force() -> None:
    version = sent_out()
    approvals = [record(version, b) for b in MEMBERS]
    assert version.state is VersionState.IN_FORCE
    count = len(version.events)
    annul(version, approvals[0])
    assert state_of(version) is VersionState.SENT_OUT
    assert version.in_force_from is None
    assert types(version.events[count:]) == [
        "appeal.lodged",
        "appeal.ruled",
        "decision.annulled",
        "version.reopened",
    ]


@pytest.mark.parametrize("outcome", [Outcome.REJECTED, Outcome.AMENDED])
def test_annulling_the_only_rejection_reopens_a_rejected_version(outcome: Outcome) -> None:
    old = old_version()
    version = sent_out(old)
    record(version, "botkyrka", predecessor=old)
    rejection = record(version, "tyreso", outcome, predecessor=old)
    assert version.state is VersionState.REJECTED
    lodged = appeal(version, rejection)
    old_before = copy.deepcopy(old)
    count = len(version.events)

    rule(version, rejection, lodged, AO.ANNULLED, date(2019, 9, 2), None, NOW, old)

    assert state_of(version) is VersionState.SENT_OUT
    assert version.status("tyreso") is BoardStatus.ANNULLED
    assert version.status("botkyrka") is BoardStatus.APPROVED
    assert version.in_force_from is None
    assert types(version.events[count:]) == [
        "appeal.ruled",
        "decision.annulled",
        "version.reopened",
    ]
    assert version.events[-1].data == {"was": "rejected"}
    assert old == old_before
    # the board decides again; the rest approve, and the version enters into force
    record(version, "tyreso", decided_on=date(2019, 10, 7), predecessor=old)
    record(version, "haninge", decided_on=date(2019, 10, 8), predecessor=old)
    assert state_of(version) is VersionState.IN_FORCE
    assert version.in_force_from == date(2019, 10, 8)


def test_with_a_second_rejection_the_version_stays_rejected() -> None:
    """Two counting rejections (as the database may hold them): annulling one leaves the
    version rejected."""
    version = sent_out()
    first = record(version, "tyreso", Outcome.REJECTED)
    second = decision("haninge", Outcome.AMENDED)
    version.boards["haninge"] = Board("haninge", BoardStatus.AMENDED, second.id, DECIDED_ON)
    lodged = appeal(version, first)
    count = len(version.events)

    rule(version, first, lodged, AO.ANNULLED, date(2019, 9, 2), None, NOW)

    assert state_of(version) is VersionState.REJECTED
    assert version.status("tyreso") is BoardStatus.ANNULLED
    assert version.status("haninge") is BoardStatus.AMENDED
    assert types(version.events[count:]) == ["appeal.ruled", "decision.annulled"]


def test_annulling_an_approval_of_a_version_still_out_leaves_it_out() -> None:
    version = sent_out()
    approved = record(version, "botkyrka")
    count = len(version.events)
    annul(version, approved)
    assert version.state is VersionState.SENT_OUT
    assert version.status("botkyrka") is BoardStatus.ANNULLED
    assert types(version.events[count:]) == ["appeal.lodged", "appeal.ruled", "decision.annulled"]
    # the board decides again, any way it likes
    record(version, "botkyrka", Outcome.REFERRED_BACK, date(2019, 10, 7))
    assert version.status("botkyrka") is BoardStatus.REFERRED_BACK


def test_annulling_a_decision_of_a_superseded_version_changes_no_version_state() -> None:
    made = in_force()
    middle, oldest = made.version, made.predecessor
    newest = sent_out(middle, version_id="sup-2050")
    for board_id in MEMBERS:
        record(newest, board_id, decided_on=date(2024, 3, 4), predecessor=middle)
    assert middle.state is VersionState.SUPERSEDED
    newest_before, oldest_before = copy.deepcopy(newest), copy.deepcopy(oldest)
    decided = made.approvals["tyreso"]
    lodged = appeal(middle, decided)
    count = len(middle.events)

    rule(middle, decided, lodged, AO.ANNULLED, date(2019, 9, 2), None, NOW, oldest)

    assert middle.state is VersionState.SUPERSEDED
    assert (middle.superseded_by, middle.in_force_from) == ("sup-2050", date(2019, 6, 17))
    assert middle.status("tyreso") is BoardStatus.ANNULLED
    assert types(middle.events[count:]) == ["appeal.ruled", "decision.annulled"]
    assert (newest, oldest) == (newest_before, oldest_before)


def test_annulling_a_decision_that_is_not_the_boards_standing_one_changes_no_board() -> None:
    """The board's standing decision is a later one (as the database may load it): the
    annulment is recorded, and the board and the version stay as they are."""
    made = in_force()
    version, old = made.version, made.predecessor
    stale = decision("tyreso", decided_on=date(2019, 6, 3))
    lodged = appeal(version, stale)
    boards_before = copy.deepcopy(version.boards)
    old_before = copy.deepcopy(old)
    count = len(version.events)

    rule(version, stale, lodged, AO.ANNULLED, date(2019, 9, 2), None, NOW, old)

    assert stale.status is DecisionStatus.ANNULLED
    assert version.state is VersionState.IN_FORCE
    assert version.boards == boards_before
    assert old == old_before
    assert types(version.events[count:]) == ["appeal.ruled", "decision.annulled"]


def test_a_second_annulment_of_an_annulled_decision_annuls_nothing_more() -> None:
    made = in_force()
    version, old = made.version, made.predecessor
    decided = made.approvals["botkyrka"]
    first = appeal(version, decided, date(2019, 6, 20), "1-19")
    second = appeal(version, decided, date(2019, 6, 21), "2-19")
    rule(version, decided, first, AO.ANNULLED, date(2019, 9, 2), None, NOW, old)
    assert version.state is VersionState.SENT_OUT
    again = record(version, "botkyrka", decided_on=date(2019, 10, 7), predecessor=old)
    assert state_of(version) is VersionState.IN_FORCE
    count, old_count = len(version.events), len(old.events)

    # the locked predecessor is given only while the version is in force
    rule(version, decided, second, AO.ANNULLED, date(2019, 9, 3), None, NOW, old)

    assert types(version.events[count:]) == ["appeal.ruled"]
    assert len(old.events) == old_count
    assert state_of(version) is VersionState.IN_FORCE
    assert version.board("botkyrka").decision_id == again.id
    assert version.status("botkyrka") is BoardStatus.APPROVED


@pytest.mark.parametrize("outcome", STANDS)
def test_a_later_ruling_that_lets_it_stand_does_not_revive_an_annulled_decision(
    outcome: AppealOutcome,
) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    first = appeal(version, decided)
    second = appeal(version, decided)
    rule(version, decided, first, AO.ANNULLED, date(2019, 9, 2), None, NOW)
    rule(version, decided, second, outcome, date(2019, 9, 3), date(2019, 9, 25), NOW)
    assert status_of(decided) is DecisionStatus.ANNULLED
    assert version.status("tyreso") is BoardStatus.ANNULLED
    assert version.board("tyreso").final_on is None


# --- corrections -----------------------------------------------------------------------------


def test_a_slip_in_paragraph_and_case_number_is_corrected_visibly() -> None:
    made = in_force(announced=True)
    version, old = made.version, made.predecessor
    decided = made.approvals["tyreso"]
    version_before, old_before = copy.deepcopy(version), copy.deepcopy(old)

    diff = correct(
        version,
        decided,
        {"paragraph": "§ 61", "case_number": "2019/KS 0260", "note": None},
        "typo",
        NOW,
        old,
    )

    assert diff == {
        "paragraph": {"from": "§ 60", "to": "§ 61"},
        "case_number": {"from": "2019/KS 0260 005", "to": "2019/KS 0260"},
    }
    assert (decided.paragraph, decided.case_number, decided.corrected) == (
        "§ 61",
        "2019/KS 0260",
        True,
    )
    [event] = version.events[len(version_before.events) :]
    assert (event.type, event.board_id) == ("decision.corrected", "tyreso")
    assert event.data == {
        "decision_id": decided.id,
        "changes": {
            "paragraph": {"from": "§ 60", "to": "§ 61"},
            "case_number": {"from": "2019/KS 0260 005", "to": "2019/KS 0260"},
        },
        "reason": "typo",
        "derived": {},
        "status": "standing",
        "appeal_until": "2019-07-04",  # announced 2019-06-13
        "final_on": "2019-07-05",
    }
    # nothing else changed (`new_decisions` holds the decision itself, corrected)
    events = version_before.events
    assert replace(version, events=events, new_decisions=[]) == replace(
        version_before, new_decisions=[]
    )
    assert old == old_before


def test_a_note_can_be_added_and_corrected() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    assert correct(version, decided, {"note": "på förslag av KSLU"}, "missing", NOW) == {
        "note": {"from": None, "to": "på förslag av KSLU"}
    }
    assert decided.note == "på förslag av KSLU"


@pytest.mark.parametrize(
    "changes",
    [
        {"outcome": Outcome.REJECTED},
        {"board_id": "haninge"},
        {"outcome": Outcome.APPROVED},  # even its own value
        {"paragraph": "§ 61", "outcome": Outcome.REJECTED},
        {"id": "d0"},
        {"appeals": []},
        {"appeal_until": date(2019, 7, 9)},
        {"corrected": False},
    ],
)
def test_fields_that_are_no_slip_are_not_correctable(changes: dict[str, Any]) -> None:
    made = in_force(announced=True)
    decided = made.approvals["tyreso"]
    with refused(NotCorrectable, made.version, made.predecessor, decided):
        correct(made.version, decided, changes, "slip", NOW, made.predecessor)


def test_the_correctable_fields_are_the_contracts() -> None:
    assert set(CORRECTABLE) == {
        "paragraph",
        "case_number",
        "decided_on",
        "minutes_attested_on",
        "announced_on",
        "note",
    }


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"paragraph": "§ 60"},
        {"paragraph": "§ 60", "case_number": "2019/KS 0260 005", "decided_on": DECIDED_ON},
        {"announced_on": ANNOUNCED_ON, "note": None},
    ],
)
def test_a_correction_that_changes_nothing_is_refused(changes: dict[str, Any]) -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    with refused(InvalidValue, version, decided):
        correct(version, decided, changes, "nothing", NOW)
    assert decided.corrected is False


@pytest.mark.parametrize(
    "changes",
    [
        {"announced_on": ANNOUNCED_ON},
        {"minutes_attested_on": ATTESTED_ON},
        {"paragraph": "§ 61", "announced_on": ANNOUNCED_ON},
    ],
)
def test_announcement_dates_are_not_corrected_before_any_announcement(
    changes: dict[str, Any],
) -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    with refused(InvalidValue, version, decided):
        correct(version, decided, changes, "announced", NOW)


def test_an_announcement_recorded_in_part_can_be_completed_by_a_correction() -> None:
    version = sent_out()
    decided = record(version, "tyreso", announced_on=ANNOUNCED_ON)
    correct(version, decided, {"minutes_attested_on": ATTESTED_ON}, "attested", NOW)
    assert decided.minutes_attested_on == ATTESTED_ON


@pytest.mark.parametrize(
    "changes",
    [
        {"decided_on": date(2026, 11, 28)},  # in the future
        {"decided_on": date(2019, 6, 15)},  # after the attestation
        {"minutes_attested_on": date(2019, 6, 9)},  # before the meeting
        {"minutes_attested_on": date(2019, 6, 18)},  # after the announcement
        {"announced_on": date(2019, 6, 13)},  # before the attestation
        {"announced_on": date(2026, 11, 28)},  # in the future
        {"paragraph": "§ 61", "decided_on": date(2026, 11, 28)},  # one bad change spoils all
    ],
)
def test_corrected_dates_obey_the_rules_they_were_first_given_by(
    changes: dict[str, Any],
) -> None:
    made = in_force(announced=True)
    version, old = made.version, made.predecessor
    decided = made.approvals["tyreso"]
    correct(
        version,
        decided,
        {"minutes_attested_on": ATTESTED_ON, "announced_on": ANNOUNCED_ON},
        "the dates were those of the next meeting",
        NOW,
        old,
    )
    appeal(version, decided, date(2019, 6, 20))
    with refused(InvalidValue, version, old, decided):
        correct(version, decided, changes, "slip", NOW, old)


def test_decided_on_cannot_move_after_an_appeal_was_lodged() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    appeal(version, decided, date(2019, 6, 12))
    with refused(InvalidValue, version, decided):
        correct(version, decided, {"decided_on": date(2019, 6, 13)}, "slip", NOW)
    correct(version, decided, {"decided_on": date(2019, 6, 12)}, "slip", NOW)
    assert decided.decided_on == date(2019, 6, 12)
    assert version.board("tyreso").decided_on == date(2019, 6, 12)


def test_a_corrected_announcement_moves_the_appeal_period_and_legal_force() -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    count = len(version.events)

    correct(version, decided, {"announced_on": date(2019, 6, 18)}, "wrong day", NOW)

    assert decided.appeal_until == date(2019, 7, 9)
    assert decided.final_on == date(2019, 7, 10)
    assert decided.late_announcement is True
    assert version.board("tyreso").final_on == date(2019, 7, 10)
    [event] = version.events[count:]
    assert event.data["derived"] == {
        "appeal_until": {"from": "2019-07-08", "to": "2019-07-09"},
        "final_on": {"from": "2019-07-09", "to": "2019-07-10"},
    }
    assert event.data["changes"] == {"announced_on": {"from": "2019-06-17", "to": "2019-06-18"}}
    assert (event.data["appeal_until"], event.data["final_on"]) == ("2019-07-09", "2019-07-10")


def test_a_corrected_announcement_decides_which_appeals_came_late() -> None:
    version = sent_out()
    decided = record(version, "tyreso", minutes_attested_on=ATTESTED_ON, announced_on=ANNOUNCED_ON)
    lodged = appeal(version, decided, APPEAL_UNTIL)
    assert status_of(decided) is DecisionStatus.APPEALED

    correct(version, decided, {"announced_on": date(2019, 6, 14)}, "announced earlier", NOW)

    assert lodged.late is True
    assert status_of(decided) is DecisionStatus.STANDING
    assert decided.final_on == date(2019, 7, 6)
    assert version.events[-1].data["derived"] == {
        "appeal_until": {"from": "2019-07-08", "to": "2019-07-05"},
        "final_on": {"from": None, "to": "2019-07-06"},
    }

    correct(version, decided, {"announced_on": ANNOUNCED_ON}, "it was right", NOW)
    assert lodged.late is False
    assert status_of(decided) is DecisionStatus.APPEALED


def test_a_corrected_meeting_date_of_the_latest_approval_moves_the_entry_into_force() -> None:
    made = in_force()
    version, old = made.version, made.predecessor
    decided = made.approvals["haninge"]
    version_count, old_count = len(version.events), len(old.events)

    correct(version, decided, {"decided_on": date(2019, 6, 18)}, "meeting date", NOW, old)

    assert version.in_force_from == date(2019, 6, 18)
    assert old.superseded_on == date(2019, 6, 18)
    assert version.board("haninge").decided_on == date(2019, 6, 18)
    assert types(version.events[version_count:]) == ["decision.corrected", "version.corrected"]
    corrected = version.events[-1]
    assert (corrected.board_id, corrected.data) == (
        "haninge",
        {"in_force_from": {"from": "2019-06-17", "to": "2019-06-18"}},
    )
    [moved] = old.events[old_count:]
    assert (moved.type, moved.version_id, moved.data) == (
        "version.corrected",
        "sup-2013",
        {"superseded_on": {"from": "2019-06-17", "to": "2019-06-18"}},
    )

    # moved before another approval, that one is the latest
    correct(version, decided, {"decided_on": date(2019, 6, 1)}, "no, earlier", NOW, old)
    assert version.in_force_from == date(2019, 6, 10)
    assert old.superseded_on == date(2019, 6, 10)


def test_a_corrected_meeting_date_that_stays_earlier_moves_nothing() -> None:
    made = in_force()
    version, old = made.version, made.predecessor
    old_before = copy.deepcopy(old)
    count = len(version.events)
    correct(version, made.approvals["botkyrka"], {"decided_on": date(2019, 6, 4)}, "d", NOW, old)
    assert version.in_force_from == date(2019, 6, 17)
    assert types(version.events[count:]) == ["decision.corrected"]
    assert old == old_before


def test_a_corrected_meeting_date_before_valid_from_moves_nothing() -> None:
    made = in_force(valid_from=date(2019, 7, 1))
    version, old = made.version, made.predecessor
    assert version.in_force_from == date(2019, 7, 1)
    count = len(version.events)
    correct(version, made.approvals["haninge"], {"decided_on": date(2019, 6, 20)}, "d", NOW, old)
    assert version.in_force_from == date(2019, 7, 1)
    assert old.superseded_on == date(2019, 7, 1)
    assert types(version.events[count:]) == ["decision.corrected"]
    correct(version, made.approvals["haninge"], {"decided_on": date(2019, 7, 2)}, "d", NOW, old)
    assert version.in_force_from == date(2019, 7, 2)
    assert old.superseded_on == date(2019, 7, 2)


def test_a_corrected_announcement_of_an_approval_moves_the_versions_legal_force() -> None:
    made = in_force(announced=True)
    version, old = made.version, made.predecessor
    decided = made.approvals["haninge"]  # announced 2019-06-20: final on 2019-07-12
    assert version.final_on == date(2019, 7, 12)
    old_before = copy.deepcopy(old)
    count = len(version.events)

    correct(version, decided, {"announced_on": date(2019, 6, 22)}, "d", NOW, old)

    # 2019-06-22 + 21 days is a Saturday: the last day to appeal moves to the Monday
    assert decided.appeal_until == date(2019, 7, 15)
    assert version.final_on == date(2019, 7, 16)
    assert types(version.events[count:]) == ["decision.corrected", "version.corrected"]
    assert version.events[-1].data == {"final_on": {"from": "2019-07-12", "to": "2019-07-16"}}
    assert old == old_before


def test_a_corrected_approval_of_a_version_still_out_moves_only_its_board() -> None:
    old = old_version()
    version = sent_out(old)
    decided = record(version, "tyreso", predecessor=old)
    count = len(version.events)
    correct(version, decided, {"decided_on": date(2019, 6, 11)}, "d", NOW)
    assert version.board("tyreso").decided_on == date(2019, 6, 11)
    assert version.in_force_from is None
    assert types(version.events[count:]) == ["decision.corrected"]
    record(version, "botkyrka", predecessor=old)
    record(version, "haninge", predecessor=old)
    assert version.in_force_from == date(2019, 6, 11)


def test_a_correction_of_a_decision_that_no_longer_stands_moves_no_version_date() -> None:
    made = in_force()
    version, old = made.version, made.predecessor
    decided = made.approvals["haninge"]
    annul(version, decided, old)
    record(version, "haninge", decided_on=date(2019, 6, 12), predecessor=old)
    assert version.in_force_from == date(2019, 6, 12)
    count = len(version.events)
    correct(version, decided, {"decided_on": date(2019, 6, 18)}, "d", NOW, old)
    assert version.in_force_from == date(2019, 6, 12)
    assert version.board("haninge").decided_on == date(2019, 6, 12)
    assert types(version.events[count:]) == ["decision.corrected"]


def test_a_correction_is_dated_by_today_in_stockholm() -> None:
    version = sent_out()
    decided = record(version, "tyreso")
    with refused(InvalidValue, version, decided):
        correct(version, decided, {"decided_on": date(2026, 11, 29)}, "d", LATE_EVENING)
    correct(version, decided, {"decided_on": date(2026, 11, 28)}, "d", LATE_EVENING)
    assert decided.decided_on == date(2026, 11, 28)


# --- the version's legal force ---------------------------------------------------------------


def test_a_version_gains_legal_force_when_every_approval_has() -> None:
    made = in_force()
    version = made.version
    assert version.final_on is None
    announced = {"botkyrka": date(2019, 6, 5), "haninge": date(2019, 6, 19), "tyreso": None}
    for board_id, on in announced.items():
        if on is not None:
            announce(version, made.approvals[board_id], on, on, NOW)
    assert version.final_on is None  # Tyresö's is not known yet
    announce(version, made.approvals["tyreso"], date(2019, 6, 11), date(2019, 6, 12), NOW)
    assert version.final_on == final_on(date(2019, 6, 19))
    # an appeal of one approval holds it back again, and its ruling sets it
    lodged = appeal(version, made.approvals["tyreso"], date(2019, 6, 20))
    assert version.final_on is None
    rule(version, made.approvals["tyreso"], lodged, AO.REJECTED, date(2019, 9, 2), None, NOW)
    assert version.final_on is None
    ruled = (date(2019, 9, 2), date(2019, 9, 24))
    rule(version, made.approvals["tyreso"], lodged, AO.REJECTED, *ruled, NOW)
    assert version.final_on == date(2019, 9, 24)


def _with_boards(state: VersionState, entries: int, finals: list[date | None]) -> Version:
    """A version whose members approved, with the legal-force dates given."""
    version = Version(
        id="v",
        program_id="sup",
        state=state,
        members=MEMBERS,
        valid_from=date(2019, 1, 1),
        entries=entries,
    )
    for board_id, on in zip(MEMBERS, finals, strict=True):
        version.boards[board_id] = Board(board_id, BoardStatus.APPROVED, board_id, DECIDED_ON, on)
    return version


@pytest.mark.parametrize(
    ("state", "entries", "finals", "expected"),
    [
        (
            VersionState.IN_FORCE,
            1,
            [date(2019, 7, 4), date(2019, 7, 9), date(2019, 7, 1)],
            date(2019, 7, 9),
        ),
        (VersionState.IN_FORCE, 2, [date(2019, 7, 4)] * 3, date(2019, 7, 4)),
        (VersionState.IN_FORCE, 1, [date(2019, 7, 4), None, date(2019, 7, 1)], None),
        (VersionState.IN_FORCE, 0, [date(2019, 7, 4)] * 3, None),  # imported: never through ratify
        (VersionState.SENT_OUT, 1, [date(2019, 7, 4)] * 3, None),
        (VersionState.SUPERSEDED, 1, [date(2019, 7, 4)] * 3, None),
        (VersionState.REJECTED, 0, [date(2019, 7, 4)] * 3, None),
    ],
)
def test_refresh_final_on(
    state: VersionState, entries: int, finals: list[date | None], expected: date | None
) -> None:
    version = _with_boards(state, entries, finals)
    version.final_on = date(2000, 1, 1)
    version.refresh_final_on()
    assert version.final_on == expected


def test_refresh_final_on_needs_every_member_approved() -> None:
    version = _with_boards(VersionState.IN_FORCE, 1, [date(2019, 7, 4)] * 3)
    version.boards["tyreso"].state = BoardStatus.ANNULLED
    version.refresh_final_on()
    assert version.final_on is None
    del version.boards["tyreso"]
    version.refresh_final_on()
    assert version.final_on is None
    assert set(version.boards) == {"botkyrka", "haninge"}  # reading adds no board


def test_a_version_in_force_loses_its_legal_force_when_reopened_and_regains_it() -> None:
    made = in_force(announced=True)
    version, old = made.version, made.predecessor
    first = version.final_on
    assert first is not None
    annul(version, made.approvals["botkyrka"], old)
    assert version.final_on is None
    record(
        version,
        "botkyrka",
        decided_on=date(2019, 10, 7),
        predecessor=old,
        minutes_attested_on=date(2019, 10, 8),
        announced_on=date(2019, 10, 9),
    )
    assert version.entries == 2
    assert version.final_on == final_on(date(2019, 10, 9))
    assert old.final_on is None


def test_an_imported_version_is_not_reopened_when_its_one_known_decision_is_annulled() -> None:
    """SUP 2013 was approved before ratify; only Tyresö's § 78 is known. A court annulling
    that decision takes it out, but the other boards' approvals were never recorded, so the
    version cannot be said to lack them: it stays in force."""
    old = old_version()
    known = decision("tyreso", decided_on=date(2013, 4, 29))
    old.boards["tyreso"] = Board("tyreso", BoardStatus.APPROVED, known.id, known.decided_on)
    annul(old, known)
    assert known.status is DecisionStatus.ANNULLED
    assert old.status("tyreso") is BoardStatus.ANNULLED
    assert old.state is VersionState.IN_FORCE
    assert "version.reopened" not in types(old.events)


@pytest.mark.parametrize("name", ["minutes_attested_on", "announced_on", "paragraph"])
def test_a_correction_cannot_empty_a_recorded_date_or_field(name: str) -> None:
    version = sent_out()
    recorded = record(
        version, "tyreso", minutes_attested_on=date(2019, 6, 11), announced_on=date(2019, 6, 12)
    )
    with refused(InvalidValue, version, recorded):
        correct(version, recorded, {name: None}, "oops", NOW)
