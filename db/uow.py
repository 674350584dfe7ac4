"""The unit of work: one transaction per command, the only place that commits.

It is also the one path every event takes, whoever caused it (a request, a
CLI command, the scheduler): `record` an event or let a version record it,
and `commit` appends it to the audit trail and hands it to the outbox
writers (e-mails, reminder schedules, webhook deliveries) in the same
transaction.
"""

from datetime import datetime
from types import TracebackType
from typing import Any, Self

import structlog
from sqlalchemy.orm import Session

from db import audit
from db.engine import Database
from db.repositories import VersionRepository
from workflow.actors import Actor
from workflow.events import Event

log = structlog.get_logger(__name__)


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
        self._log_context: list[Any] = []
        self._appended: list[str] = []

    def __enter__(self) -> Self:
        self.session = self.db.writes()
        self.versions = VersionRepository(self.session)
        self.bind(actor=self.actor.name)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()
        for tokens in reversed(self._log_context):
            structlog.contextvars.reset_contextvars(**tokens)

    def bind(self, **context: str | None) -> None:
        """Name what this unit of work is about (actor, version, board) on every log line
        written while it runs, so one decision's lines can be found together."""
        self._log_context.append(structlog.contextvars.bind_contextvars(**context))

    def record(self, event: Event) -> None:
        """Add an event that no version recorded (e.g. `program.created`, `key.revoked`)."""
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
            self._appended.extend(str(row.type) for row in rows)

    def commit(self) -> None:
        """Write everything the command did and commit it."""
        self.flush()
        self.session.commit()
        if self._appended:
            log.info("committed", events=self._appended)
