"""Webhook delivery: signed per Standard Webhooks, sent in parallel, retried with jitter.

`deliver_due` claims due deliveries (`db.webhook_queue`), posts them in
parallel (a hanging receiver holds only its own subscription back), and
records every attempt. Failures retry on `RETRY_SCHEDULE` with jitter for
more than 30 hours, then the delivery is marked failed. Every attempt looks
the target up once, checks every address and connects to a checked one
(`notifications.targets`), since DNS can change between attempts.
"""

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import structlog

from db import models, webhook_queue
from db.audit import actor_view
from db.engine import Database
from db.sealing import Sealer, Unsealable
from db.webhook_queue import AttemptResult, DeliveryClaim
from notifications import targets
from workflow.errors import InvalidValue

log = structlog.get_logger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105  (a format prefix, not a secret)
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


@dataclass(frozen=True)
class WebhookPolicy:
    """How deliveries are made: targets allowed, timeouts, retries, parallelism."""

    allowed_hosts: frozenset[str] = frozenset()
    max_per_board: int = 10
    """Live subscriptions a board may have (admin subscriptions without a board: any number)."""
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(10.0, connect=5.0))
    retry_schedule: tuple[timedelta, ...] = RETRY_SCHEDULE
    jitter: float = 0.2
    batch: int = 32
    parallel: int = 8
    sealer: Sealer | None = None
    """Opens the subscriptions' sealed signing secrets (the server's sealing keys)."""

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery stays taken: longer than any attempt can last."""
        return timedelta(seconds=2 * (self.timeout.read or 10.0) + 30)

    def wait_after(self, attempts: int) -> timedelta | None:
        """The wait before the next attempt after `attempts` failed ones; None: give up."""
        if attempts > len(self.retry_schedule):
            return None
        jitter = 1 + random.uniform(-self.jitter, self.jitter)
        return self.retry_schedule[attempts - 1] * jitter


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
            "actor": actor_view(
                event.actor_name,
                event.actor_role,
                event.actor_board_id,
                event.actor_subject,
                event.actor_email,
            ),
            **data,
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def send(
    client: targets.PinnedClient, item: DeliveryClaim, now: datetime, policy: WebhookPolicy
) -> AttemptResult:
    """POST one signed delivery; never raises."""
    timestamp = int(now.timestamp())
    msg_id, body = f"evt_{item.event.seq}", payload(item.event)
    started = time.monotonic()
    try:
        # Opened only here, in memory, for the time it takes to sign.
        keys = [_unseal(policy, sealed) for sealed in item.sealed_secrets]
    except Unsealable as exc:
        return AttemptResult(None, f"Unsealable: {exc}", None, _ms(started))
    headers = {
        "content-type": "application/json",
        "user-agent": "ratify-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(k, msg_id, timestamp, body) for k in keys),
    }
    try:
        # The client's transport resolves, checks and pins the target on every attempt.
        response = client.post(item.url, content=body, headers=headers, timeout=policy.timeout)
        excerpt = response.content[:1024].decode("utf-8", "replace")
        return AttemptResult(response.status_code, None, excerpt, _ms(started))
    except (httpx.HTTPError, InvalidValue) as exc:
        return AttemptResult(None, f"{type(exc).__name__}: {exc}"[:500], None, _ms(started))


def _unseal(policy: WebhookPolicy, sealed: str) -> str:
    if policy.sealer is None:
        raise Unsealable("no sealing key is configured")
    return policy.sealer.unseal(sealed)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def deliver_due(
    db: Database, client: targets.PinnedClient, now: datetime, policy: WebhookPolicy
) -> int:
    """One round: claim what is due, send it in parallel, record each result. Returns how many."""
    items = webhook_queue.claim(db, now, policy.lease, policy.batch)
    if not items:
        return 0

    def one(item: DeliveryClaim) -> None:
        result = send(client, item, now, policy)
        webhook_queue.record(db, item, result, now, policy.wait_after)
        log.info(
            "webhook_attempt",
            delivery_id=item.delivery_id,
            status_code=result.status_code,
            error=result.error,
            ok=result.ok,
        )

    with ThreadPoolExecutor(max_workers=min(policy.parallel, len(items))) as pool:
        list(pool.map(one, items))
    return len(items)
