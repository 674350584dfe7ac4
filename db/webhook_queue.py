"""Webhook deliveries as a queue: rows written with the events, claimed under a lease,
one attempt recorded at a time.

`claim` takes, for each subscription, only its oldest open delivery, so each
subscription receives its events in `seq` order and a failing receiver holds
back only its own later events. Rows are leased (`delivering` until
`lease_until`), so a process that dies mid-send leaves a delivery that is
taken again after the lease: at least once, never lost.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select
from sqlalchemy.orm import Session, aliased

from db import models
from db.base import table_of
from db.engine import Database
from db.models import Attempt, Delivery, Webhook
from db.queries import View
from workflow.delivery import OPEN_DELIVERIES, DeliveryStatus

_LIVE = select(Webhook.id, Webhook.events, Webhook.board_id).where(Webhook.deleted_at.is_(None))
_INSERT_DELIVERY = insert(table_of(Delivery))
"""Built once: every write runs them."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A live subscription as the outbox writer sees it."""

    id: str
    events: frozenset[str]
    board_id: str | None


def subscribers(session: Session) -> list[Subscriber]:
    """Every live subscription: its event types (`*` for all) and board, if bound to one."""
    return [
        Subscriber(row.id, frozenset(row.events), row.board_id)
        for row in session.connection().execute(_LIVE)
    ]


def insert_deliveries(session: Session, wanted: Sequence[tuple[str, models.Event]]) -> None:
    """One pending delivery per (subscription id, event), due when the event happened."""
    if wanted:
        session.connection().execute(
            _INSERT_DELIVERY,
            [
                {
                    "webhook_id": webhook_id,
                    "event_seq": event.seq,
                    "event_type": event.type,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": event.at,
                    "created_at": event.at,
                }
                for webhook_id, event in wanted
            ],
        )


@dataclass(frozen=True)
class DeliveryClaim:
    """A delivery taken for sending: everything needed without the database."""

    delivery_id: int
    url: str
    event: models.Event
    sealed_secrets: tuple[str, ...]
    """The current signing secret and, during its overlap, the previous one; still sealed."""
    attempts: int


def claim(db: Database, now: datetime, lease: timedelta, limit: int) -> list[DeliveryClaim]:
    """Take due deliveries, the oldest open one per subscription, under a lease."""
    d, earlier = Delivery, aliased(Delivery)
    due = or_(
        and_(d.status == DeliveryStatus.PENDING, d.next_attempt_at <= now),
        and_(d.status == DeliveryStatus.DELIVERING, d.lease_until < now),
    )
    blocked = exists().where(
        earlier.webhook_id == d.webhook_id,
        earlier.status.in_(OPEN_DELIVERIES),
        earlier.event_seq < d.event_seq,
    )
    claimed = []
    with db.writes() as session:
        query = (
            select(d)
            .where(d.status.in_(OPEN_DELIVERIES), due, ~blocked)
            .order_by(d.next_attempt_at)
            .limit(limit)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=d)
        for row in session.scalars(query):
            hook = session.get_one(Webhook, row.webhook_id)
            event = session.get_one(models.Event, row.event_seq)
            row.status, row.lease_until = DeliveryStatus.DELIVERING, now + lease
            row.first_attempt_at = row.first_attempt_at or now
            claimed.append(
                DeliveryClaim(row.id, hook.url, event, signing_secrets(hook, now), row.attempts)
            )
        session.commit()
    return claimed


def signing_secrets(hook: Webhook, now: datetime) -> tuple[str, ...]:
    """The sealed secrets that sign at `now`: the current one, and the previous one only
    while its overlap lasts (never once it has ended, even before the sweep clears it)."""
    keys = [hook.sealed_secret]
    until = hook.previous_secret_until
    if hook.sealed_previous_secret and until is not None and until > now:
        keys.append(hook.sealed_previous_secret)
    return tuple(keys)


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt gave."""

    status_code: int | None
    error: str | None
    response: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def record(
    db: Database,
    item: DeliveryClaim,
    result: AttemptResult,
    now: datetime,
    wait_after: Callable[[int], timedelta | None],
) -> None:
    """Store the attempt; then the delivery is delivered, retried after
    `wait_after(attempts)`, or (when that is None) failed."""
    with db.writes() as session:
        row = session.get_one(Delivery, item.delivery_id)
        session.add(
            Attempt(
                delivery_id=row.id,
                at=now,
                status_code=result.status_code,
                error=result.error,
                response=result.response,
                duration_ms=result.duration_ms,
            )
        )
        row.attempts += 1
        row.lease_until = None
        wait = None if result.ok else wait_after(row.attempts)
        if result.ok:
            row.status, row.delivered_at = DeliveryStatus.DELIVERED, now
        elif wait is None:
            row.status = DeliveryStatus.FAILED
        else:
            row.status, row.next_attempt_at = DeliveryStatus.PENDING, now + wait
        session.commit()


def delivery_view(session: Session, delivery: Delivery) -> View:
    """A delivery with each attempt's time, status code and the first 1 kB of the answer."""
    attempts = session.scalars(
        select(Attempt).where(Attempt.delivery_id == delivery.id).order_by(Attempt.id)
    )
    return {
        "id": delivery.id,
        "event_id": f"evt_{delivery.event_seq}",
        "event_seq": delivery.event_seq,
        "type": delivery.event_type,
        "status": delivery.status,
        "next_attempt_at": delivery.next_attempt_at if delivery.status in OPEN_DELIVERIES else None,
        "delivered_at": delivery.delivered_at,
        "attempts": [_attempt_view(a) for a in attempts],
    }


def _attempt_view(a: Attempt) -> dict[str, Any]:
    return {
        "at": a.at,
        "status_code": a.status_code,
        "error": a.error,
        "response": a.response,
        "duration_ms": a.duration_ms,
    }
