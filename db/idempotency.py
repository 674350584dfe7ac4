"""Idempotency keys: the first answer to a write, kept to replay it for a retry.

Keys are kept per caller: per API key name, or per person by the identity
provider's subject (`Actor.identity`), never by a display name two people
may share.

The key row is inserted before the write runs, in its transaction, so a
concurrent request with the same key waits on it and then finds the answer.
Rows are kept for a while (`RATIFY_IDEMPOTENCY_TTL_HOURS`, 72 by default),
then the scheduler's tick deletes them (`expire`): a retry comes within
minutes or hours, and each row holds a whole response body.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete

from db.engine import Database
from db.models import IdempotencyKey
from db.uow import UnitOfWork
from workflow.actors import SYSTEM


@dataclass(frozen=True)
class Stored:
    """A write's first answer (no status yet: the write that took the key is running)."""

    fingerprint: str
    status: int | None
    body: str | None
    location: str | None


def find(uow: UnitOfWork, key: str) -> Stored | None:
    """The stored answer of the caller's key, if any."""
    row = uow.session.get(IdempotencyKey, (uow.actor.identity, key))
    if row is None:
        return None
    return Stored(row.fingerprint, row.status_code, row.body, row.location)


def reserve(uow: UnitOfWork, key: str, fingerprint: str) -> IdempotencyKey:
    """Take the key for this transaction's write; fill in the answer with `keep`."""
    row = IdempotencyKey(
        actor_name=uow.actor.identity, key=key, fingerprint=fingerprint, created_at=uow.now
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def keep(row: IdempotencyKey, status: int, body: str, location: str | None) -> None:
    """Store the answer the write gave, to replay it."""
    row.status_code, row.body, row.location = status, body, location


def expire(db: Database, created_before: datetime, now: datetime) -> int:
    """Delete every key stored before `created_before` (one statement); how many went.

    A key's row is bookkeeping, not a change of the workflow, so it leaves
    no audit event. A write still running holds a row made `now`, never one
    this old.
    """
    with UnitOfWork(db, SYSTEM, now) as uow:
        result = uow.session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.created_at < created_before)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)
