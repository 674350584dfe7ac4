"""The rules tables: `fire`, `transition_table` and the Mermaid diagram drawn from them."""

import re
from dataclasses import dataclass, field
from enum import StrEnum

import pytest

from workflow.diagram import mermaid, workflow_diagram
from workflow.errors import InvalidTransition
from workflow.machines import (
    BOARD_MACHINE,
    VERSION_MACHINE,
    fire,
    initial,
    states,
    transition_table,
)
from workflow.states import BoardStatus, VersionState

V = VersionState
B = BoardStatus
GUARDS = ("all_members_approved", "predecessor_in_force")

EXPECTED_VERSION_TABLE = {
    ("drafted", "send_out", "sent_out", ()),
    ("drafted", "withdraw", "withdrawn", ()),
    ("sent_out", "withdraw", "withdrawn", ()),
    ("sent_out", "enter_into_force", "in_force", GUARDS),
    ("sent_out", "reject", "rejected", ("a_member_rejected",)),
    ("in_force", "supersede", "superseded", ()),
    ("in_force", "reopen", "sent_out", ("entered_here", "not all_members_approved")),
    ("rejected", "reopen", "sent_out", ("not a_member_rejected",)),
    ("superseded", "reinstate", "in_force", ("successor_reopened",)),
}
OPEN = ("pending", "referred_back", "tabled", "annulled")
BOARD_TRIGGERS = {
    "approve": "approved",
    "reject": "rejected",
    "amend": "amended",
    "refer_back": "referred_back",
    "table": "tabled",
}
EXPECTED_BOARD_TABLE = {
    (source, trigger, dest, ()) for source in OPEN for trigger, dest in BOARD_TRIGGERS.items()
} | {(source, "annul", "annulled", ()) for source in ("approved", "rejected", "amended")}
VERSION_TRIGGERS = sorted({t for _, t, _, _ in EXPECTED_VERSION_TABLE})
UNDECLARED_VERSION_PAIRS = [
    (state, trigger)
    for state in VersionState
    for trigger in [*VERSION_TRIGGERS, "approve", "no_such_trigger"]
    if (state.value, trigger) not in {(s, t) for s, t, _, _ in EXPECTED_VERSION_TABLE}
]


# --- the declarations ---------------------------------------------------------------------


def test_version_machine_states_and_initial() -> None:
    assert states(VERSION_MACHINE) == [s.value for s in VersionState]
    assert initial(VERSION_MACHINE) == "drafted"


def test_board_machine_states_and_initial() -> None:
    assert set(states(BOARD_MACHINE)) == {s.value for s in BoardStatus} - {"unknown"}
    assert initial(BOARD_MACHINE) == "pending"


def test_version_transition_table() -> None:
    table = transition_table(VERSION_MACHINE)
    assert len(table) == len(set(table))
    assert set(table) == EXPECTED_VERSION_TABLE


def test_board_transition_table() -> None:
    table = transition_table(BOARD_MACHINE)
    assert len(table) == len(set(table))
    assert set(table) == EXPECTED_BOARD_TABLE


def test_only_an_annulment_leads_back_from_rejected_or_superseded() -> None:
    leaving = {
        (source, trigger)
        for source, trigger, _, _ in transition_table(VERSION_MACHINE)
        if source in ("rejected", "withdrawn", "superseded")
    }
    assert leaving == {("rejected", "reopen"), ("superseded", "reinstate")}


def test_only_an_annulment_leaves_a_final_board_decision() -> None:
    leaving = {
        trigger
        for source, trigger, _, _ in transition_table(BOARD_MACHINE)
        if source in ("approved", "rejected", "amended", "unknown")
    }
    assert leaving == {"annul"}


# --- fire: the rules table through `transitions` ------------------------------------------


@dataclass
class Model:
    """An object with a `state` and the guards the version machine names, set per test."""

    state: StrEnum
    approved: bool = True
    predecessor: bool = True
    rejected: bool = True
    calls: list[str] = field(default_factory=list)

    def all_members_approved(self, **_context: object) -> bool:
        self.calls.append("all_members_approved")
        return self.approved

    def predecessor_in_force(self, **context: object) -> bool:
        self.calls.append("predecessor_in_force")
        return self.predecessor

    def a_member_rejected(self, **_context: object) -> bool:
        self.calls.append("a_member_rejected")
        return self.rejected


@pytest.mark.parametrize(
    ("state", "trigger", "expected"),
    [
        (V.DRAFTED, "send_out", V.SENT_OUT),
        (V.DRAFTED, "withdraw", V.WITHDRAWN),
        (V.SENT_OUT, "withdraw", V.WITHDRAWN),
        (V.SENT_OUT, "reject", V.REJECTED),
        (V.SENT_OUT, "enter_into_force", V.IN_FORCE),
        (V.IN_FORCE, "supersede", V.SUPERSEDED),
    ],
)
def test_fire_moves_the_model(state: VersionState, trigger: str, expected: VersionState) -> None:
    model = Model(state)
    assert fire(VERSION_MACHINE, trigger, model) is True
    assert model.state is expected
    assert type(model.state) is VersionState


@pytest.mark.parametrize(("state", "trigger"), UNDECLARED_VERSION_PAIRS)
def test_fire_refuses_every_undeclared_version_transition(
    state: VersionState, trigger: str
) -> None:
    model = Model(state)
    with pytest.raises(InvalidTransition) as excinfo:
        fire(VERSION_MACHINE, trigger, model)
    assert excinfo.type is InvalidTransition
    assert state.value in str(excinfo.value)
    assert model.state is state
    assert model.calls == []


@pytest.mark.parametrize("state", [B.PENDING, B.REFERRED_BACK, B.TABLED])
@pytest.mark.parametrize(("trigger", "expected"), list(BOARD_TRIGGERS.items()))
def test_fire_board_from_an_open_status(state: BoardStatus, trigger: str, expected: str) -> None:
    model = Model(state)
    assert fire(BOARD_MACHINE, trigger, model) is True
    assert model.state is BoardStatus(expected)


@pytest.mark.parametrize("state", [B.APPROVED, B.REJECTED, B.AMENDED, B.UNKNOWN])
@pytest.mark.parametrize("trigger", list(BOARD_TRIGGERS))
def test_fire_board_refuses_after_a_final_decision(state: BoardStatus, trigger: str) -> None:
    with pytest.raises(InvalidTransition):
        fire(BOARD_MACHINE, trigger, Model(state))


def test_guards_that_hold_are_all_asked_in_order() -> None:
    model = Model(V.SENT_OUT)
    assert fire(VERSION_MACHINE, "enter_into_force", model) is True
    assert model.calls == list(GUARDS)


@pytest.mark.parametrize("failing", GUARDS)
def test_a_failing_guard_holds_the_model_where_it_was(failing: str) -> None:
    model = Model(
        V.SENT_OUT,
        approved=failing != "all_members_approved",
        predecessor=failing != "predecessor_in_force",
    )
    assert fire(VERSION_MACHINE, "enter_into_force", model) is False
    assert model.state is V.SENT_OUT
    assert model.calls[-1] == failing


def test_the_reject_guard_is_the_rule_that_a_member_rejected() -> None:
    model = Model(V.SENT_OUT, rejected=False)
    assert fire(VERSION_MACHINE, "reject", model) is False
    assert model.state is V.SENT_OUT


def test_context_reaches_the_guards() -> None:
    seen: list[object] = []

    class Watching(Model):
        def predecessor_in_force(self, **context: object) -> bool:
            seen.append(context)
            return True

    fire(
        VERSION_MACHINE, "enter_into_force", Watching(V.SENT_OUT), predecessor=None, in_force_id="x"
    )
    assert seen == [{"predecessor": None, "in_force_id": "x"}]


def test_fire_does_not_touch_the_shared_machine() -> None:
    before = transition_table(VERSION_MACHINE)
    fire(VERSION_MACHINE, "send_out", Model(V.DRAFTED))
    fire(VERSION_MACHINE, "enter_into_force", Model(V.SENT_OUT))
    assert transition_table(VERSION_MACHINE) == before
    assert initial(VERSION_MACHINE) == "drafted"
    assert VERSION_MACHINE.models == []


# --- the Mermaid diagram --------------------------------------------------------------------

EDGE = re.compile(
    r"^    (?P<source>\w+) --> (?P<dest>\w+): (?P<trigger>\w+)(?: \[(?P<guards>[\w ]+)\])?$"
)


def parse_mermaid(text: str) -> tuple[str, str, set[tuple[str, str, str, tuple[str, ...]]]]:
    """Check one Mermaid state diagram line by line; return its title, start and edges."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "---"
    assert lines[1].startswith("title: ")
    assert lines[2] == "---"
    assert lines[3] == "stateDiagram-v2"
    start = re.fullmatch(r"    \[\*\] --> (\w+)", lines[4])
    assert start is not None
    edges = set()
    for line in lines[5:]:
        match = EDGE.fullmatch(line)
        assert match is not None, f"not a Mermaid transition: {line!r}"
        guards = tuple(match["guards"].split(" and ")) if match["guards"] else ()
        edges.add((match["source"], match["trigger"], match["dest"], guards))
    assert len(edges) == len(lines) - 5
    return lines[1].removeprefix("title: "), start[1], edges


def test_mermaid_of_one_machine() -> None:
    text = mermaid(VERSION_MACHINE, "program version")
    assert text.startswith("---\ntitle: program version\n---\nstateDiagram-v2\n")
    assert text.endswith("\n")
    title, start, edges = parse_mermaid(text)
    assert title == "program version"
    assert start == "drafted"
    assert edges == EXPECTED_VERSION_TABLE
    assert (
        "    sent_out --> in_force: enter_into_force "
        "[all_members_approved and predecessor_in_force]\n" in text
    )


def test_workflow_diagram_is_one_document_with_both_machines_version_first() -> None:
    lines = workflow_diagram().rstrip("\n").split("\n")
    assert lines[0] == "stateDiagram-v2"
    assert lines[1] == '    state "program version" as version {'
    board_start = lines.index('    state "board decision (one per member board)" as board {')
    assert lines[board_start - 1] == "    }"
    assert lines[-1] == "    }"
    version = "\n".join(
        ["---", "title: v", "---", "stateDiagram-v2"]
        + [line.removeprefix("    ") for line in lines[2 : board_start - 1]]
    )
    _title, version_start, version_edges = parse_mermaid(version)
    assert version_start == "drafted"
    assert version_edges == EXPECTED_VERSION_TABLE
    board_lines = lines[board_start + 1 : -1]
    names = [line for line in board_lines if line.startswith("        state ")]
    assert names == [f'        state "{s}" as board_{s}' for s in states(BOARD_MACHINE)]
    board = "\n".join(
        ["---", "title: b", "---", "stateDiagram-v2"]
        + [
            line.removeprefix("    ").replace("board_", "")
            for line in board_lines
            if line not in names
        ]
    )
    _title, board_start_state, board_edges = parse_mermaid(board)
    assert board_start_state == "pending"
    assert board_edges == set(transition_table(BOARD_MACHINE)) == EXPECTED_BOARD_TABLE
