"""Calendar feed URLs: a secret per API key that a calendar client can send in the URL.

Calendar clients subscribe to a URL and cannot send a bearer header, so a
key may get a feed secret of its own: shown once, stored only as its
SHA-256 hash (256 random bits, as the tokens: a plain hash is enough), and
revoked apart from the key. A feed acts as its key (same role and board) and
ends with it: revoking the key ends its feeds too.
"""

import hmac
import secrets
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from db import keys, models
from db.uow import UnitOfWork
from workflow.actors import Actor, Role
from workflow.errors import AlreadyExists, NotFound
from workflow.events import Event, EventType

PREFIX = "feed_"


def _active_feed(session: Session, key_id: int) -> models.CalendarFeed | None:
    return session.scalars(
        select(models.CalendarFeed).where(
            models.CalendarFeed.key_id == key_id, models.CalendarFeed.revoked_at.is_(None)
        )
    ).first()


def create(uow: UnitOfWork, key_name: str) -> str:
    """A new feed secret for the key named `key_name` (shown once, never stored).

    One live feed per key: revoke the one it has before making another.
    """
    key = keys.active(uow.session, key_name)
    if _active_feed(uow.session, key.id) is not None:
        raise AlreadyExists(f"key {key_name!r} has a feed; revoke it first")
    secret = PREFIX + secrets.token_urlsafe(32)
    uow.session.add(
        models.CalendarFeed(key_id=key.id, secret_hash=keys.hash_token(secret), created_at=uow.now)
    )
    uow.record(Event(EventType.FEED_CREATED, None, data={"key": key_name}))
    return secret


def revoke(uow: UnitOfWork, key_name: str) -> None:
    """End the key's feed at once (the key itself stays)."""
    key = keys.active(uow.session, key_name)
    feed = _active_feed(uow.session, key.id)
    if feed is None:
        raise NotFound(f"key {key_name!r} has no feed")
    feed.revoked_at = uow.now
    uow.record(Event(EventType.FEED_REVOKED, None, data={"key": key_name}))


def listing(session: Session) -> list[dict[str, Any]]:
    """Every feed: its key's name, created and revoked (never a secret)."""
    rows = session.execute(
        select(models.ApiKey.name, models.CalendarFeed.created_at, models.CalendarFeed.revoked_at)
        .join(models.ApiKey, models.ApiKey.id == models.CalendarFeed.key_id)
        .order_by(models.CalendarFeed.id)
    )
    return [{"key": name, "created_at": c, "revoked_at": r} for name, c, r in rows]


_BY_HASH = (
    select(
        models.CalendarFeed.secret_hash,
        models.ApiKey.name,
        models.ApiKey.role,
        models.ApiKey.board_id,
    )
    .join(models.ApiKey, models.ApiKey.id == models.CalendarFeed.key_id)
    .where(
        models.CalendarFeed.secret_hash == bindparam("digest"),
        models.CalendarFeed.revoked_at.is_(None),
        models.ApiKey.revoked_at.is_(None),
    )
)


def resolve(connection: Session | Connection, secret: str) -> Actor | None:
    """The actor a feed secret stands for (its key's); None when unknown or revoked."""
    digest = keys.hash_token(secret)
    found = connection.execute(_BY_HASH, {"digest": digest}).one_or_none()
    if found is None or not hmac.compare_digest(found.secret_hash, digest):
        return None
    return Actor(name=found.name, role=Role(found.role), board_id=found.board_id)
