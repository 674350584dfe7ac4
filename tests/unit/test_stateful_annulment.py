"""Random lives after the meeting: decisions, appeals, rulings, announcements, corrections.

Two versions of one program: P (SUP 2013, imported as in force) and V (SUP 2035,
drafted to replace P and sent out). Rules record decisions of any outcome for any
member board on V, lodge appeals on the decisions recorded, rule on them (any
outcome, sometimes a second time), announce and correct decisions, each through
the pure commands alone and with the versions the database would lock (the
predecessor only while it can move). The test keeps its own small model, which
decisions were recorded and in what order; the domain objects are the truth for
states. An oracle from api-contract.md predicts, before each command, whether it
must succeed or exactly which error it must raise; a refused command must change
nothing. After every step the invariants of design.md are checked: exactly one of
P and V is in force, V is in force exactly when every member's counting decision
is an approval, P is superseded exactly then and by V on V's date, and so on.
"""

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from workflow import after_meeting
from workflow.dates import appeal_until
from workflow.decisions import Appeal, Decision
from workflow.errors import (
    AlreadyAnnounced,
    AlreadyDecided,
    AlreadyRuled,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotCorrectable,
)
from workflow.events import Event
from workflow.states import (
    CORRECTABLE,
    FINAL_OUTCOMES,
    REJECTING_OUTCOMES,
    AppealOutcome,
    BoardStatus,
    DecisionStatus,
    Outcome,
    VersionState,
)
from workflow.versions import (
    Version,
    completes,
    draft,
    import_in_force,
    record_decision,
    send_out,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 27)
MEMBERS = ("botkyrka", "haninge", "tyreso")
IMPORTED_ON = date(2013, 4, 29)
V_ = VersionState
DECIDED_FOR_GOOD = frozenset({BoardStatus.APPROVED, BoardStatus.REJECTED, BoardStatus.AMENDED})

OUTCOMES = st.sampled_from([Outcome.APPROVED] * 4 + list(Outcome))
"""Mostly approvals, so that V often enters into force."""
RULINGS = st.sampled_from([AppealOutcome.ANNULLED] * 3 + list(AppealOutcome))
"""Mostly annulments, so that V often leaves force again."""
DAYS_AGO = st.integers(min_value=-2, max_value=300)
"""A meeting this many days before today (a negative number: in the future)."""
OFFSET = st.integers(min_value=-2, max_value=40)
"""Days after an earlier date (a negative number: before it)."""


def dates_in_order(decided_on: date, attested: date | None, announced: date | None) -> bool:
    """The contract's rule for a decision's dates: meeting ≤ attestation ≤ announcement ≤
    today, each as far as it is known."""
    known = [d for d in (decided_on, attested, announced) if d is not None]
    return known == sorted(known) and known[-1] <= TODAY


def plus(day: date | None, days: int) -> date | None:
    """`day` moved by `days` (None stays None)."""
    return None if day is None else day + timedelta(days=days)


def types(events: list[Event]) -> list[str]:
    """The events' types, in order."""
    return [e.type for e in events]


class Annulments(RuleBasedStateMachine):
    """P in force, V replacing it, and every command after the meeting on V's decisions."""

    def __init__(self) -> None:
        super().__init__()
        self.old = import_in_force(
            version_id="sup-2013",
            program_id="sup",
            members=MEMBERS,
            in_force_from=IMPORTED_ON,
            note="historical record",
        )
        self.new = self.draft_v(date(2025, 1, 1))
        self.decisions: list[Decision] = []
        """Every decision recorded on V, in the order recorded."""
        self.latest: dict[str, Decision] = {}
        """The model: each board's latest decision on V (the one that stands for it)."""
        self.appeals: list[tuple[Decision, Appeal]] = []
        self.entries = 0
        self.reopened_from_force = 0
        self.seen: dict[str, list[Event]] = {}
        self.count = 0

    # --- helpers ----------------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        """A fresh id."""
        self.count += 1
        return f"{prefix}{self.count}"

    def draft_v(self, valid_from: date) -> Version:
        """SUP 2035, drafted to replace SUP 2013."""
        return draft(
            version_id="sup-2035",
            program_id="sup",
            members=MEMBERS,
            valid_from=valid_from,
            valid_until=None,
            replaces=self.old,
        )

    def locked_predecessor(self) -> Version | None:
        """The predecessor as the database locks it for a decision's later life: only while
        V is in force (when a change may move it)."""
        return self.old if self.new.state is V_.IN_FORCE else None

    def counting(self) -> dict[str, Decision]:
        """Each board's decision that counts: its latest, unless a court annulled it."""
        return {b: d for b, d in self.latest.items() if d.status is not DecisionStatus.ANNULLED}

    def run(self, expected: type[DomainError] | None, command: Callable[[], Any]) -> Any:
        """Run one command; a refusal must be exactly `expected` and change nothing."""
        if expected is None:
            return command()
        before = copy.deepcopy((self.old, self.new, self.decisions))
        with pytest.raises(DomainError) as excinfo:
            command()
        assert excinfo.type is expected, f"expected {expected.__name__}, got {excinfo.value!r}"
        assert (self.old, self.new, self.decisions) == before
        return None

    def check_settled(self, was: VersionState, old_count: int, new_count: int) -> None:
        """After a successful command, the events that moved V and P are those its change
        of state calls for."""
        new_events = types(self.new.events[new_count:])
        old_events = types(self.old.events[old_count:])
        now = self.new.state
        if now is V_.IN_FORCE and was is not V_.IN_FORCE:
            self.entries += 1
            assert "version.in_force" in new_events
            assert old_events == ["version.superseded"]
        elif was is V_.IN_FORCE and now is not V_.IN_FORCE:
            self.reopened_from_force += 1
            assert new_events[-1] == "version.reopened"
            assert self.new.events[-1].data == {"was": "in_force"}
            assert old_events == ["version.reinstated"]
        elif was is V_.REJECTED and now is V_.SENT_OUT:
            assert new_events[-1] == "version.reopened"
            assert self.new.events[-1].data == {"was": "rejected"}
            assert old_events == []
        elif was is V_.SENT_OUT and now is V_.REJECTED:
            assert new_events[-1] == "version.rejected"
            assert old_events == []
        else:
            assert now is was
            assert "version.in_force" not in new_events
            assert "version.reopened" not in new_events
            assert all(t == "version.corrected" for t in old_events)

    # --- V out for decision -----------------------------------------------------------------

    @initialize(valid_from=st.dates(min_value=date(2025, 6, 1), max_value=date(2027, 1, 1)))
    def send_out_v(self, valid_from: date) -> None:
        """V, valid from a drawn day (sometimes after every meeting), out for decision."""
        self.new = self.draft_v(valid_from)
        send_out(self.new, date(2026, 12, 31), NOW)
        assert self.new.state is V_.SENT_OUT

    # --- decisions --------------------------------------------------------------------------

    @rule(
        board=st.sampled_from(MEMBERS),
        outcome=OUTCOMES,
        days_ago=DAYS_AGO,
        known=st.sampled_from(["none", "attested", "announced", "both"]),
        attested_after=OFFSET,
        announced_after=OFFSET,
    )
    def decide(
        self,
        board: str,
        outcome: Outcome,
        days_ago: int,
        known: str,
        attested_after: int,
        announced_after: int,
    ) -> None:
        """A member board's decision on V, perhaps with its announcement; often refused."""
        decided_on = TODAY - timedelta(days=days_ago)
        attested = decided_on + timedelta(days=attested_after)
        announced = attested + timedelta(days=announced_after)
        decided = Decision(
            id=self.next_id("d"),
            board_id=board,
            outcome=outcome,
            decided_on=decided_on,
            paragraph=f"§ {self.count}",
            case_number=f"2026/KS {self.count:04d}",
            minutes_attested_on=attested if known in ("attested", "both") else None,
            announced_on=announced if known in ("announced", "both") else None,
        )
        self.record(decided)

    @precondition(lambda self: self.new.state is V_.SENT_OUT)
    @rule(days_ago=st.integers(min_value=0, max_value=300))
    def every_board_still_to_decide_approves(self, days_ago: int) -> None:
        """The boards that owe a decision approve V, one after another."""
        for board in MEMBERS:
            if self.new.state is V_.SENT_OUT and self.new.status(board) not in DECIDED_FOR_GOOD:
                decided = Decision(
                    id=self.next_id("d"),
                    board_id=board,
                    outcome=Outcome.APPROVED,
                    decided_on=TODAY - timedelta(days=days_ago),
                    paragraph="§ 1",
                    case_number="2026/KS 0001",
                )
                self.record(decided)

    def record(self, decided: Decision) -> None:
        """Record `decided` on V as the database does, with the oracle's expectation."""
        expected: type[DomainError] | None = None
        if self.new.state is not V_.SENT_OUT:
            expected = InvalidTransition
        elif self.new.status(decided.board_id) in DECIDED_FOR_GOOD:
            expected = AlreadyDecided
        elif not dates_in_order(
            decided.decided_on, decided.minutes_attested_on, decided.announced_on
        ):
            expected = InvalidValue
        # the last approval needs the predecessor (locked) and the version in force
        last = completes(self.new, decided)
        predecessor = self.old if last else None
        in_force = (self.old.id if self.old.state is V_.IN_FORCE else self.new.id) if last else None
        was, old_count, new_count = self.new.state, len(self.old.events), len(self.new.events)
        self.run(expected, lambda: record_decision(self.new, decided, NOW, predecessor, in_force))
        if expected is not None:
            return
        self.decisions.append(decided)
        self.latest[decided.board_id] = decided
        assert types(self.new.events[new_count : new_count + 1]) == ["decision.recorded"]
        self.check_settled(was, old_count, new_count)
        if decided.outcome in REJECTING_OUTCOMES:
            assert self.new.state is V_.REJECTED

    # --- appeals ----------------------------------------------------------------------------

    @precondition(lambda self: bool(self.decisions))
    @rule(data=st.data(), lodged_after=st.integers(min_value=-2, max_value=60))
    def lodge_appeal(self, data: st.DataObject, lodged_after: int) -> None:
        """An appeal of any recorded decision, timely, late or refused."""
        decided = data.draw(st.sampled_from(self.decisions))
        self.lodge(decided, decided.decided_on + timedelta(days=lodged_after))

    def lodge(self, decided: Decision, lodged_on: date) -> Appeal | None:
        """Lodge an appeal of `decided` with the oracle's expectation; the appeal, if any."""
        expected: type[DomainError] | None = None
        if decided.outcome not in FINAL_OUTCOMES or decided.status is DecisionStatus.ANNULLED:
            expected = InvalidTransition
        elif lodged_on < decided.decided_on or lodged_on > TODAY:
            expected = InvalidValue
        count = len(self.new.events)
        appeal_id = self.next_id("a")
        lodged: Appeal | None = self.run(
            expected,
            lambda: after_meeting.lodge_appeal(
                self.new, decided, appeal_id, lodged_on, "Förvaltningsrätten", "1-26", NOW
            ),
        )
        if lodged is None:
            return None
        last = appeal_until(decided.announced_on)
        assert lodged.late is (last is not None and lodged_on > last)
        assert decided.appeals[-1] is lodged
        if not lodged.late:
            assert decided.status is DecisionStatus.APPEALED
            assert decided.final_on is None
        assert types(self.new.events[count:]) == ["appeal.lodged"]
        self.appeals.append((decided, lodged))
        return lodged

    @precondition(lambda self: bool(self.appeals))
    @rule(
        data=st.data(),
        outcome=RULINGS,
        again=st.booleans(),
        ruled_after=st.integers(min_value=-2, max_value=90),
        final_after=st.one_of(st.none(), st.integers(min_value=-2, max_value=30)),
    )
    def rule_on_appeal(
        self,
        data: st.DataObject,
        outcome: AppealOutcome,
        again: bool,
        ruled_after: int,
        final_after: int | None,
    ) -> None:
        """The court's ruling on an appeal; `again` repeats a ruling already recorded (to add
        its legal-force date, or refused)."""
        decided, lodged = data.draw(st.sampled_from(self.appeals))
        ruled_on = lodged.lodged_on + timedelta(days=ruled_after)
        if again and lodged.outcome is not None and lodged.ruled_on is not None:
            outcome, ruled_on = lodged.outcome, lodged.ruled_on
        ruling_final_on = plus(ruled_on, final_after) if final_after is not None else None
        self.ruling(decided, lodged, outcome, ruled_on, ruling_final_on)

    @precondition(lambda self: bool(self.counting()))
    @rule(
        data=st.data(),
        lodged_after=st.integers(min_value=0, max_value=30),
        ruled_after=st.integers(min_value=0, max_value=60),
    )
    def a_court_annuls_a_counting_decision(
        self, data: st.DataObject, lodged_after: int, ruled_after: int
    ) -> None:
        """An appeal of a board's counting decision, upheld: the way back from `in_force`
        or `rejected`."""
        board = data.draw(st.sampled_from(sorted(self.counting())))
        decided = self.latest[board]
        lodged = self.lodge(decided, min(decided.decided_on + timedelta(days=lodged_after), TODAY))
        if lodged is not None:
            ruled_on = min(lodged.lodged_on + timedelta(days=ruled_after), TODAY)
            self.ruling(decided, lodged, AppealOutcome.ANNULLED, ruled_on, None)

    def ruling(
        self,
        decided: Decision,
        lodged: Appeal,
        outcome: AppealOutcome,
        ruled_on: date,
        ruling_final_on: date | None,
    ) -> None:
        """Rule on `lodged` with the oracle's expectation, as the database does."""
        expected: type[DomainError] | None = None
        if lodged.outcome is not None and (
            (lodged.outcome, lodged.ruled_on, lodged.ruling_final_on) != (outcome, ruled_on, None)
            or ruling_final_on is None
        ):
            expected = AlreadyRuled
        elif not lodged.lodged_on <= ruled_on <= TODAY or (
            ruling_final_on is not None and not ruled_on <= ruling_final_on <= TODAY
        ):
            expected = InvalidValue
        counted = decided.status is not DecisionStatus.ANNULLED
        standing = self.latest[decided.board_id] is decided
        predecessor = self.locked_predecessor()
        was, old_count, new_count = self.new.state, len(self.old.events), len(self.new.events)
        self.run(
            expected,
            lambda: after_meeting.rule(
                self.new, decided, lodged, outcome, ruled_on, ruling_final_on, NOW, predecessor
            ),
        )
        if expected is not None:
            return
        assert (lodged.outcome, lodged.ruled_on, lodged.ruling_final_on) == (
            outcome,
            ruled_on,
            ruling_final_on,
        )
        new_events = types(self.new.events[new_count:])
        if counted and outcome is AppealOutcome.ANNULLED:
            assert decided.status is DecisionStatus.ANNULLED
            assert new_events[:2] == ["appeal.ruled", "decision.annulled"]
            if standing:
                assert self.new.status(decided.board_id) is BoardStatus.ANNULLED
        else:
            assert new_events == ["appeal.ruled"]
            assert self.new.state is was
        self.check_settled(was, old_count, new_count)

    # --- announcement and corrections -------------------------------------------------------

    @precondition(lambda self: bool(self.decisions))
    @rule(
        data=st.data(),
        same=st.booleans(),
        attested_after=OFFSET,
        announced_after=st.integers(min_value=-1, max_value=5),
    )
    def announce(
        self, data: st.DataObject, same: bool, attested_after: int, announced_after: int
    ) -> None:
        """The announcement of a decision's attested minutes (or the same dates again)."""
        decided = data.draw(st.sampled_from(self.decisions))
        attested = decided.decided_on + timedelta(days=attested_after)
        announced = attested + timedelta(days=announced_after)
        if same and decided.minutes_attested_on is not None:
            attested = decided.minutes_attested_on
            announced = decided.announced_on or announced
        stored = (decided.minutes_attested_on, decided.announced_on)
        expected: type[DomainError] | None = None
        unchanged = stored == (attested, announced)
        if not unchanged and (stored[1] is not None or stored[0] not in (None, attested)):
            expected = AlreadyAnnounced
        elif not unchanged and not dates_in_order(decided.decided_on, attested, announced):
            expected = InvalidValue
        before = copy.deepcopy((self.old, self.new, self.decisions))
        changed = self.run(
            expected,
            lambda: after_meeting.announce(self.new, decided, attested, announced, NOW),
        )
        if expected is not None:
            return
        if unchanged:
            assert changed is False
            assert (self.old, self.new, self.decisions) == before
            return
        assert changed is True
        assert (decided.minutes_attested_on, decided.announced_on) == (attested, announced)
        assert self.new.events[-1].type == "decision.announced"
        last = appeal_until(announced)
        assert all(a.late is (last is not None and a.lodged_on > last) for a in decided.appeals)

    @precondition(lambda self: bool(self.decisions))
    @rule(
        data=st.data(),
        fields=st.sets(st.sampled_from([*CORRECTABLE, "outcome"]), max_size=3),
        shift=st.integers(min_value=-4, max_value=4),
        clear=st.booleans(),
    )
    def correct(self, data: st.DataObject, fields: set[str], shift: int, clear: bool) -> None:
        """A correction of a slip: any fields, dates moved a few days (or an announcement
        date cleared, which is refused); often refused."""
        decided = data.draw(st.sampled_from(self.decisions))
        changes: dict[str, Any] = {}
        for name in sorted(fields):
            value = getattr(decided, name)
            if name == "outcome":
                changes[name] = Outcome.REJECTED
            elif name in ("paragraph", "case_number", "note"):
                changes[name] = value if shift == 0 else f"{value} (rättad {shift})"
            elif name == "decided_on":
                changes[name] = value + timedelta(days=shift)
            elif clear:
                changes[name] = None
            else:
                changes[name] = plus(value, shift) or decided.decided_on + timedelta(days=shift)
        self.correction(decided, changes)

    @precondition(lambda self: self.new.state is V_.IN_FORCE)
    @rule(data=st.data(), shift=st.integers(min_value=-20, max_value=20))
    def correct_the_meeting_date_of_an_approval(self, data: st.DataObject, shift: int) -> None:
        """A slip in the meeting date of an approval that put V in force: its entry into
        force, and P's end, may move."""
        decided = self.latest[data.draw(st.sampled_from(MEMBERS))]
        self.correction(decided, {"decided_on": decided.decided_on + timedelta(days=shift)})

    def correction(self, decided: Decision, changes: dict[str, Any]) -> None:
        """Correct `decided` with the oracle's expectation, as the database does."""
        diff = {n: v for n, v in changes.items() if n != "outcome" and getattr(decided, n) != v}
        after = {
            n: diff.get(n, getattr(decided, n))
            for n in ("decided_on", "minutes_attested_on", "announced_on")
        }
        unannounced = decided.minutes_attested_on is None and decided.announced_on is None
        expected: type[DomainError] | None = None
        if "outcome" in changes:
            expected = NotCorrectable
        elif (
            not diff
            or (unannounced and {"minutes_attested_on", "announced_on"} & set(diff))
            or any(v is None and n != "note" for n, v in diff.items())
            or not dates_in_order(*after.values())
            or any(a.lodged_on < after["decided_on"] for a in decided.appeals)
        ):
            expected = InvalidValue
        shown = {n: {"from": getattr(decided, n), "to": v} for n, v in diff.items()}
        was, old_count, new_count = self.new.state, len(self.old.events), len(self.new.events)
        predecessor = self.locked_predecessor()
        result = self.run(
            expected,
            lambda: after_meeting.correct(self.new, decided, changes, "slip", NOW, predecessor),
        )
        if expected is not None:
            return
        assert result == shown
        assert all(getattr(decided, n) == v for n, v in diff.items())
        assert decided.corrected
        assert types(self.new.events[new_count:])[0] == "decision.corrected"
        assert self.new.state is was
        self.check_settled(was, old_count, new_count)

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def exactly_one_version_is_in_force(self) -> None:
        in_force = [v.id for v in (self.old, self.new) if v.state is V_.IN_FORCE]
        assert len(in_force) == 1, in_force

    @invariant()
    def v_is_in_force_exactly_when_every_counting_decision_is_an_approval(self) -> None:
        counting = self.counting()
        approved = all(b in counting and counting[b].outcome is Outcome.APPROVED for b in MEMBERS)
        rejected = any(d.outcome in REJECTING_OUTCOMES for d in counting.values())
        assert (self.new.state is V_.IN_FORCE) == approved
        assert (self.new.state is V_.REJECTED) == rejected
        if not approved and not rejected:
            assert self.new.state is V_.SENT_OUT
        if approved:
            assert self.new.entries >= 1

    @invariant()
    def every_board_shows_its_standing_decision(self) -> None:
        for board_id in MEMBERS:
            latest = self.latest.get(board_id)
            if latest is None:
                assert self.new.status(board_id) is BoardStatus.PENDING
                continue
            board = self.new.board(board_id)
            status = (
                BoardStatus.ANNULLED
                if latest.status is DecisionStatus.ANNULLED
                else BoardStatus(latest.outcome.value)
            )
            assert board.state is status
            assert (board.decision_id, board.decided_on, board.final_on) == (
                latest.id,
                latest.decided_on,
                latest.final_on,
            )

    @invariant()
    def p_is_superseded_by_v_exactly_when_v_is_in_force(self) -> None:
        if self.new.state is V_.IN_FORCE:
            assert self.old.state is V_.SUPERSEDED
            assert self.old.superseded_by == self.new.id
            assert self.old.superseded_on == self.new.in_force_from
        else:
            assert self.old.state is V_.IN_FORCE
            assert self.old.superseded_by is None
            assert self.old.superseded_on is None
        assert self.old.in_force_from == IMPORTED_ON
        assert self.old.final_on is None  # imported: its approvals' legal force is not known

    @invariant()
    def v_is_in_force_from_its_latest_counting_approval(self) -> None:
        if self.new.state is not V_.IN_FORCE:
            assert self.new.in_force_from is None
            assert self.new.final_on is None
            return
        approvals = [self.latest[b] for b in MEMBERS]
        latest = max(d.decided_on for d in approvals)
        assert self.new.in_force_from == max(latest, self.new.valid_from)
        finals = [d.final_on for d in approvals]
        known = [d for d in finals if d is not None]
        assert self.new.final_on == (max(known) if len(known) == len(finals) else None)

    @invariant()
    def one_in_force_event_per_entry_each_with_its_own_key(self) -> None:
        entries = [e for e in self.new.events if e.type == "version.in_force"]
        assert self.new.entries == len(entries) == self.entries
        assert [e.once for e in entries] == [
            f"version.in_force:{self.new.id}:{n}" for n in range(1, len(entries) + 1)
        ]
        old = types(self.old.events)
        assert old.count("version.superseded") == self.entries
        assert old.count("version.reinstated") == self.reopened_from_force
        assert types(self.new.events).count("version.reopened") >= self.reopened_from_force

    @invariant()
    def events_are_only_appended(self) -> None:
        for version in (self.old, self.new):
            seen = self.seen.get(version.id, [])
            assert version.events[: len(seen)] == seen
            assert all(e.version_id == version.id for e in version.events)
            self.seen[version.id] = list(version.events)


def test_annulments_keep_one_version_in_force() -> None:
    run_state_machine_as_test(
        Annulments,
        settings=settings(
            max_examples=60,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
