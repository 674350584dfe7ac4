"""The version commands: draft, send_out, withdraw, record_decision and import_in_force."""

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from tests.unit.domain import approved_on, statuses
from workflow.decisions import Decision
from workflow.errors import (
    AlreadyDecided,
    DocumentMismatch,
    InvalidTransition,
    InvalidValue,
    NotAMember,
    PredecessorNotInForce,
)
from workflow.events import Event
from workflow.states import BoardStatus, Outcome, VersionState
from workflow.versions import (
    Version,
    draft,
    import_in_force,
    record_decision,
    send_out,
    withdraw,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 27)
LATE_EVENING = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
"""Already 2026-11-28 in Stockholm."""
RESPOND_BY = date(2026, 12, 31)
MEMBERS = ("botkyrka", "haninge", "tyreso")
SHA = "a" * 64
OTHER_SHA = "b" * 64
DECIDED_ON = date(2019, 6, 10)

_decision_ids = itertools.count(1)


def decision(
    board_id: str,
    outcome: Outcome = Outcome.APPROVED,
    decided_on: date = DECIDED_ON,
    document_sha256: str | None = None,
    announced_on: date | None = None,
) -> Decision:
    return Decision(
        id=f"d{next(_decision_ids)}",
        board_id=board_id,
        outcome=outcome,
        decided_on=decided_on,
        paragraph="§ 60",
        case_number="2019/KS 0260 005",
        document_sha256=document_sha256,
        announced_on=announced_on,
    )


def old_version(program_id: str = "sup") -> Version:
    """SUP 2013, entered as already in force."""
    return import_in_force(
        version_id="sup-2013",
        program_id=program_id,
        members=MEMBERS,
        in_force_from=date(2013, 4, 29),
        note="historical record",
    )


def new_version(
    replaces: Version | None = None,
    version_id: str = "sup-2035",
    valid_from: date = date(2019, 1, 1),
    document_sha256: str | None = SHA,
) -> Version:
    return draft(
        version_id=version_id,
        program_id="sup",
        members=MEMBERS,
        valid_from=valid_from,
        valid_until=max(valid_from, date(2022, 12, 31)),
        replaces=replaces,
        document_sha256=document_sha256,
    )


def sent_out_version(
    replaces: Version | None = None,
    version_id: str = "sup-2035",
    valid_from: date = date(2019, 1, 1),
) -> Version:
    version = new_version(replaces, version_id, valid_from)
    send_out(version, RESPOND_BY, NOW)
    return version


def approve_all(version: Version, predecessor: Version | None, on: date = DECIDED_ON) -> None:
    for board in version.members:
        record_decision(version, decision(board, decided_on=on), NOW, predecessor)


def version_in(state: VersionState) -> tuple[Version, Version | None]:
    """A version in `state`, reached through the commands, and the version it replaces."""
    if state is VersionState.DRAFTED:
        return new_version(), None
    if state is VersionState.SENT_OUT:
        return sent_out_version(), None
    if state is VersionState.WITHDRAWN:
        version = sent_out_version()
        withdraw(version, "replaced by a new draft")
        return version, None
    if state is VersionState.REJECTED:
        version = sent_out_version()
        record_decision(version, decision("haninge", Outcome.REJECTED), NOW)
        return version, None
    if state is VersionState.IN_FORCE:
        old = old_version()
        version = sent_out_version(replaces=old)
        approve_all(version, old)
        return version, old
    if state is VersionState.SUPERSEDED:
        old = old_version()
        version = sent_out_version(replaces=old)
        approve_all(version, old)
        newer = sent_out_version(replaces=version, version_id="sup-2050")
        approve_all(newer, version, on=date(2024, 3, 1))
        return version, old
    raise AssertionError(state)


@contextmanager
def refused(error: type[Exception], *versions: Version | None) -> Iterator[None]:
    """Expect exactly `error`, and every version given exactly as it was before."""
    before = copy.deepcopy(versions)
    with pytest.raises(error) as excinfo:
        yield
    assert excinfo.type is error
    assert versions == before


def state_of(version: Version) -> VersionState:
    """The state, read through a call so that mypy does not keep an earlier narrowing."""
    return version.state


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


@dataclass(frozen=True)
class Expected:
    """An event as a test expects it: the named `data` keys must match, others may exist."""

    type: str
    version_id: str
    board_id: str | None = None
    data: dict[str, object] = field(default_factory=dict)


def assert_events(events: list[Event], *expected: Expected) -> None:
    assert [(e.type, e.program_id, e.version_id, e.board_id) for e in events] == [
        (x.type, "sup", x.version_id, x.board_id) for x in expected
    ]
    for event, x in zip(events, expected, strict=True):
        assert {key: event.data.get(key, "<missing>") for key in x.data} == x.data, event.type


# --- draft -----------------------------------------------------------------------------------


def test_draft_creates_a_drafted_version() -> None:
    version = new_version()
    assert version.id == "sup-2035"
    assert version.program_id == "sup"
    assert version.state is VersionState.DRAFTED
    assert version.members == MEMBERS
    assert version.valid_from == date(2019, 1, 1)
    assert version.replaces is None
    assert version.document_sha256 == SHA
    assert [version.status(b) for b in MEMBERS] == [BoardStatus.PENDING] * 3
    assert not version.all_members_approved()
    assert version.sent_out_at is None
    assert version.respond_by is None
    assert version.in_force_from is None
    assert version.superseded_on is None
    assert version.superseded_by is None
    assert version.new_decisions == []
    assert_events(version.events, Expected("version.drafted", "sup-2035", data={"replaces": None}))


def test_draft_that_replaces_a_version_names_it() -> None:
    old = old_version()
    before = copy.deepcopy(old)
    version = new_version(replaces=old)
    assert version.replaces == "sup-2013"
    assert_events(
        version.events, Expected("version.drafted", "sup-2035", data={"replaces": "sup-2013"})
    )
    assert old == before


@pytest.mark.parametrize("valid_until", [None, date(2019, 1, 1), date(2035, 12, 31)])
def test_draft_accepts_valid_until_on_or_after_valid_from(valid_until: date | None) -> None:
    version = draft(
        version_id="v",
        program_id="sup",
        members=MEMBERS,
        valid_from=date(2019, 1, 1),
        valid_until=valid_until,
    )
    assert version.state is VersionState.DRAFTED


def test_draft_refuses_valid_until_before_valid_from() -> None:
    with pytest.raises(InvalidValue, match="valid_until"):
        draft(
            version_id="v",
            program_id="sup",
            members=MEMBERS,
            valid_from=date(2019, 1, 1),
            valid_until=date(2018, 12, 31),
        )


def test_draft_refuses_to_replace_a_version_of_another_program() -> None:
    other = old_version(program_id="another-program")
    with refused(InvalidValue, other):
        new_version(replaces=other)


# --- send_out --------------------------------------------------------------------------------


def test_send_out_a_drafted_version() -> None:
    version = new_version()
    send_out(version, RESPOND_BY, NOW)
    assert version.state is VersionState.SENT_OUT
    assert version.sent_out_at == NOW
    assert version.respond_by == RESPOND_BY
    assert_events(
        version.events,
        Expected("version.drafted", "sup-2035"),
        Expected("version.sent_out", "sup-2035", data={"respond_by": "2026-12-31"}),
    )


def test_send_out_accepts_respond_by_today() -> None:
    version = new_version()
    send_out(version, TODAY, NOW)
    assert version.state is VersionState.SENT_OUT
    assert version.respond_by == TODAY


@pytest.mark.parametrize("respond_by", [date(2026, 11, 26), date(2019, 6, 30)])
def test_send_out_refuses_respond_by_before_today(respond_by: date) -> None:
    version = new_version()
    with refused(InvalidValue, version):
        send_out(version, respond_by, NOW)


def test_send_out_takes_today_in_stockholm() -> None:
    version = new_version()
    with refused(InvalidValue, version):
        send_out(version, TODAY, LATE_EVENING)
    send_out(version, date(2026, 11, 28), LATE_EVENING)
    assert version.state is VersionState.SENT_OUT


@pytest.mark.parametrize("state", [s for s in VersionState if s is not VersionState.DRAFTED])
def test_send_out_only_from_drafted(state: VersionState) -> None:
    version, predecessor = version_in(state)
    assert version.state is state
    with refused(InvalidTransition, version, predecessor):
        send_out(version, RESPOND_BY, NOW)


# --- withdraw --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [VersionState.DRAFTED, VersionState.SENT_OUT])
def test_withdraw(state: VersionState) -> None:
    version, _ = version_in(state)
    count = len(version.events)
    withdraw(version, "a new draft is coming")
    assert version.state is VersionState.WITHDRAWN
    assert_events(
        version.events[count:],
        Expected("version.withdrawn", "sup-2035", data={"reason": "a new draft is coming"}),
    )


@pytest.mark.parametrize(
    "state",
    [
        VersionState.IN_FORCE,
        VersionState.REJECTED,
        VersionState.WITHDRAWN,
        VersionState.SUPERSEDED,
    ],
)
def test_withdraw_refused_once_decided(state: VersionState) -> None:
    version, predecessor = version_in(state)
    assert version.state is state
    with refused(InvalidTransition, version, predecessor):
        withdraw(version, "too late")


def test_a_withdrawn_version_cannot_be_sent_out_or_decided_on() -> None:
    version = new_version()
    withdraw(version, "never mind")
    with refused(InvalidTransition, version):
        send_out(version, RESPOND_BY, NOW)
    with refused(InvalidTransition, version):
        record_decision(version, decision("tyreso"), NOW)


# --- record_decision: refusals ---------------------------------------------------------------


@pytest.mark.parametrize("state", [s for s in VersionState if s is not VersionState.SENT_OUT])
@pytest.mark.parametrize("outcome", list(Outcome))
def test_decisions_only_while_sent_out(state: VersionState, outcome: Outcome) -> None:
    version, predecessor = version_in(state)
    assert version.state is state
    with refused(InvalidTransition, version, predecessor):
        record_decision(version, decision("botkyrka", outcome), NOW, predecessor)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_board_that_is_not_a_member_is_refused(outcome: Outcome) -> None:
    version = sent_out_version()
    with refused(NotAMember, version):
        record_decision(version, decision("stockholm", outcome), NOW)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_board_that_approved_has_decided(outcome: Outcome) -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso"), NOW)
    with refused(AlreadyDecided, version):
        record_decision(version, decision("tyreso", outcome, date(2019, 6, 11)), NOW)


@pytest.mark.parametrize("first", [Outcome.REJECTED, Outcome.AMENDED])
@pytest.mark.parametrize("outcome", list(Outcome))
def test_after_a_rejection_nothing_more_is_recorded(first: Outcome, outcome: Outcome) -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso", first), NOW)
    for board in MEMBERS:
        with refused(InvalidTransition, version):
            record_decision(version, decision(board, outcome), NOW)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_decided_on_in_the_future_is_refused(outcome: Outcome) -> None:
    version = sent_out_version()
    with refused(InvalidValue, version):
        record_decision(version, decision("tyreso", outcome, date(2026, 11, 28)), NOW)


def test_decided_on_today_is_accepted() -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso", decided_on=TODAY), NOW)
    assert version.status("tyreso") is BoardStatus.APPROVED
    assert approved_on(version) == {"tyreso": TODAY}


def test_decided_on_is_compared_with_today_in_stockholm() -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso", decided_on=date(2026, 11, 28)), LATE_EVENING)
    assert version.status("tyreso") is BoardStatus.APPROVED
    with refused(InvalidValue, version):
        record_decision(version, decision("haninge", decided_on=date(2026, 11, 29)), LATE_EVENING)


def test_decided_on_may_be_before_the_send_out() -> None:
    version = sent_out_version()
    assert version.sent_out_at is not None
    early = date(2019, 5, 27)
    assert early < version.sent_out_at.date()
    record_decision(version, decision("tyreso", decided_on=early), NOW)
    assert approved_on(version) == {"tyreso": early}


@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_decision_on_another_document_is_refused(outcome: Outcome) -> None:
    version = sent_out_version()
    with refused(DocumentMismatch, version):
        record_decision(version, decision("tyreso", outcome, document_sha256=OTHER_SHA), NOW)


def test_a_decision_naming_a_document_when_the_version_has_none_is_refused() -> None:
    version = new_version(document_sha256=None)
    send_out(version, RESPOND_BY, NOW)
    with refused(DocumentMismatch, version):
        record_decision(version, decision("tyreso", document_sha256=SHA), NOW)
    record_decision(version, decision("tyreso"), NOW)
    assert version.status("tyreso") is BoardStatus.APPROVED


@pytest.mark.parametrize("document_sha256", [SHA, None])
def test_a_decision_on_the_same_or_an_unnamed_document_is_accepted(
    document_sha256: str | None,
) -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso", document_sha256=document_sha256), NOW)
    assert version.status("tyreso") is BoardStatus.APPROVED


# --- record_decision: approvals and entering into force --------------------------------------


def test_an_approval_is_recorded() -> None:
    version = sent_out_version()
    count = len(version.events)
    recorded = decision("tyreso", announced_on=date(2019, 6, 12))
    record_decision(version, recorded, NOW)
    assert version.state is VersionState.SENT_OUT
    assert statuses(version) == {"tyreso": BoardStatus.APPROVED}
    assert version.status("haninge") is BoardStatus.PENDING
    assert approved_on(version) == {"tyreso": DECIDED_ON}
    assert version.new_decisions == [recorded]
    assert_events(
        version.events[count:],
        Expected("decision.recorded", "sup-2035", "tyreso", {"outcome": "approved"}),
    )
    assert version.in_force_from is None
    assert not version.all_members_approved()


def test_the_last_approval_puts_the_version_in_force_and_supersedes_the_old() -> None:
    old = old_version()
    version = sent_out_version(replaces=old)
    record_decision(version, decision("botkyrka", decided_on=date(2019, 6, 3)), NOW, old)
    record_decision(version, decision("haninge", decided_on=date(2019, 6, 17)), NOW, old)
    assert version.state is VersionState.SENT_OUT
    assert old.state is VersionState.IN_FORCE
    version_count, old_count = len(version.events), len(old.events)

    record_decision(version, decision("tyreso", decided_on=date(2019, 6, 10)), NOW, old)

    assert state_of(version) is VersionState.IN_FORCE
    assert version.all_members_approved()
    assert version.in_force_from == date(2019, 6, 17)
    assert state_of(old) is VersionState.SUPERSEDED
    assert old.superseded_on == date(2019, 6, 17)
    assert old.superseded_by == "sup-2035"
    assert old.in_force_from == date(2013, 4, 29)
    new_events = version.events[version_count:] + old.events[old_count:]
    assert_events(
        new_events,
        Expected("decision.recorded", "sup-2035", "tyreso", {"outcome": "approved"}),
        Expected(
            "version.in_force",
            "sup-2035",
            data={"in_force_from": "2019-06-17", "replaces": "sup-2013"},
        ),
        Expected(
            "version.superseded",
            "sup-2013",
            data={"superseded_by": "sup-2035", "superseded_on": "2019-06-17"},
        ),
    )
    assert types(version.events).count("version.in_force") == 1
    assert types(old.events).count("version.superseded") == 1


def test_a_version_that_replaces_none_enters_into_force_alone() -> None:
    version = sent_out_version()
    approve_all(version, None)
    assert version.state is VersionState.IN_FORCE
    assert version.in_force_from == DECIDED_ON
    assert types(version.events) == [
        "version.drafted",
        "version.sent_out",
        "decision.recorded",
        "decision.recorded",
        "decision.recorded",
        "version.in_force",
    ]
    assert_events(
        version.events[-1:],
        Expected(
            "version.in_force", "sup-2035", data={"in_force_from": "2019-06-10", "replaces": None}
        ),
    )


@pytest.mark.parametrize(
    ("valid_from", "approvals", "expected"),
    [
        # the latest approval, whatever the order in which they are recorded
        (
            date(2019, 1, 1),
            [date(2019, 9, 2), date(2019, 6, 3), date(2019, 6, 10)],
            date(2019, 9, 2),
        ),
        (
            date(2019, 1, 1),
            [date(2019, 6, 3), date(2019, 6, 10), date(2019, 9, 2)],
            date(2019, 9, 2),
        ),
        # valid_from, when it is later than every approval (even in the future)
        (
            date(2020, 1, 1),
            [date(2019, 6, 3), date(2019, 6, 10), date(2019, 9, 2)],
            date(2020, 1, 1),
        ),
        (date(2027, 1, 1), [date(2026, 11, 2), TODAY, date(2026, 11, 20)], date(2027, 1, 1)),
        # the same day
        (
            date(2019, 9, 2),
            [date(2019, 6, 3), date(2019, 9, 2), date(2019, 6, 10)],
            date(2019, 9, 2),
        ),
    ],
)
def test_in_force_from_is_the_latest_approval_or_valid_from(
    valid_from: date, approvals: list[date], expected: date
) -> None:
    old = old_version()
    version = sent_out_version(replaces=old, valid_from=valid_from)
    for board, decided_on in zip(MEMBERS, approvals, strict=True):
        record_decision(version, decision(board, decided_on=decided_on), NOW, old)
    assert version.state is VersionState.IN_FORCE
    assert version.in_force_from == expected
    assert old.superseded_on == expected


def test_in_force_from_ignores_the_dates_of_earlier_referrals() -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso", Outcome.TABLED, date(2019, 10, 1)), NOW)
    record_decision(version, decision("tyreso", decided_on=date(2019, 9, 30)), NOW)
    record_decision(version, decision("botkyrka", decided_on=date(2019, 6, 3)), NOW)
    record_decision(version, decision("haninge", decided_on=date(2019, 6, 10)), NOW)
    assert version.state is VersionState.IN_FORCE
    assert version.in_force_from == date(2019, 9, 30)


# --- record_decision: rejections, referrals and tabling ---------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(Outcome.REJECTED, BoardStatus.REJECTED), (Outcome.AMENDED, BoardStatus.AMENDED)],
)
def test_a_rejection_or_an_amendment_rejects_the_version(
    outcome: Outcome, status: BoardStatus
) -> None:
    old = old_version()
    old_before = copy.deepcopy(old)
    version = sent_out_version(replaces=old)
    record_decision(version, decision("botkyrka"), NOW, old)
    record_decision(version, decision("haninge"), NOW, old)
    count = len(version.events)

    record_decision(version, decision("tyreso", outcome), NOW, old)

    assert version.state is VersionState.REJECTED
    assert version.status("tyreso") is status
    assert "tyreso" not in approved_on(version)
    assert version.in_force_from is None
    assert_events(
        version.events[count:],
        Expected("decision.recorded", "sup-2035", "tyreso", {"outcome": outcome.value}),
        Expected("version.rejected", "sup-2035", "tyreso", {"outcome": outcome.value}),
    )
    assert old == old_before
    with refused(InvalidTransition, version, old):
        withdraw(version, "after the fact")


@pytest.mark.parametrize("outcome", [Outcome.REFERRED_BACK, Outcome.TABLED])
def test_referred_back_or_tabled_leaves_the_board_to_decide_later(outcome: Outcome) -> None:
    old = old_version()
    version = sent_out_version(replaces=old)
    record_decision(version, decision("botkyrka"), NOW, old)
    record_decision(version, decision("haninge"), NOW, old)
    count = len(version.events)

    record_decision(version, decision("tyreso", outcome, date(2019, 6, 10)), NOW, old)

    assert version.state is VersionState.SENT_OUT
    assert version.status("tyreso") is BoardStatus(outcome.value)
    assert "tyreso" not in approved_on(version)
    assert not version.all_members_approved()
    assert_events(
        version.events[count:],
        Expected("decision.recorded", "sup-2035", "tyreso", {"outcome": outcome.value}),
    )
    assert old.state is VersionState.IN_FORCE

    # the board may put it off again, either way, and then decide
    record_decision(version, decision("tyreso", Outcome.TABLED, date(2019, 8, 26)), NOW, old)
    record_decision(version, decision("tyreso", Outcome.REFERRED_BACK, date(2019, 9, 9)), NOW, old)
    assert version.state is VersionState.SENT_OUT
    record_decision(version, decision("tyreso", decided_on=date(2019, 10, 14)), NOW, old)

    assert state_of(version) is VersionState.IN_FORCE
    assert version.in_force_from == date(2019, 10, 14)
    assert state_of(old) is VersionState.SUPERSEDED
    assert len(version.new_decisions) == 6


@pytest.mark.parametrize("outcome", [Outcome.REFERRED_BACK, Outcome.TABLED])
@pytest.mark.parametrize("later", [Outcome.REJECTED, Outcome.AMENDED])
def test_after_a_referral_the_board_may_still_reject(outcome: Outcome, later: Outcome) -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso", outcome), NOW)
    record_decision(version, decision("tyreso", later, date(2019, 9, 9)), NOW)
    assert version.state is VersionState.REJECTED
    assert version.status("tyreso") is BoardStatus(later.value)


def test_a_referred_back_version_can_be_withdrawn() -> None:
    version = sent_out_version()
    record_decision(version, decision("tyreso", Outcome.REFERRED_BACK), NOW)
    withdraw(version, "rewritten")
    assert version.state is VersionState.WITHDRAWN
    with refused(InvalidTransition, version):
        record_decision(version, decision("tyreso"), NOW)


# --- record_decision: the predecessor ----------------------------------------------------------


def superseded_predecessor() -> tuple[Version, Version]:
    """Two versions that replace SUP 2013; the other one has already entered into force."""
    old = old_version()
    rival = sent_out_version(replaces=old, version_id="sup-2035-rival")
    approve_all(rival, old)
    assert old.state is VersionState.SUPERSEDED
    version = sent_out_version(replaces=old)
    return version, old


def predecessor_in(state: VersionState) -> tuple[Version, Version]:
    """A sent-out version whose predecessor is in `state` (not in force)."""
    if state is VersionState.SUPERSEDED:
        return superseded_predecessor()
    predecessor, _ = version_in(state)
    version = sent_out_version(replaces=predecessor, version_id="sup-2050")
    return version, predecessor


NOT_IN_FORCE = [s for s in VersionState if s is not VersionState.IN_FORCE]


@pytest.mark.parametrize("state", NOT_IN_FORCE)
def test_the_last_approval_is_refused_while_the_predecessor_is_not_in_force(
    state: VersionState,
) -> None:
    version, predecessor = predecessor_in(state)
    assert predecessor.state is state
    record_decision(version, decision("botkyrka"), NOW, predecessor)
    record_decision(version, decision("haninge"), NOW, predecessor)
    predecessor_before = copy.deepcopy(predecessor)

    with pytest.raises(PredecessorNotInForce):
        record_decision(version, decision("tyreso"), NOW, predecessor)

    assert version.state is VersionState.SENT_OUT
    assert version.in_force_from is None
    assert "version.in_force" not in types(version.events)
    assert predecessor == predecessor_before


@pytest.mark.parametrize("state", [VersionState.SUPERSEDED, VersionState.SENT_OUT])
def test_a_refused_last_approval_leaves_the_version_unchanged(state: VersionState) -> None:
    version, predecessor = predecessor_in(state)
    record_decision(version, decision("botkyrka"), NOW, predecessor)
    record_decision(version, decision("haninge"), NOW, predecessor)
    with refused(PredecessorNotInForce, version, predecessor):
        record_decision(version, decision("tyreso"), NOW, predecessor)


def test_approvals_before_the_last_are_accepted_while_the_predecessor_is_not_in_force() -> None:
    version, old = superseded_predecessor()
    record_decision(version, decision("botkyrka"), NOW, old)
    record_decision(version, decision("haninge", Outcome.REFERRED_BACK), NOW, old)
    assert statuses(version) == {
        "botkyrka": BoardStatus.APPROVED,
        "haninge": BoardStatus.REFERRED_BACK,
    }
    assert version.state is VersionState.SENT_OUT


def test_a_rejection_is_accepted_while_the_predecessor_is_not_in_force() -> None:
    version, old = superseded_predecessor()
    old_before = copy.deepcopy(old)
    record_decision(version, decision("botkyrka", Outcome.REJECTED), NOW, old)
    assert version.state is VersionState.REJECTED
    assert old == old_before


def test_the_predecessor_must_be_given_when_the_version_replaces_one() -> None:
    old = old_version()
    version = sent_out_version(replaces=old)
    record_decision(version, decision("botkyrka"), NOW, old)
    record_decision(version, decision("haninge"), NOW, old)
    with pytest.raises(ValueError, match="predecessor"):
        record_decision(version, decision("tyreso"), NOW, None)
    assert version.state is VersionState.SENT_OUT
    assert old.state is VersionState.IN_FORCE


def test_no_predecessor_may_be_given_when_the_version_replaces_none() -> None:
    old = old_version()
    version = sent_out_version()
    record_decision(version, decision("botkyrka"), NOW, old)
    record_decision(version, decision("haninge"), NOW, old)
    with pytest.raises(ValueError, match="predecessor"):
        record_decision(version, decision("tyreso"), NOW, old)
    assert version.state is VersionState.SENT_OUT
    assert old.state is VersionState.IN_FORCE


def test_the_predecessor_must_be_the_version_replaced() -> None:
    old = old_version()
    unrelated = import_in_force(
        version_id="unrelated",
        program_id="sup",
        members=MEMBERS,
        in_force_from=date(2015, 1, 1),
        note="another",
    )
    version = sent_out_version(replaces=old)
    record_decision(version, decision("botkyrka"), NOW, old)
    record_decision(version, decision("haninge"), NOW, old)
    unrelated_before = copy.deepcopy(unrelated)
    raised = False
    try:
        record_decision(version, decision("tyreso"), NOW, unrelated)
    except ValueError:
        raised = True
    assert unrelated == unrelated_before
    assert version.state is VersionState.SENT_OUT
    assert raised


def test_a_version_replacing_none_cannot_enter_into_force_beside_the_one_in_force() -> None:
    old = old_version()
    version = sent_out_version()
    record_decision(version, decision("botkyrka"), NOW, None, old.id)
    record_decision(version, decision("haninge"), NOW, None, old.id)
    with refused(PredecessorNotInForce, version, old):
        record_decision(version, decision("tyreso"), NOW, None, old.id)
    # the board is still to decide, and a rejection is still accepted
    assert version.status("tyreso") is BoardStatus.PENDING
    record_decision(version, decision("tyreso", Outcome.REJECTED), NOW, None, old.id)
    assert version.state is VersionState.REJECTED
    assert old.state is VersionState.IN_FORCE


def test_a_version_replacing_none_enters_into_force_when_none_is_in_force() -> None:
    version = sent_out_version()
    for board in MEMBERS:
        record_decision(version, decision(board), NOW, None, None)
    assert version.state is VersionState.IN_FORCE


def test_the_version_in_force_does_not_block_the_version_that_replaces_it() -> None:
    old = old_version()
    version = sent_out_version(replaces=old)
    for board in MEMBERS:
        record_decision(version, decision(board), NOW, old, old.id)
    assert version.state is VersionState.IN_FORCE
    assert old.state is VersionState.SUPERSEDED
    assert old.superseded_by == version.id


# --- import_in_force -------------------------------------------------------------------------


def test_import_in_force_enters_a_historical_version() -> None:
    old = old_version()
    assert old.state is VersionState.IN_FORCE
    assert old.in_force_from == date(2013, 4, 29)
    assert old.valid_from == date(2013, 4, 29)
    assert old.replaces is None
    assert old.members == MEMBERS
    assert statuses(old) == {}
    assert approved_on(old) == {}
    assert old.new_decisions == []
    assert_events(
        old.events,
        Expected(
            "version.imported",
            "sup-2013",
            data={"in_force_from": "2013-04-29", "note": "historical record"},
        ),
    )


def test_an_imported_version_takes_no_commands_but_can_be_superseded() -> None:
    old = old_version()
    with refused(InvalidTransition, old):
        send_out(old, RESPOND_BY, NOW)
    with refused(InvalidTransition, old):
        withdraw(old, "no")
    with refused(InvalidTransition, old):
        record_decision(old, decision("tyreso", decided_on=date(2013, 4, 29)), NOW)
    version = sent_out_version(replaces=old)
    approve_all(version, old)
    assert old.state is VersionState.SUPERSEDED
    assert old.superseded_by == version.id
