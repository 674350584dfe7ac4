"""The webhook outbox writer: one delivery per (subscription, event) it wants.

Installed by the composition root (`api.bootstrap`) and run by the unit of
work before commit, so a delivery exists exactly when its event does. A
subscription bound to a board gets only the events of versions its board is
a member of.
"""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from db import models
from db.queries import member_boards
from db.webhook_queue import Subscriber, insert_deliveries, subscribers


def wants(hook: Subscriber, event: models.Event, members: set[str] | None) -> bool:
    """Whether `hook` is to receive `event`; `members` are the boards of the event's program."""
    if "*" not in hook.events and event.type not in hook.events:
        return False
    if hook.board_id is None:
        return True
    return event.version_id is not None and members is not None and hook.board_id in members


class WebhookWriter:
    """The outbox writer (an `OutboxWriter`) for webhook deliveries."""

    def __call__(self, session: Session, rows: Sequence[models.Event]) -> None:
        hooks = subscribers(session)
        if not hooks:
            return
        members: dict[str, set[str]] = {}
        if any(h.board_id is not None for h in hooks):
            programs = {row.program_id for row in rows if row.program_id is not None}
            members = {
                program_id: {b.id for b in boards}
                for program_id, boards in member_boards(session, programs).items()
            }
        insert_deliveries(
            session,
            [
                (hook.id, row)
                for row in rows
                for hook in hooks
                if wants(hook, row, members.get(row.program_id or ""))
            ],
        )
