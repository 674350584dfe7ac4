"""Outbound webhooks, signed per Standard Webhooks, delivered at least once.

Events become delivery rows in the same transaction that wrote them (the
outbox writer `enqueue`). `deliver_due` claims due rows — at most the oldest
open one per subscription, so each subscription receives events in `seq`
order — posts them in parallel (a hanging receiver holds only its own
subscription back), and records every attempt. Failures retry on a schedule
with jitter for more than 24 hours, then the delivery is marked failed.
"""

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from db import models
from db.engine import Database
from db.webhooks import Attempt, Delivery, Webhook
from notifications import targets
from workflow.errors import InvalidValue

log = structlog.get_logger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105  (a format prefix, not a secret)
ROTATION_GRACE = timedelta(hours=24)
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=10),
)
"""Waits after each failed attempt (±20 % jitter): 37.6 hours in all (at least 30), then failed."""
OPEN = ("pending", "delivering")


@dataclass(frozen=True)
class Policy:
    """How deliveries are made: targets allowed, timeouts, retries, parallelism."""

    allowed_hosts: frozenset[str] = frozenset()
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(10.0, connect=5.0))
    retry_schedule: tuple[timedelta, ...] = RETRY_SCHEDULE
    jitter: float = 0.2
    batch: int = 32
    parallel: int = 8


def generate_secret() -> str:
    """A new signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, as Standard Webhooks specifies."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def check_target(url: str, allowed_hosts: frozenset[str]) -> None:
    """Refuse non-http(s) URLs, userinfo, and non-public targets not allow-listed."""
    targets.check_url(url, allowed_hosts)


_LIVE_HOOKS = select(Webhook.id, Webhook.events, Webhook.board_id).where(
    Webhook.deleted_at.is_(None)
)
"""Built once: every write runs it."""


def enqueue(session: Session, events: Sequence[models.Event]) -> None:
    """Outbox writer: one delivery per (subscription, event) it wants, in the same transaction."""
    hooks = session.connection().execute(_LIVE_HOOKS).all()
    if not hooks:
        return
    members: dict[str, set[str]] = {}
    for event in events:
        for hook in hooks:
            if "*" not in hook.events and event.type not in hook.events:
                continue
            if hook.board_id is not None:
                if event.program_id is None or event.version_id is None:
                    continue
                if event.program_id not in members:
                    members[event.program_id] = set(
                        session.scalars(
                            select(models.ProgramBoard.board_id).where(
                                models.ProgramBoard.program_id == event.program_id
                            )
                        )
                    )
                if hook.board_id not in members[event.program_id]:
                    continue
            session.add(
                Delivery(
                    webhook_id=hook.id,
                    event_seq=event.seq,
                    event_type=event.type,
                    status="pending",
                    attempts=0,
                    next_attempt_at=event.at,
                    created_at=event.at,
                )
            )


def payload(event: models.Event) -> bytes:
    """The JSON body `{"id", "type", "occurred_at", "data"}`, without the client details."""
    data = {k: v for k, v in event.data.items() if k != "request"}
    body = {
        "id": f"evt_{event.seq}",
        "type": event.type,
        "occurred_at": event.at.isoformat().replace("+00:00", "Z"),
        "data": {
            "seq": event.seq,
            "program_id": event.program_id,
            "version_id": event.version_id,
            "board_id": event.board_id,
            "actor": {
                "name": event.actor_name,
                "role": event.actor_role,
                "board_id": event.actor_board_id,
            },
            **data,
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for sending: everything needed without the database."""

    delivery_id: int
    url: str
    msg_id: str
    body: bytes
    secrets: tuple[str, ...]
    attempts: int


def claim(db: Database, now: datetime, policy: Policy) -> list[Claimed]:
    """Take due deliveries, the oldest open one per subscription, under a lease."""
    d, earlier = Delivery, aliased(Delivery)
    due = or_(
        and_(d.status == "pending", d.next_attempt_at <= now),
        and_(d.status == "delivering", d.lease_until < now),
    )
    blocked = exists().where(
        earlier.webhook_id == d.webhook_id,
        earlier.status.in_(OPEN),
        earlier.event_seq < d.event_seq,
    )
    lease = now + timedelta(seconds=2 * (policy.timeout.read or 10.0) + 30)
    claimed = []
    with db.writes() as session:
        query = (
            select(d)
            .where(d.status.in_(OPEN), due, ~blocked)
            .order_by(d.next_attempt_at)
            .limit(policy.batch)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=d)
        for row in session.scalars(query):
            hook = session.get_one(Webhook, row.webhook_id)
            event = session.get_one(models.Event, row.event_seq)
            row.status, row.lease_until = "delivering", lease
            row.first_attempt_at = row.first_attempt_at or now
            keys = [hook.secret]
            if (
                hook.previous_secret
                and hook.previous_secret_until
                and hook.previous_secret_until > now
            ):
                keys.append(hook.previous_secret)
            claimed.append(
                Claimed(
                    row.id, hook.url, f"evt_{event.seq}", payload(event), tuple(keys), row.attempts
                )
            )
        session.commit()
    return claimed


@dataclass(frozen=True)
class Outcome:
    """What one HTTP attempt gave."""

    status_code: int | None
    error: str | None
    response: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def send(client: targets.PinnedClient, item: Claimed, now: datetime, policy: Policy) -> Outcome:
    """POST one signed delivery; never raises."""
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "ratify-webhooks/1",
        "webhook-id": item.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(s, item.msg_id, timestamp, item.body) for s in item.secrets
        ),
    }
    started = time.monotonic()
    try:
        # The client's transport resolves, checks and pins the target on every attempt.
        response = client.post(item.url, content=item.body, headers=headers, timeout=policy.timeout)
        excerpt = response.content[:1024].decode("utf-8", "replace")
        return Outcome(response.status_code, None, excerpt, _ms(started))
    except (httpx.HTTPError, InvalidValue) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500], None, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def record(db: Database, item: Claimed, outcome: Outcome, now: datetime, policy: Policy) -> None:
    """Store the attempt; schedule a retry, or mark the delivery delivered or failed."""
    with db.writes() as session:
        row = session.get_one(Delivery, item.delivery_id)
        session.add(
            Attempt(
                delivery_id=row.id,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                response=outcome.response,
                duration_ms=outcome.duration_ms,
            )
        )
        row.attempts += 1
        row.lease_until = None
        if outcome.ok:
            row.status, row.delivered_at = "delivered", now
        elif row.attempts > len(policy.retry_schedule):
            row.status = "failed"
        else:
            wait = policy.retry_schedule[row.attempts - 1]
            jitter = 1 + random.uniform(-policy.jitter, policy.jitter)
            row.status, row.next_attempt_at = "pending", now + wait * jitter
        session.commit()
    log.info(
        "webhook_attempt",
        delivery_id=item.delivery_id,
        status_code=outcome.status_code,
        error=outcome.error,
        ok=outcome.ok,
    )


def deliver_due(db: Database, client: targets.PinnedClient, now: datetime, policy: Policy) -> int:
    """One round: claim what is due, send it in parallel, record each result. Returns how many."""
    items = claim(db, now, policy)
    if not items:
        return 0

    def one(item: Claimed) -> None:
        record(db, item, send(client, item, now, policy), now, policy)

    with ThreadPoolExecutor(max_workers=min(policy.parallel, len(items))) as pool:
        list(pool.map(one, items))
    return len(items)


def redeliver(session: Session, delivery: Delivery, now: datetime) -> None:
    """Send a delivery again now, with a fresh round of retries."""
    delivery.status, delivery.next_attempt_at, delivery.lease_until = "pending", now, None
    delivery.attempts = 0


def attempts_view(session: Session, delivery: Delivery) -> dict[str, Any]:
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
        "next_attempt_at": delivery.next_attempt_at if delivery.status in OPEN else None,
        "delivered_at": delivery.delivered_at,
        "attempts": [
            {
                "at": a.at,
                "status_code": a.status_code,
                "error": a.error,
                "response": a.response,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    }
