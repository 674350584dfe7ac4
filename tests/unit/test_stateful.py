"""Random sequences of commands over one program, checking the invariants of design.md.

One program with three member boards and up to ten versions. The first version
either is imported as already in force (like SUP 2013) or is a draft that replaces
nothing; every later version replaces one that exists (most often the one in force,
else any other, which may be superseded, withdrawn, rejected or still open, and
sometimes none at all). Decisions are recorded as db/commands.py does: with the
predecessor and the id of the program's version in force, so that a version that
replaces none cannot enter into force beside it.

Rules send out, withdraw and record decisions with random boards (including one
that is no member), outcomes, dates (including future ones) and documents. An
oracle computed from the rules of api-contract.md predicts, before each command,
whether it must succeed or exactly which error it must raise; a refused command
must change nothing. After each step the invariants of design.md are checked.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

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

from tests.unit.domain import approved_on, statuses
from workflow.decisions import Decision
from workflow.errors import (
    AlreadyDecided,
    DocumentMismatch,
    DomainError,
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
PROGRAM = "sup"
MEMBERS = ("botkyrka", "haninge", "tyreso")
BOARDS = (*MEMBERS, "stockholm")
MAX_VERSIONS = 10
STRANGER_SHA = "f" * 64

V = VersionState
TERMINAL = frozenset({V.REJECTED, V.WITHDRAWN, V.SUPERSEDED})
DECIDED_FOR_GOOD = frozenset({BoardStatus.APPROVED, BoardStatus.REJECTED, BoardStatus.AMENDED})
REJECTING = frozenset({Outcome.REJECTED, Outcome.AMENDED})

PAST = st.dates(min_value=date(2012, 1, 1), max_value=TODAY)
ANY_DAY = st.dates(min_value=date(2012, 1, 1), max_value=TODAY + timedelta(days=400))
FUTURE = st.dates(min_value=TODAY + timedelta(days=1), max_value=TODAY + timedelta(days=60))


def sha(number: int) -> str:
    return f"{number:064x}"


def snapshot(version: Version) -> Version:
    """A copy to compare with later: a deep copy of what commands change, and faster."""
    return replace(
        version,
        boards={b: replace(board) for b, board in version.boards.items()},
        events=[replace(e, data=dict(e.data)) for e in version.events],
        new_decisions=list(version.new_decisions),
    )


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


class ProgramVersions(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.versions: dict[str, Version] = {}
        self.imported: set[str] = set()
        self.approvals: dict[str, dict[str, date]] = {}
        """The model's own record of each version's approvals (board → decided_on)."""
        self.entered: set[str] = set()
        """Versions seen entering into force through a decision."""
        self.terminal: dict[str, Version] = {}
        """A copy of each version as it was when it reached a terminal state."""
        self.seen_events: dict[str, list[Event]] = {}
        self.decision_count = 0

    # --- helpers ----------------------------------------------------------------------------

    def ids_in(self, state: VersionState) -> list[str]:
        return sorted(vid for vid, v in self.versions.items() if v.state is state)

    def in_force_id(self) -> str | None:
        ids = self.ids_in(V.IN_FORCE)
        return ids[0] if ids else None

    def pick(self, data: st.DataObject, preferred: list[str]) -> str:
        """A version id, with a bias towards the preferred ones."""
        everything = st.sampled_from(sorted(self.versions))
        if preferred:
            return data.draw(st.one_of(st.sampled_from(sorted(preferred)), everything))
        return data.draw(everything)

    def add(self, version: Version, imported: bool = False) -> None:
        assert version.id not in self.versions
        self.versions[version.id] = version
        self.approvals[version.id] = {}
        if imported:
            self.imported.add(version.id)

    def run(self, expected: type[DomainError] | None, command: Callable[[], None]) -> None:
        """Run one command; a refusal must be exactly `expected` and change nothing."""
        before = {vid: snapshot(v) for vid, v in self.versions.items()}
        if expected is None:
            command()
            return
        with pytest.raises(DomainError) as excinfo:
            command()
        assert excinfo.type is expected, f"expected {expected.__name__}, got {excinfo.value!r}"
        assert self.versions == before

    # --- the first version ------------------------------------------------------------------

    @initialize(imported=st.booleans(), day=PAST)
    def first_version(self, imported: bool, day: date) -> None:
        if imported:
            version = import_in_force(
                version_id="v0",
                program_id=PROGRAM,
                members=MEMBERS,
                in_force_from=day,
                note="historical record",
            )
            assert version.state is V.IN_FORCE
            assert version.in_force_from == day
        else:
            version = draft(
                version_id="v0",
                program_id=PROGRAM,
                members=MEMBERS,
                valid_from=day,
                valid_until=None,
                document_sha256=sha(0),
            )
            assert version.state is V.DRAFTED
        self.add(version, imported)

    # --- drafting ---------------------------------------------------------------------------

    @precondition(lambda self: len(self.versions) < MAX_VERSIONS)
    @rule(
        data=st.data(),
        choice=st.sampled_from(range(10)),
        valid_from=ANY_DAY,
        length=st.one_of(st.none(), st.integers(min_value=0, max_value=5000)),
        with_document=st.booleans(),
    )
    def create_version(
        self,
        data: st.DataObject,
        choice: int,
        valid_from: date,
        length: int | None,
        with_document: bool,
    ) -> None:
        """A draft replacing the version in force (mostly), any other one or none;
        refused when it replaces a version of another program or ends before it starts."""
        current = self.in_force_id()
        replaces: Version | None
        if choice == 9:
            replaces = import_in_force(
                version_id="x0",
                program_id="another-program",
                members=MEMBERS,
                in_force_from=date(2013, 4, 29),
                note="elsewhere",
            )
        elif choice in (6, 7):
            replaces = None
        elif choice <= 3 and current is not None:
            replaces = self.versions[current]
        else:
            replaces = self.versions[data.draw(st.sampled_from(sorted(self.versions)))]
        replaces_before = snapshot(replaces) if replaces else None
        valid_until = None if length is None else valid_from + timedelta(days=length)
        if choice == 8:
            valid_until = valid_from - timedelta(days=1 + (length or 0) % 30)
        number = len(self.versions)
        expected: type[DomainError] | None = None
        if (replaces is not None and replaces.program_id != PROGRAM) or (
            valid_until is not None and valid_until < valid_from
        ):
            expected = InvalidValue
        created: list[Version] = []

        def command() -> None:
            created.append(
                draft(
                    version_id=f"v{number}",
                    program_id=PROGRAM,
                    members=MEMBERS,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    replaces=replaces,
                    document_sha256=sha(number) if with_document else None,
                )
            )

        self.run(expected, command)
        assert (snapshot(replaces) if replaces else None) == replaces_before
        if expected is not None:
            assert created == []
            return
        [version] = created
        assert version.state is V.DRAFTED
        assert version.replaces == (replaces.id if replaces else None)
        assert version.valid_from == valid_from
        assert statuses(version) == {}
        assert types(version.events) == ["version.drafted"]
        self.add(version)

    # --- sending out and withdrawing --------------------------------------------------------

    @precondition(lambda self: bool(self.ids_in(V.DRAFTED)))
    @rule(data=st.data(), respond_in=st.integers(min_value=-5, max_value=90))
    def send_out_version(self, data: st.DataObject, respond_in: int) -> None:
        respond_by = TODAY + timedelta(days=respond_in)
        version = self.versions[self.pick(data, self.ids_in(V.DRAFTED))]
        expected: type[DomainError] | None = None
        if version.state is not V.DRAFTED:
            expected = InvalidTransition
        elif respond_by < TODAY:
            expected = InvalidValue
        self.run(expected, lambda: send_out(version, respond_by, NOW))
        if expected is None:
            assert version.state is V.SENT_OUT
            assert version.respond_by == respond_by
            assert version.sent_out_at == NOW
            assert version.events[-1].type == "version.sent_out"

    @precondition(lambda self: bool(self.ids_in(V.DRAFTED) or self.ids_in(V.SENT_OUT)))
    @rule(data=st.data(), reason=st.sampled_from(["rewritten", "no longer needed"]))
    def withdraw_version(self, data: st.DataObject, reason: str) -> None:
        version = self.versions[self.pick(data, self.ids_in(V.DRAFTED) + self.ids_in(V.SENT_OUT))]
        expected = None if version.state in (V.DRAFTED, V.SENT_OUT) else InvalidTransition
        self.run(expected, lambda: withdraw(version, reason))
        if expected is None:
            assert version.state is V.WITHDRAWN
            assert version.events[-1].type == "version.withdrawn"
            assert version.events[-1].data["reason"] == reason

    # --- decisions --------------------------------------------------------------------------

    @precondition(lambda self: bool(self.ids_in(V.SENT_OUT)))
    @rule(data=st.data())
    def every_undecided_board_approves(self, data: st.DataObject) -> None:
        """The remaining member boards approve one version, one decision after another."""
        version = self.versions[data.draw(st.sampled_from(self.ids_in(V.SENT_OUT)))]
        for board in MEMBERS:
            if version.state is V.SENT_OUT and version.status(board) not in DECIDED_FOR_GOOD:
                self.record(version, board, Outcome.APPROVED, data.draw(PAST), None)

    @precondition(lambda self: bool(self.ids_in(V.SENT_OUT)))
    @rule(data=st.data(), decided_on=PAST, name_document=st.booleans())
    def approve(self, data: st.DataObject, decided_on: date, name_document: bool) -> None:
        """A member board that has not decided yet approves a version out for decision."""
        version = self.versions[data.draw(st.sampled_from(self.ids_in(V.SENT_OUT)))]
        undecided = [b for b in MEMBERS if version.status(b) not in DECIDED_FOR_GOOD]
        board = data.draw(st.sampled_from(undecided or list(MEMBERS)))
        document = version.document_sha256 if name_document else None
        self.record(version, board, Outcome.APPROVED, decided_on, document)

    @precondition(lambda self: bool(self.ids_in(V.SENT_OUT)))
    @rule(
        data=st.data(),
        board=st.sampled_from(MEMBERS),
        outcome=st.sampled_from(list(Outcome)),
        decided_on=PAST,
        name_document=st.booleans(),
    )
    def decide(
        self,
        data: st.DataObject,
        board: str,
        outcome: Outcome,
        decided_on: date,
        name_document: bool,
    ) -> None:
        """A member board's decision on the right document, dated today or earlier."""
        version = self.versions[data.draw(st.sampled_from(self.ids_in(V.SENT_OUT)))]
        document = version.document_sha256 if name_document else None
        self.record(version, board, outcome, decided_on, document)

    @rule(
        data=st.data(),
        board=st.sampled_from(BOARDS),
        outcome=st.sampled_from(list(Outcome)),
        decided_on=st.one_of(PAST, FUTURE),
        document=st.sampled_from(["own", "none", "stranger"]),
    )
    def decide_anything(
        self,
        data: st.DataObject,
        board: str,
        outcome: Outcome,
        decided_on: date,
        document: str,
    ) -> None:
        """Any board, any version, any date, any document: often refused."""
        version = self.versions[self.pick(data, self.ids_in(V.SENT_OUT))]
        sha256 = {"own": version.document_sha256, "none": None, "stranger": STRANGER_SHA}[document]
        self.record(version, board, outcome, decided_on, sha256)

    def record(
        self,
        version: Version,
        board: str,
        outcome: Outcome,
        decided_on: date,
        document: str | None,
    ) -> None:
        predecessor = self.versions[version.replaces] if version.replaces else None
        in_force_id = self.in_force_id()
        approvals = self.approvals[version.id]
        last_approval = outcome is Outcome.APPROVED and set(approvals) | {board} == set(MEMBERS)
        expected: type[DomainError] | None = None
        if version.state is not V.SENT_OUT:
            expected = InvalidTransition
        elif board not in MEMBERS:
            expected = NotAMember
        elif version.status(board) in DECIDED_FOR_GOOD:
            expected = AlreadyDecided
        elif decided_on > TODAY:
            expected = InvalidValue
        elif document is not None and document != version.document_sha256:
            expected = DocumentMismatch
        elif last_approval and (
            (predecessor is not None and predecessor.state is not V.IN_FORCE)
            or (predecessor is None and in_force_id is not None)
        ):
            expected = PredecessorNotInForce

        self.decision_count += 1
        decision = Decision(
            id=f"d{self.decision_count}",
            board_id=board,
            outcome=outcome,
            decided_on=decided_on,
            paragraph=f"§ {self.decision_count}",
            case_number=f"2019/KS {self.decision_count:04d}",
            document_sha256=document,
        )
        version_count = len(version.events)
        predecessor_count = len(predecessor.events) if predecessor else 0

        self.run(
            expected, lambda: record_decision(version, decision, NOW, predecessor, in_force_id)
        )
        if expected is not None:
            return

        assert version.status(board) is BoardStatus(outcome.value)
        assert version.new_decisions[-1] == decision
        new_events = version.events[version_count:]
        recorded = new_events[0]
        assert (recorded.type, recorded.version_id, recorded.board_id) == (
            "decision.recorded",
            version.id,
            board,
        )
        assert recorded.data["outcome"] == outcome.value
        if outcome is Outcome.APPROVED:
            approvals[board] = decided_on
        if outcome in REJECTING:
            assert version.state is V.REJECTED
            assert types(new_events) == ["decision.recorded", "version.rejected"]
            assert new_events[1].board_id == board
        elif last_approval:
            on = max(max(approvals.values()), version.valid_from)
            assert version.state is V.IN_FORCE
            assert version.in_force_from == on
            assert types(new_events) == ["decision.recorded", "version.in_force"]
            assert new_events[1].data["in_force_from"] == on.isoformat()
            assert new_events[1].data["replaces"] == version.replaces
            self.entered.add(version.id)
            if predecessor is not None:
                assert predecessor.state is V.SUPERSEDED
                assert predecessor.superseded_by == version.id
                assert predecessor.superseded_on == on
                assert types(predecessor.events[predecessor_count:]) == ["version.superseded"]
        else:
            assert version.state is V.SENT_OUT
            assert types(new_events) == ["decision.recorded"]
        if predecessor is not None and not last_approval:
            assert len(predecessor.events) == predecessor_count

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def at_most_one_version_in_force(self) -> None:
        in_force = [vid for vid, v in self.versions.items() if v.state is V.IN_FORCE]
        assert len(in_force) <= 1, in_force

    @invariant()
    def a_version_in_force_was_approved_by_every_member(self) -> None:
        for vid, version in self.versions.items():
            if version.state is not V.IN_FORCE or vid in self.imported:
                continue
            assert version.all_members_approved()
            assert all(version.status(b) is BoardStatus.APPROVED for b in MEMBERS)
            assert set(self.approvals[vid]) == set(MEMBERS)
            expected = max(max(self.approvals[vid].values()), version.valid_from)
            assert version.in_force_from == expected

    @invariant()
    def a_superseded_version_points_at_its_successor(self) -> None:
        for vid, version in self.versions.items():
            if version.state is not V.SUPERSEDED:
                assert version.superseded_by is None
                assert version.superseded_on is None
                assert "version.superseded" not in types(version.events)
                continue
            assert version.superseded_by in self.versions
            successor = self.versions[version.superseded_by]
            assert successor.state in (V.IN_FORCE, V.SUPERSEDED)
            assert successor.replaces == vid
            assert version.superseded_on == successor.in_force_from
            assert types(version.events).count("version.superseded") == 1

    @invariant()
    def one_in_force_event_per_version_that_entered_into_force(self) -> None:
        for vid, version in self.versions.items():
            count = types(version.events).count("version.in_force")
            assert count == (1 if vid in self.entered else 0), (vid, count)
            if vid in self.entered:
                assert version.state in (V.IN_FORCE, V.SUPERSEDED)
            elif vid not in self.imported:
                assert version.state not in (V.IN_FORCE, V.SUPERSEDED)
                assert version.in_force_from is None

    @invariant()
    def each_version_is_replaced_at_most_once(self) -> None:
        replaced = [self.versions[vid].replaces for vid in self.entered]
        replaced_ids = [r for r in replaced if r is not None]
        assert len(replaced_ids) == len(set(replaced_ids))
        for vid in self.entered:
            replaces = self.versions[vid].replaces
            if replaces is not None:
                assert self.versions[replaces].superseded_by == vid

    @invariant()
    def a_rejected_version_has_exactly_one_rejecting_board(self) -> None:
        for version in self.versions.values():
            rejecting = [
                b
                for b in MEMBERS
                if version.status(b) in (BoardStatus.REJECTED, BoardStatus.AMENDED)
            ]
            if version.state is V.REJECTED:
                assert len(rejecting) == 1
                assert types(version.events).count("version.rejected") == 1
            else:
                assert rejecting == []
                assert "version.rejected" not in types(version.events)

    @invariant()
    def approvals_match_the_model(self) -> None:
        for vid, version in self.versions.items():
            assert approved_on(version) == self.approvals[vid]

    @invariant()
    def terminal_versions_never_change(self) -> None:
        for vid, version in self.versions.items():
            if vid in self.terminal:
                assert version == self.terminal[vid]
            elif version.state in TERMINAL:
                self.terminal[vid] = snapshot(version)

    @invariant()
    def events_are_only_appended(self) -> None:
        for vid, version in self.versions.items():
            seen = self.seen_events.get(vid, [])
            assert version.events[: len(seen)] == seen
            assert all(e.version_id == vid and e.program_id == PROGRAM for e in version.events)
            self.seen_events[vid] = list(version.events)


@pytest.mark.slow
def test_random_command_sequences_keep_the_invariants() -> None:
    run_state_machine_as_test(
        ProgramVersions,
        settings=settings(
            max_examples=200,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
