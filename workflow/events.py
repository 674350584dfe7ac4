"""Domain events: what happened, recorded by commands, written by the unit of work."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One fact for the audit trail, e.g. `version.in_force`."""

    type: str
    program_id: str | None
    version_id: str | None = None
    board_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
