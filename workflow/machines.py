"""The two state machines, declared once with `transitions`: the rules tables.

Each `Machine` is built with `model=None`: it is the rules table for every
version (or board) there is, never a machine per object. `fire` runs a
trigger on a domain object through `transitions` itself, which finds the
transition from the object's `state` and checks its guards (the object's
methods named in `conditions`); the status page's transition table and the
diagram are drawn from the same declarations.
"""

from typing import Any

from transitions import Machine, MachineError

from workflow.errors import InvalidTransition
from workflow.states import BoardStatus, VersionState

V = VersionState
VERSION_RULES: dict[str, Any] = {
    "states": VersionState,
    "initial": V.DRAFTED,
    "transitions": [
        {"trigger": "send_out", "source": V.DRAFTED, "dest": V.SENT_OUT},
        {"trigger": "withdraw", "source": [V.DRAFTED, V.SENT_OUT], "dest": V.WITHDRAWN},
        {
            "trigger": "enter_into_force",
            "source": V.SENT_OUT,
            "dest": V.IN_FORCE,
            "conditions": ["all_members_approved", "predecessor_in_force"],
        },
        {
            "trigger": "reject",
            "source": V.SENT_OUT,
            "dest": V.REJECTED,
            "conditions": ["a_member_rejected"],
        },
        {"trigger": "supersede", "source": V.IN_FORCE, "dest": V.SUPERSEDED},
        {
            "trigger": "reopen",
            "source": V.IN_FORCE,
            "dest": V.SENT_OUT,
            "conditions": ["entered_here"],
            "unless": ["all_members_approved"],
        },
        {
            "trigger": "reopen",
            "source": V.REJECTED,
            "dest": V.SENT_OUT,
            "unless": ["a_member_rejected"],
        },
        {
            "trigger": "reinstate",
            "source": V.SUPERSEDED,
            "dest": V.IN_FORCE,
            "conditions": ["successor_reopened"],
        },
    ],
}
"""Program version: drafted → sent_out → in_force → superseded, or rejected / withdrawn;
a court's annulment of a decision reopens it, and puts back the version it had superseded."""

B = BoardStatus
_OPEN = [B.PENDING, B.REFERRED_BACK, B.TABLED, B.ANNULLED]
BOARD_RULES: dict[str, Any] = {
    "states": [s for s in BoardStatus if s is not B.UNKNOWN],
    "initial": B.PENDING,
    "transitions": [
        {"trigger": "approve", "source": _OPEN, "dest": B.APPROVED},
        {"trigger": "reject", "source": _OPEN, "dest": B.REJECTED},
        {"trigger": "amend", "source": _OPEN, "dest": B.AMENDED},
        {"trigger": "refer_back", "source": _OPEN, "dest": B.REFERRED_BACK},
        {"trigger": "table", "source": _OPEN, "dest": B.TABLED},
        {"trigger": "annul", "source": [B.APPROVED, B.REJECTED, B.AMENDED], "dest": B.ANNULLED},
    ],
}
"""One board on one version: pending → approved | rejected | amended, or back to decide
later; a court's annulment leaves the board to decide again."""

VERSION_MACHINE = Machine(model=None, auto_transitions=False, **VERSION_RULES)
BOARD_MACHINE = Machine(model=None, auto_transitions=False, **BOARD_RULES)


def fire(machine: Machine, trigger: str, model: object, **context: Any) -> bool:
    """Run `trigger` on `model` (an object with a `state`) by the rules table.

    True when the model moved, False when a guard held it where it was;
    `InvalidTransition` when the table has no such transition from its state.
    `context` is passed to the guards.
    """
    state = getattr(model, "state", None)
    refused = InvalidTransition(
        f"cannot {trigger.replace('_', ' ')} from {getattr(state, 'value', state)}"
    )
    if str(getattr(state, "name", state)) not in machine.states or trigger not in machine.events:
        raise refused  # a state the table does not know (`unknown`), or no such trigger
    try:
        return bool(machine.events[trigger].trigger(model, **context))
    except MachineError:
        raise refused from None


def transition_table(machine: Machine) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """List (source, trigger, dest, guard names) for every declared transition, by value."""
    rows: list[tuple[str, str, str, tuple[str, ...]]] = []
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                guards = tuple(("" if c.target else "not ") + str(c.func) for c in t.conditions)
                rows.append((_value(machine, source), name, _value(machine, t.dest), guards))
    return rows


def initial(machine: Machine) -> str:
    """The machine's initial state, by value."""
    return _value(machine, machine.initial)


def states(machine: Machine) -> list[str]:
    """The machine's states by value, in declaration order."""
    return [_value(machine, name) for name in machine.states]


def _value(machine: Machine, name: str | None) -> str:
    return str(machine.states[str(name)].value)
