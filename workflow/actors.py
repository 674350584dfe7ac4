"""Who acts: the roles of the contract and the actor recorded on every write."""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a token may do (see the contract's role table)."""

    ADMIN = "admin"
    SECRETARIAT = "secretariat"
    BOARD = "board"
    AUDITOR = "auditor"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """The name, role and (for a board token) board of whoever made a change."""

    name: str
    role: Role
    board_id: str | None = None


SYSTEM = Actor(name="ratify", role=Role.SYSTEM)
"""The service itself: seeding, imports, scheduled work."""
