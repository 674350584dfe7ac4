"""The rules tables: `fire`, `transition_table` and the Mermaid diagram drawn from them."""

import re

import pytest

from workflow.diagram import mermaid, workflow_diagram
from workflow.errors import InvalidTransition, PredecessorNotInForce
from workflow.machines import BOARD_MACHINE, VERSION_MACHINE, Guard, fire, transition_table
from workflow.states import BoardStatus, VersionState

V = VersionState
B = BoardStatus
GUARDS = ("all_members_approved", "predecessor_in_force")

EXPECTED_VERSION_TABLE = {
    ("drafted", "send_out", "sent_out", ()),
    ("drafted", "withdraw", "withdrawn", ()),
    ("sent_out", "withdraw", "withdrawn", ()),
    ("sent_out", "enter_into_force", "in_force", GUARDS),
    ("sent_out", "reject", "rejected", ()),
    ("in_force", "supersede", "superseded", ()),
}
OPEN = ("pending", "referred_back", "tabled")
BOARD_TRIGGERS = {
    "approve": "approved",
    "reject": "rejected",
    "amend": "amended",
    "refer_back": "referred_back",
    "table": "tabled",
}
EXPECTED_BOARD_TABLE = {
    (source, trigger, dest, ()) for source in OPEN for trigger, dest in BOARD_TRIGGERS.items()
}
VERSION_TRIGGERS = sorted({t for _, t, _, _ in EXPECTED_VERSION_TABLE})
UNDECLARED_VERSION_PAIRS = [
    (state, trigger)
    for state in VersionState
    for trigger in [*VERSION_TRIGGERS, "approve", "no_such_trigger"]
    if (state.value, trigger) not in {(s, t) for s, t, _, _ in EXPECTED_VERSION_TABLE}
]


def always(value: bool) -> Guard:
    def guard() -> bool:
        return value

    return guard


# --- the declarations ---------------------------------------------------------------------


def test_version_machine_states_and_initial() -> None:
    assert set(VERSION_MACHINE.states) == {s.value for s in VersionState}
    assert VERSION_MACHINE.initial == "drafted"


def test_board_machine_states_and_initial() -> None:
    assert set(BOARD_MACHINE.states) == {s.value for s in BoardStatus} - {"unknown"}
    assert BOARD_MACHINE.initial == "pending"


def test_version_transition_table() -> None:
    table = transition_table(VERSION_MACHINE)
    assert len(table) == len(set(table))
    assert set(table) == EXPECTED_VERSION_TABLE


def test_board_transition_table() -> None:
    table = transition_table(BOARD_MACHINE)
    assert len(table) == len(set(table))
    assert set(table) == EXPECTED_BOARD_TABLE


def test_no_transitions_leave_the_terminal_version_states() -> None:
    sources = {source for source, _, _, _ in transition_table(VERSION_MACHINE)}
    assert sources.isdisjoint({"rejected", "withdrawn", "superseded"})


def test_no_transitions_leave_a_final_board_decision() -> None:
    sources = {source for source, _, _, _ in transition_table(BOARD_MACHINE)}
    assert sources.isdisjoint({"approved", "rejected", "amended", "unknown"})


# --- fire without guards ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "trigger", "expected"),
    [
        (V.DRAFTED, "send_out", V.SENT_OUT),
        (V.DRAFTED, "withdraw", V.WITHDRAWN),
        (V.SENT_OUT, "withdraw", V.WITHDRAWN),
        (V.SENT_OUT, "reject", V.REJECTED),
        (V.IN_FORCE, "supersede", V.SUPERSEDED),
    ],
)
def test_fire_version_without_guards(
    state: VersionState, trigger: str, expected: VersionState
) -> None:
    result = fire(VERSION_MACHINE, trigger, state)
    assert result is expected
    assert type(result) is VersionState


@pytest.mark.parametrize(("state", "trigger"), UNDECLARED_VERSION_PAIRS)
def test_fire_version_refuses_every_undeclared_transition(
    state: VersionState, trigger: str
) -> None:
    with pytest.raises(InvalidTransition) as excinfo:
        fire(VERSION_MACHINE, trigger, state, {g: always(True) for g in GUARDS})
    assert excinfo.type is InvalidTransition
    assert state.value in str(excinfo.value)


@pytest.mark.parametrize("state", [B.PENDING, B.REFERRED_BACK, B.TABLED])
@pytest.mark.parametrize(("trigger", "expected"), list(BOARD_TRIGGERS.items()))
def test_fire_board_from_an_open_status(state: BoardStatus, trigger: str, expected: str) -> None:
    result = fire(BOARD_MACHINE, trigger, state)
    assert result == BoardStatus(expected)
    assert type(result) is BoardStatus


@pytest.mark.parametrize("state", [B.APPROVED, B.REJECTED, B.AMENDED, B.UNKNOWN])
@pytest.mark.parametrize("trigger", list(BOARD_TRIGGERS))
def test_fire_board_refuses_after_a_final_decision(state: BoardStatus, trigger: str) -> None:
    with pytest.raises(InvalidTransition):
        fire(BOARD_MACHINE, trigger, state)


# --- fire with guards -----------------------------------------------------------------------


def test_fire_with_guards_that_hold() -> None:
    calls: list[str] = []

    def make(name: str) -> Guard:
        def guard() -> bool:
            calls.append(name)
            return True

        return guard

    result = fire(VERSION_MACHINE, "enter_into_force", V.SENT_OUT, {g: make(g) for g in GUARDS})
    assert result is V.IN_FORCE
    assert sorted(calls) == sorted(GUARDS)


@pytest.mark.parametrize("failing", GUARDS)
def test_fire_with_a_failing_guard_raises_invalid_transition(failing: str) -> None:
    guards = {g: always(g != failing) for g in GUARDS}
    with pytest.raises(InvalidTransition) as excinfo:
        fire(VERSION_MACHINE, "enter_into_force", V.SENT_OUT, guards)
    assert excinfo.type is InvalidTransition
    assert failing in str(excinfo.value)


def test_fire_with_a_failing_guard_raises_the_given_failure() -> None:
    guards = {"all_members_approved": always(True), "predecessor_in_force": always(False)}
    with pytest.raises(PredecessorNotInForce, match="predecessor_in_force"):
        fire(VERSION_MACHINE, "enter_into_force", V.SENT_OUT, guards, failure=PredecessorNotInForce)


def test_fire_checks_the_source_state_before_the_guards() -> None:
    with pytest.raises(InvalidTransition) as excinfo:
        fire(
            VERSION_MACHINE,
            "enter_into_force",
            V.DRAFTED,
            {g: always(True) for g in GUARDS},
            failure=PredecessorNotInForce,
        )
    assert excinfo.type is InvalidTransition


def test_fire_does_not_touch_the_shared_machine() -> None:
    before = transition_table(VERSION_MACHINE)
    fire(VERSION_MACHINE, "send_out", V.DRAFTED)
    fire(VERSION_MACHINE, "enter_into_force", V.SENT_OUT, {g: always(True) for g in GUARDS})
    assert transition_table(VERSION_MACHINE) == before
    assert VERSION_MACHINE.initial == "drafted"


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
    assert names == [f'        state "{s}" as board_{s}' for s in BOARD_MACHINE.states]
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
