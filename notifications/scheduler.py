"""The scheduler: APScheduler only ticks; every tick notes legal force, sweeps
reminders and delivers e-mail and webhooks.

Nothing is kept in the scheduler: what is due lives in the database, so any
number of processes may tick at once, and a process that was down simply
finds more due on its next tick.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from db import idempotency, subscriptions
from db.engine import Database
from db.legal_force import LegalForceReport, note_legal_force
from notifications import targets, webhook_delivery
from notifications.config import Config
from notifications.mail_delivery import DeliveryReport, deliver
from notifications.reminder_sweep import SweepReport, sweep
from notifications.senders import Sender, make_sender
from notifications.webhook_delivery import WebhookPolicy

log = structlog.get_logger(__name__)

MAX_WEBHOOK_ROUNDS = 100
"""Rounds of webhook delivery per tick (each round sends at most one per subscription)."""


@dataclass(frozen=True)
class TickReport:
    """What one tick did."""

    swept: SweepReport
    delivered: DeliveryReport
    legal_force: LegalForceReport
    expired_keys: int = 0
    """Idempotency keys older than `Config.idempotency_ttl`, deleted."""


def tick(db: Database, config: Config, now: datetime, sender: Sender | None = None) -> TickReport:
    """Legal force noted and one reminder sweep as of `now`, then every e-mail due delivered
    and expired idempotency keys deleted."""
    legal_force = note_legal_force(db, now)
    swept = sweep(db, config, now)
    delivered = deliver(db, config, sender or make_sender(config), now)
    expired = idempotency.expire(db, now - config.idempotency_ttl, now)
    return TickReport(swept, delivered, legal_force, expired)


def deliver_webhooks(db: Database, policy: WebhookPolicy, now: datetime) -> int:
    """Every webhook delivery due at `now` (one per subscription per round, in order),
    after clearing the previous secrets whose 24 hours of overlap have ended."""
    cleared = subscriptions.forget_expired_secrets(db, now)
    if cleared:
        log.info("previous webhook secrets cleared", count=cleared)
    total = 0
    with targets.PinnedClient(policy.allowed_hosts) as client:
        for _round in range(MAX_WEBHOOK_ROUNDS):
            delivered = webhook_delivery.deliver_due(db, client, now, policy)
            if not delivered:
                break
            total += delivered
    return total


def start_scheduler(
    db: Database,
    config: Config,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    interval_seconds: float = 60.0,
) -> BackgroundScheduler:
    """A started background scheduler that ticks every `interval_seconds`, first at once.

    Each tick sweeps reminders and delivers e-mail (`tick`), then delivers
    the webhooks that are due.
    """

    def job() -> None:
        now = clock()
        try:
            tick(db, config, now)
        except Exception:
            log.exception("reminder tick failed")
        try:
            deliver_webhooks(db, config.webhooks, now)
        except Exception:
            log.exception("webhook delivery failed")

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        job,
        "interval",
        seconds=interval_seconds,
        id="ratify-tick",
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.start()
    log.info("scheduler started", interval_seconds=interval_seconds)
    return scheduler
