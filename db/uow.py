"""The unit of work: one transaction per command, the only place that commits."""

from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy.orm import Session

from db import audit
from db.engine import Database
from db.repositories import VersionRepository
from workflow.actors import Actor
from workflow.events import Event


class UnitOfWork:
    """Runs one command: `with UnitOfWork(...) as uow: ...; uow.commit()`.

    On commit, the versions the command touched are stored, every event they
    recorded (plus any added with `record`) goes to the audit trail, and the
    database's outbox writers turn those events into e-mails or deliveries to
    send, all in the same transaction. Leaving the block without commit rolls
    back.
    """

    session: Session
    versions: VersionRepository

    def __init__(
        self,
        db: Database,
        actor: Actor,
        now: datetime,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.actor = actor
        self.now = now
        self.context = context
        self._events: list[Event] = []

    def __enter__(self) -> Self:
        self.session = self.db.writes()
        self.versions = VersionRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def record(self, event: Event) -> None:
        """Add an event that no version recorded (e.g. `program.created`)."""
        self._events.append(event)

    def flush(self) -> None:
        """Write changes and events so far, without committing."""
        self.versions.store(self.actor, self.now)
        events = self._events + self.versions.collect_events()
        self._events = []
        rows = audit.append(self.session, events, self.actor, self.now, self.context)
        if rows:
            for writer in self.db.outbox_writers:
                writer(self.session, rows)

    def commit(self) -> None:
        """Write everything the command did and commit it."""
        self.flush()
        self.session.commit()
