"""Webhook subscriptions: create, list, show, delete, rotate the secret, deliveries, redeliver."""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import Field

from api import auth
from api.deps import SessionDep
from api.openapi import WebhookEventName, headers, problems
from api.responses import Delivery, DeliveryPage, Webhook, WebhookPage, WebhookWithSecret
from api.routes.common import Cursor, Limit, NumericId, json_response
from api.routing import Router
from api.schemas import In, Slug, Url
from api.writes import Result, WriteDep
from db import subscriptions
from db.sealing import Sealer
from db.uow import UnitOfWork
from notifications.config import Config
from notifications.webhook_delivery import check_target, generate_secret
from workflow.actors import Actor, Role
from workflow.errors import InvalidValue
from workflow.events import EventType

router = Router(prefix="/v1/webhooks", tags=["webhooks"])
MANAGE = auth.Allow(Role.BOARD)
"""Admin for any subscription; a board token for its own board's."""


class WebhookIn(In):
    url: Url
    events: Annotated[list[WebhookEventName], Field(min_length=1, max_length=50)]
    board_id: Slug | None = Field(default=None, description="admin only: act for this board")


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecret,
    operation_id="create_webhook",
    responses=problems(InvalidValue, "forbidden_board") | headers(201, "Location"),
)
def create_webhook(
    body: WebhookIn,
    request: Request,
    write: WriteDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """Subscribe a URL to event types (or `*`); the signing `secret` is shown only here.

    The secret is stored sealed and never in the answer kept for
    `Idempotency-Key`: a replay answers the same subscription with
    `"secret": null` and `secret_withheld` saying why (rotate the secret if
    the first answer was lost).
    """
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
    sealer: Sealer = request.app.state.config.webhooks.sealer

    def command(uow: UnitOfWork) -> Result:
        secret = generate_secret()
        row = subscriptions.create(
            uow,
            body.url,
            body.events,
            board_id,
            sealer.seal(secret),
            config.webhooks.max_per_board,
        )
        view = subscriptions.subscription_view(row)
        return _with_secret(201, view, secret, location=f"/v1/webhooks/{row.id}")

    return write(actor, body, command)


WITHHELD_NOTE = (
    "the signing secret is shown once, in the first answer, and is not kept for replays;"
    " POST /v1/webhooks/{id}/rotate-secret for a new one"
)


def _with_secret(
    status: int, view: dict[str, Any], secret: str, location: str | None = None
) -> Result:
    """An answer that shows `secret` once; its replay says the secret is withheld."""
    return Result(
        status,
        {**view, "secret": secret},
        location=location,
        replay={**view, "secret": None, "secret_withheld": WITHHELD_NOTE},
    )


@router.get("", response_model=WebhookPage, operation_id="list_webhooks")
def list_webhooks(
    session: SessionDep,
    actor: Annotated[Actor, Depends(MANAGE)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The subscriptions this token may see (a board token: its board's)."""
    return json_response(subscriptions.listing(session, actor, limit, cursor))


@router.get("/{webhook_id}", response_model=Webhook, operation_id="get_webhook")
def get_webhook(
    webhook_id: str, session: SessionDep, actor: Annotated[Actor, Depends(MANAGE)]
) -> Response:
    """One subscription (without its secret)."""
    return json_response(
        subscriptions.subscription_view(subscriptions.owned(session, actor, webhook_id))
    )


@router.delete("/{webhook_id}", status_code=204, operation_id="delete_webhook")
def delete_webhook(
    webhook_id: str,
    write: WriteDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """End a subscription; its open deliveries are dropped, its history kept."""

    def command(uow: UnitOfWork) -> Result:
        subscriptions.delete(uow, webhook_id)
        return Result(204, None)

    return write(actor, None, command)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    operation_id="rotate_webhook_secret",
)
def rotate_secret(
    webhook_id: str,
    request: Request,
    write: WriteDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """A new signing `secret`, shown only here; the old one keeps signing beside it for
    24 hours, then it is cleared. A replay answers `"secret": null` (see `create_webhook`)."""
    sealer: Sealer = request.app.state.config.webhooks.sealer

    def command(uow: UnitOfWork) -> Result:
        secret = generate_secret()
        row = subscriptions.rotate(uow, webhook_id, sealer.seal(secret))
        return _with_secret(200, subscriptions.subscription_view(row), secret)

    return write(actor, None, command)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, operation_id="list_deliveries")
def list_deliveries(
    webhook_id: str,
    session: SessionDep,
    actor: Annotated[Actor, Depends(MANAGE)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Deliveries in event order, each with its attempts (time, status code, first 1 kB)."""
    return json_response(subscriptions.deliveries(session, actor, webhook_id, limit, cursor))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=Delivery,
    operation_id="redeliver",
)
def redeliver(
    webhook_id: str,
    delivery_id: NumericId,
    write: WriteDep,
    actor: Annotated[Actor, Depends(MANAGE)],
) -> Response:
    """Queue a delivery again now, with a fresh round of retries."""

    def command(uow: UnitOfWork) -> Result:
        return Result(202, subscriptions.redeliver(uow, webhook_id, delivery_id))

    return write(actor, None, command)
