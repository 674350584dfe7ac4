"""Reminders: what was sent, is waiting, failed or was coalesced, per version."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import auth
from api.deps import SessionDep
from api.routes.common import Cursor, Limit, json_response, version_or_404
from api.routing import Router
from db.reminders import list_reminders
from workflow.actors import Actor
from workflow.delivery import ReminderKind, ReminderStatus

router = Router(prefix="/v1/versions", tags=["reminders"])


class Reminder(BaseModel):
    """One reminder slot of one board.

    `kind` is `before` (on or before the answer date) or `overdue`; `slot` is
    the slot's offset in days from `respond_by`. `status`: `pending` (queued,
    or waiting to retry), `sending`, `sent`, `failed` (gave up after the
    configured attempts), `coalesced` (due while a later slot was also due:
    never sent) or `cancelled` (the board decided, or the version left
    `sent_out`, before it went out).
    """

    board_id: str
    kind: ReminderKind
    slot: int
    scheduled_for: datetime
    sent_at: datetime | None
    status: ReminderStatus
    attempts: int
    last_error: str | None
    message_id: Annotated[str | None, Field(description="the e-mail's Message-ID")]


class ReminderPage(BaseModel):
    items: list[Reminder]
    next_cursor: str | None


@router.get("/{version_id}/reminders", response_model=ReminderPage, operation_id="list_reminders")
def list_version_reminders(
    version_id: str,
    session: SessionDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The version's reminders to boards that had not decided, in the order scheduled."""
    version_or_404(session, version_id)
    return json_response(list_reminders(session, version_id, limit, cursor))
