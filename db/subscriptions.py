"""Webhook subscriptions: create, find, list, delete, rotate the secret, redeliver.

A board's subscription sees only its own board's; others' are reported as
not found, so their existence is not revealed.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db import models
from db.commands import new_id
from db.engine import Database
from db.models import Delivery, Webhook
from db.queries import View, page
from db.uow import UnitOfWork
from db.webhook_queue import delivery_view
from workflow.actors import Actor, Role
from workflow.delivery import OPEN_DELIVERIES, DeliveryStatus
from workflow.errors import InvalidValue, NotFound, TooManyWebhooks
from workflow.events import Event, EventType

ROTATION_GRACE = timedelta(hours=24)
"""How long the previous secret keeps signing beside the new one."""


def subscription_view(row: Webhook) -> View:
    """A subscription as the API shows it (never its secret)."""
    return {
        "id": row.id,
        "url": row.url,
        "events": row.events,
        "board_id": row.board_id,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "previous_secret_valid_until": row.previous_secret_until,
    }


def owned(session: Session, actor: Actor, webhook_id: str) -> Webhook:
    """The live subscription `webhook_id` if `actor` may manage it; `NotFound` otherwise."""
    row = session.get(Webhook, webhook_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no webhook {webhook_id}")
    if actor.role is Role.BOARD and row.board_id != actor.board_id:
        raise NotFound(f"no webhook {webhook_id}")  # others' subscriptions are invisible
    return row


def create(
    uow: UnitOfWork,
    url: str,
    events: list[str],
    board_id: str | None,
    sealed_secret: str,
    max_per_board: int,
) -> Webhook:
    """Subscribe `url` to `events` (for `board_id`'s versions only, when given), signing
    with the secret in `sealed_secret` (sealed by the caller: the clear one never gets here).

    A board may have at most `max_per_board` live subscriptions, so one key
    cannot fan a decision out to hundreds of receivers; the board's row is
    locked before counting, so concurrent requests cannot both take the last
    place (SQLite's writers queue anyway).
    """
    if board_id is not None:
        board = uow.session.get(models.Board, board_id, with_for_update=True)
        if board is None:
            raise InvalidValue(f"no board {board_id}")
        live = uow.session.scalar(
            select(func.count())
            .select_from(Webhook)
            .where(Webhook.board_id == board_id, Webhook.deleted_at.is_(None))
        )
        if (live or 0) >= max_per_board:
            raise TooManyWebhooks(
                f"board {board_id} has {live} webhooks, the most it may have"
                f" (RATIFY_WEBHOOK_MAX_PER_BOARD={max_per_board}); delete one first"
            )
    row = Webhook(
        id=new_id(),
        url=url,
        events=sorted(set(events)),
        board_id=board_id,
        sealed_secret=sealed_secret,
        created_by=uow.actor.name,
        created_at=uow.now,
    )
    uow.session.add(row)
    data = {"webhook_id": row.id, "url": row.url, "events": row.events}
    uow.record(Event(EventType.WEBHOOK_CREATED, None, None, board_id, data))
    return row


def listing(session: Session, actor: Actor, limit: int, cursor: str | None) -> View:
    """A page of the subscriptions `actor` may see (a board token: its board's)."""
    query = select(Webhook).where(Webhook.deleted_at.is_(None))
    if actor.role is Role.BOARD:
        query = query.where(Webhook.board_id == actor.board_id)
    rows, next_cursor = page(session, query, (Webhook.created_at, Webhook.id), limit, cursor)
    return {"items": [subscription_view(r) for r in rows], "next_cursor": next_cursor}


def delete(uow: UnitOfWork, webhook_id: str) -> None:
    """End a subscription; its open deliveries are dropped, its history kept."""
    row = owned(uow.session, uow.actor, webhook_id)
    row.deleted_at = uow.now
    uow.session.execute(
        update(Delivery)
        .where(Delivery.webhook_id == row.id, Delivery.status.in_(OPEN_DELIVERIES))
        .values(status=DeliveryStatus.FAILED)
        .execution_options(synchronize_session=False)
    )
    uow.record(Event(EventType.WEBHOOK_DELETED, None, None, row.board_id, {"webhook_id": row.id}))


def rotate(uow: UnitOfWork, webhook_id: str, sealed_secret: str) -> Webhook:
    """Sign with the secret in `sealed_secret` from now on; the old secret keeps signing
    for `ROTATION_GRACE` (the event says until when), then it is cleared."""
    row = owned(uow.session, uow.actor, webhook_id)
    row.sealed_previous_secret = row.sealed_secret
    row.previous_secret_until = uow.now + ROTATION_GRACE
    row.sealed_secret = sealed_secret
    until = row.previous_secret_until.isoformat().replace("+00:00", "Z")
    data = {"webhook_id": row.id, "previous_secret_valid_until": until}
    uow.record(Event(EventType.WEBHOOK_SECRET_ROTATED, None, None, row.board_id, data))
    return row


def forget_expired_secrets(db: Database, now: datetime) -> int:
    """Clear every previous secret whose overlap has ended by `now`; how many were cleared.

    No event: the rotation's `webhook.secret_rotated` already recorded when the
    old secret stops signing (`previous_secret_valid_until`), and deliveries
    stop using it at that instant whether or not this has run yet
    (`webhook_queue.signing_secrets`); this only removes what no longer signs.
    """
    with db.writes() as session:
        cleared = session.execute(
            update(Webhook)
            .where(Webhook.previous_secret_until <= now)
            .values(sealed_previous_secret=None, previous_secret_until=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return int(getattr(cleared, "rowcount", 0) or 0)


def reseal_all(db: Database, reseal: Callable[[str], str]) -> int:
    """Seal every stored secret anew with `reseal` (after a sealing key rotation); how many."""
    count = 0
    with db.writes() as session:
        for row in session.scalars(select(Webhook).order_by(Webhook.id)):
            row.sealed_secret = reseal(row.sealed_secret)
            if row.sealed_previous_secret is not None:
                row.sealed_previous_secret = reseal(row.sealed_previous_secret)
            count += 1
        session.commit()
    return count


def deliveries(
    session: Session, actor: Actor, webhook_id: str, limit: int, cursor: str | None
) -> View:
    """A page of the subscription's deliveries in event order, each with its attempts."""
    hook = owned(session, actor, webhook_id)
    query = select(Delivery).where(Delivery.webhook_id == hook.id)
    rows, next_cursor = page(session, query, (Delivery.id,), limit, cursor)
    return {"items": [delivery_view(session, r) for r in rows], "next_cursor": next_cursor}


def redeliver(uow: UnitOfWork, webhook_id: str, delivery_id: int) -> View:
    """Send a delivery again now, with a fresh round of retries."""
    hook = owned(uow.session, uow.actor, webhook_id)
    delivery = uow.session.get(Delivery, delivery_id)
    if delivery is None or delivery.webhook_id != hook.id:
        raise NotFound(f"no delivery {delivery_id}")
    delivery.status, delivery.next_attempt_at, delivery.lease_until = (
        DeliveryStatus.PENDING,
        uow.now,
        None,
    )
    delivery.attempts = 0
    return delivery_view(uow.session, delivery)
