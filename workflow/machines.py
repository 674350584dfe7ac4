"""The two state machines, declared once with `transitions`.

Each `Machine` has no model: it is the rules table. `fire` looks up the
transition for a trigger in the current state, checks its guards by name and
returns the destination; the diagram route draws the same tables.
"""

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from transitions import Machine

from workflow.errors import InvalidTransition
from workflow.states import BoardStatus, VersionState

S = TypeVar("S", bound=StrEnum)

_V = VersionState  # transitions takes plain strings: an Enum would be named by .name
VERSION_MACHINE = Machine(
    model=None,
    states=[s.value for s in VersionState],
    initial=_V.DRAFTED.value,
    auto_transitions=False,
    transitions=[
        {"trigger": "send_out", "source": _V.DRAFTED.value, "dest": _V.SENT_OUT.value},
        {
            "trigger": "withdraw",
            "source": [_V.DRAFTED.value, _V.SENT_OUT.value],
            "dest": _V.WITHDRAWN.value,
        },
        {
            "trigger": "enter_into_force",
            "source": _V.SENT_OUT.value,
            "dest": _V.IN_FORCE.value,
            "conditions": ["all_members_approved", "predecessor_in_force"],
        },
        {"trigger": "reject", "source": _V.SENT_OUT.value, "dest": _V.REJECTED.value},
        {"trigger": "supersede", "source": _V.IN_FORCE.value, "dest": _V.SUPERSEDED.value},
    ],
)
"""Program version: drafted → sent_out → in_force → superseded, or rejected / withdrawn."""

_B = BoardStatus
_OPEN = [_B.PENDING.value, _B.REFERRED_BACK.value, _B.TABLED.value]
BOARD_MACHINE = Machine(
    model=None,
    states=[s.value for s in BoardStatus if s is not _B.UNKNOWN],
    initial=_B.PENDING.value,
    auto_transitions=False,
    transitions=[
        {"trigger": "approve", "source": _OPEN, "dest": _B.APPROVED.value},
        {"trigger": "reject", "source": _OPEN, "dest": _B.REJECTED.value},
        {"trigger": "amend", "source": _OPEN, "dest": _B.AMENDED.value},
        {"trigger": "refer_back", "source": _OPEN, "dest": _B.REFERRED_BACK.value},
        {"trigger": "table", "source": _OPEN, "dest": _B.TABLED.value},
    ],
)
"""One board on one version: pending → approved | rejected | amended, or back to decide later."""

Guard = Callable[[], bool]


def fire(
    machine: Machine,
    trigger: str,
    state: S,
    guards: Mapping[str, Guard] | None = None,
    failure: type[InvalidTransition] = InvalidTransition,
) -> S:
    """Return the state that `trigger` leads to from `state`, or raise.

    Guards are looked up by the condition names of the declaration; when
    one fails, `failure` (default `InvalidTransition`) is raised.
    """
    candidates = machine.get_transitions(trigger=trigger, source=state.value)
    if not candidates:
        raise InvalidTransition(f"cannot {trigger.replace('_', ' ')} from {state.value}")
    transition: Any = candidates[0]
    for condition in transition.conditions:
        check = (guards or {})[condition.func]
        if check() != condition.target:
            raise failure(f"cannot {trigger.replace('_', ' ')}: {condition.func} is not met")
    return type(state)(transition.dest)


def transition_table(machine: Machine) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """List (source, trigger, dest, guard names) for every declared transition."""
    rows: list[tuple[str, str, str, tuple[str, ...]]] = []
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                guards = tuple(str(c.func) for c in t.conditions)
                rows.append((source, name, str(t.dest), guards))
    return rows
