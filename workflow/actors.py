"""Who acts: the roles of the contract and the actor recorded on every write."""

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a token may do (see the contract's role table)."""

    ADMIN = "admin"
    SECRETARIAT = "secretariat"
    BOARD = "board"
    AUDITOR = "auditor"
    SYSTEM = "system"


PERSON_PREFIX = "person:"
"""Starts the `identity` of a person; no API key's name may start with it."""


@dataclass(frozen=True, slots=True)
class Actor:
    """The name, role and (for a board) board of whoever made a change.

    An API key (a system, or the service itself) is known by its name alone.
    A person signed in through the identity provider also has a `subject`
    (the provider's `sub`, stable and unique there) and an `email`; `name`
    is then their display name, which two people may share.
    """

    name: str
    role: Role
    board_id: str | None = None
    subject: str | None = None
    email: str | None = None

    @property
    def is_person(self) -> bool:
        """Whether a person signed in through the identity provider (not an API key)."""
        return self.subject is not None

    @property
    def identity(self) -> str:
        """What tells this actor from every other one (idempotency keys are kept per identity).

        A key's name is unique; a person is told apart by the subject, never
        by a display name (fixed length, so any `sub` fits the column).
        """
        if self.subject is None:
            return self.name
        return PERSON_PREFIX + hashlib.sha256(self.subject.encode()).hexdigest()


SYSTEM = Actor(name="ratify", role=Role.SYSTEM)
"""The service itself: seeding, imports, scheduled work."""
