"""Webhook subscriptions: create, list, show, delete, rotate the secret, deliveries, redeliver."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field

from api import auth
from api.deps import ClockDep, DbDep, InfoDep, SessionDep
from api.routes.common import Cursor, Limit, NumericId, json_response
from api.schemas import In, Slug, Url
from api.writes import Result, run_write
from db import subscriptions
from db.uow import UnitOfWork
from notifications.config import Config
from notifications.webhook_delivery import check_target, generate_secret
from workflow.actors import Actor, Role
from workflow.errors import InvalidValue
from workflow.events import EventType

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
MANAGE = auth.Allow(Role.BOARD)
"""Admin for any subscription; a board token for its own board's."""


class WebhookIn(In):
    url: Url
    events: Annotated[list[str], Field(min_length=1, max_length=50)]
    board_id: Slug | None = Field(default=None, description="admin only: act for this board")


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
    unknown = [e for e in body.events if e != "*" and e not in set(EventType)]
    if unknown:
        raise InvalidValue(f"unknown event types: {', '.join(unknown)}")
    if actor.role is Role.BOARD:
        if body.board_id not in (None, actor.board_id):
            auth.check_board(actor, body.board_id or "")
        board_id = actor.board_id
    else:
        board_id = body.board_id
    config: Config = request.app.state.config
    check_target(body.url, config.webhooks.allowed_hosts)

    def command(uow: UnitOfWork) -> Result:
        row = subscriptions.create(
            uow, body.url, body.events, board_id, generate_secret(), config.webhooks.max_per_board
        )
        view = {**subscriptions.subscription_view(row), "secret": row.secret}
        return Result(201, view, location=f"/v1/webhooks/{row.id}")

    return run_write(db, clock, actor, info, body, command)


@router.get("")
def list_webhooks(
    session: SessionDep,
    actor: Annotated[Actor, Depends(MANAGE)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The subscriptions this token may see (a board token: its board's)."""
    return json_response(subscriptions.listing(session, actor, limit, cursor))


@router.get("/{webhook_id}")
def get_webhook(
    webhook_id: str, session: SessionDep, actor: Annotated[Actor, Depends(MANAGE)]
) -> Response:
    """One subscription (without its secret)."""
    return json_response(
        subscriptions.subscription_view(subscriptions.owned(session, actor, webhook_id))
    )


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
        subscriptions.delete(uow, webhook_id)
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
        row = subscriptions.rotate(uow, webhook_id, generate_secret())
        return Result(200, {**subscriptions.subscription_view(row), "secret": row.secret})

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
    return json_response(subscriptions.deliveries(session, actor, webhook_id, limit, cursor))


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202)
def redeliver(
    webhook_id: str,
    delivery_id: NumericId,
    db: DbDep,
    clock: ClockDep,
    info: InfoDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """Queue a delivery again now, with a fresh round of retries."""

    def command(uow: UnitOfWork) -> Result:
        return Result(202, subscriptions.redeliver(uow, webhook_id, delivery_id))

    return run_write(db, clock, actor, info, None, command)
