"""Webhook subscriptions: create, list, show, delete, rotate the secret, deliveries, redeliver."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import auth
from api.deps import ClockDep, DbDep, InfoDep, SessionDep
from api.routes.common import Cursor, Limit, json_response
from api.schemas import In, Slug, Url
from api.writes import Result, run_write
from db import commands, models, queries
from db.uow import UnitOfWork
from db.webhooks import Delivery, Webhook, webhook_view
from notifications import webhooks
from workflow.actors import Actor, Role
from workflow.errors import InvalidValue, NotFound
from workflow.events import Event

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
MANAGE = auth.Allow(Role.BOARD)
"""Admin for any subscription; a board token for its own board's."""

EVENT_TYPES = {
    "board.created", "program.created", "version.drafted", "version.imported", "version.sent_out",
    "decision.recorded", "decision.imported", "version.in_force", "version.superseded",
    "version.rejected", "version.withdrawn", "reminder.sent", "reminder.failed", "mail.sent",
    "key.created", "key.revoked", "webhook.created", "webhook.deleted", "webhook.secret_rotated",
}  # fmt: skip


class WebhookIn(In):
    url: Url
    events: Annotated[list[str], Field(min_length=1, max_length=50)]
    board_id: Slug | None = Field(default=None, description="admin only: act for this board")


def _owned(session: Session, actor: Actor, webhook_id: str) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no webhook {webhook_id}")
    if actor.role is Role.BOARD and row.board_id != actor.board_id:
        raise NotFound(f"no webhook {webhook_id}")  # others' subscriptions are invisible
    return row


def _allowed_hosts(request: Request) -> frozenset[str]:
    hosts: str = request.app.state.settings.webhook_allowed_hosts
    return frozenset(h.strip().lower() for h in hosts.split(",") if h.strip())


@router.post("", status_code=201)
def create_webhook(
    body: WebhookIn,
    request: Request,
    db: DbDep,
    clock: ClockDep,
    info: InfoDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """Subscribe a URL to event types (or `*`); the signing `secret` is shown only here."""
    unknown = [e for e in body.events if e != "*" and e not in EVENT_TYPES]
    if unknown:
        raise InvalidValue(f"unknown event types: {', '.join(unknown)}")
    if actor.role is Role.BOARD:
        if body.board_id not in (None, actor.board_id):
            auth.check_board(actor, body.board_id or "")
        board_id = actor.board_id
    else:
        board_id = body.board_id
    webhooks.check_target(body.url, _allowed_hosts(request))

    def command(uow: UnitOfWork) -> Result:
        if board_id is not None and uow.session.get(models.Board, board_id) is None:
            raise InvalidValue(f"no board {board_id}")
        row = Webhook(
            id=commands.new_id(),
            url=body.url,
            events=sorted(set(body.events)),
            board_id=board_id,
            secret=webhooks.generate_secret(),
            created_by=uow.actor.name,
            created_at=uow.now,
        )
        uow.session.add(row)
        data = {"webhook_id": row.id, "url": row.url, "events": row.events}
        uow.record(Event("webhook.created", None, None, board_id, data))
        return Result(
            201, {**webhook_view(row), "secret": row.secret}, location=f"/v1/webhooks/{row.id}"
        )

    return run_write(db, clock, actor, info, body, command)


@router.get("")
def list_webhooks(
    session: SessionDep,
    actor: Annotated[Actor, Depends(MANAGE)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The subscriptions this token may see (a board token: its board's)."""
    query = select(Webhook).where(Webhook.deleted_at.is_(None))
    if actor.role is Role.BOARD:
        query = query.where(Webhook.board_id == actor.board_id)
    rows, next_cursor = queries.page(
        session, query, (Webhook.created_at, Webhook.id), limit, cursor
    )
    return json_response({"items": [webhook_view(r) for r in rows], "next_cursor": next_cursor})


@router.get("/{webhook_id}")
def get_webhook(
    webhook_id: str, session: SessionDep, actor: Annotated[Actor, Depends(MANAGE)]
) -> Response:
    """One subscription (without its secret)."""
    return json_response(webhook_view(_owned(session, actor, webhook_id)))


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(
    webhook_id: str,
    db: DbDep,
    clock: ClockDep,
    info: InfoDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """End a subscription; its open deliveries are dropped, its history kept."""

    def command(uow: UnitOfWork) -> Result:
        row = _owned(uow.session, actor, webhook_id)
        row.deleted_at = uow.now
        for delivery in uow.session.scalars(
            select(Delivery).where(
                Delivery.webhook_id == row.id, Delivery.status.in_(webhooks.OPEN)
            )
        ):
            delivery.status = "failed"
        uow.record(Event("webhook.deleted", None, None, row.board_id, {"webhook_id": row.id}))
        return Result(204, None)

    run_write(db, clock, actor, info, None, command)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret")
def rotate_secret(
    webhook_id: str,
    db: DbDep,
    clock: ClockDep,
    info: InfoDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """A new signing secret; the old one stays valid (both sign) for 24 hours."""

    def command(uow: UnitOfWork) -> Result:
        row = _owned(uow.session, actor, webhook_id)
        row.previous_secret, row.previous_secret_until = (
            row.secret,
            uow.now + webhooks.ROTATION_GRACE,
        )
        row.secret = webhooks.generate_secret()
        uow.record(
            Event("webhook.secret_rotated", None, None, row.board_id, {"webhook_id": row.id})
        )
        return Result(200, {**webhook_view(row), "secret": row.secret})

    return run_write(db, clock, actor, info, None, command)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: str,
    session: SessionDep,
    actor: Annotated[Actor, Depends(MANAGE)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Deliveries in event order, each with its attempts (time, status code, first 1 kB)."""
    hook = _owned(session, actor, webhook_id)
    query = select(Delivery).where(Delivery.webhook_id == hook.id)
    rows, next_cursor = queries.page(session, query, (Delivery.id,), limit, cursor)
    return json_response(
        {"items": [webhooks.attempts_view(session, r) for r in rows], "next_cursor": next_cursor}
    )


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202)
def redeliver(
    webhook_id: str,
    delivery_id: int,
    db: DbDep,
    clock: ClockDep,
    info: InfoDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """Queue a delivery again now, with a fresh round of retries."""

    def command(uow: UnitOfWork) -> Result:
        hook = _owned(uow.session, actor, webhook_id)
        delivery = uow.session.get(Delivery, delivery_id)
        if delivery is None or delivery.webhook_id != hook.id:
            raise NotFound(f"no delivery {delivery_id}")
        webhooks.redeliver(uow.session, delivery, uow.now)
        return Result(202, webhooks.attempts_view(uow.session, delivery))

    return run_write(db, clock, actor, info, None, command)
