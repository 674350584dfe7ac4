"""API keys: created and revoked by the CLI, resolved to an actor on each request.

Only the SHA-256 of a token is stored. Tokens carry 256 random bits, so a
plain hash is enough (no salt or slow hash is needed against guessing), and a
lookup by hash followed by a constant-time comparison leaks nothing useful.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from db.uow import UnitOfWork
from workflow.actors import PERSON_PREFIX, Actor, Role
from workflow.errors import AlreadyExists, InvalidValue, NotFound
from workflow.events import Event, EventType

PREFIX = "rat_"
LAST_USED_GRANULARITY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create(uow: UnitOfWork, name: str, role: Role, board_id: str | None) -> str:
    """Store a new key and return its token (shown once, never stored)."""
    session = uow.session
    if role is Role.SYSTEM:
        raise InvalidValue("role must be admin, secretariat, board or auditor")
    if name.startswith(PERSON_PREFIX):
        raise InvalidValue(f"a key's name may not start with {PERSON_PREFIX!r} (it marks people)")
    if (role is Role.BOARD) != (board_id is not None):
        raise InvalidValue("a board key needs --board, and only a board key takes one")
    if board_id is not None and session.get(models.Board, board_id) is None:
        raise NotFound(f"no board {board_id}")
    if session.scalar(select(models.ApiKey.id).where(models.ApiKey.name == name)) is not None:
        raise AlreadyExists(f"a key named {name!r} exists")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(
        models.ApiKey(
            name=name,
            role=role.value,
            board_id=board_id,
            token_hash=hash_token(token),
            created_at=uow.now,
        )
    )
    data = {"name": name, "role": role.value, "board_id": board_id}
    uow.record(Event(EventType.KEY_CREATED, None, data=data))
    return token


def active(session: Session, name: str) -> models.ApiKey:
    """The key named `name`, which must not be revoked; NotFound otherwise."""
    key = session.scalars(select(models.ApiKey).where(models.ApiKey.name == name)).one_or_none()
    if key is None or key.revoked_at is not None:
        raise NotFound(f"no active key named {name!r}")
    return key


def revoke(uow: UnitOfWork, name: str) -> None:
    """End a key at once."""
    key = active(uow.session, name)
    key.revoked_at = uow.now
    uow.record(Event(EventType.KEY_REVOKED, None, data={"name": name}))


def listing(session: Session) -> list[dict[str, Any]]:
    """Every key's name, role, board, created, last used and revoked (never the token)."""
    return [
        {
            "name": k.name,
            "role": k.role,
            "board_id": k.board_id,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "revoked_at": k.revoked_at,
        }
        for k in session.scalars(select(models.ApiKey).order_by(models.ApiKey.id))
    ]


_BY_HASH = select(
    models.ApiKey.id,
    models.ApiKey.name,
    models.ApiKey.role,
    models.ApiKey.board_id,
    models.ApiKey.token_hash,
    models.ApiKey.last_used_at,
    models.ApiKey.revoked_at,
).where(models.ApiKey.token_hash == bindparam("digest"))
"""Built once: every request runs it."""


def resolve(session: Session | Connection, token: str) -> tuple[Actor, int, datetime | None] | None:
    """The actor a token stands for, its key id and last use; None when unknown or revoked."""
    digest = hash_token(token)
    key = session.execute(_BY_HASH, {"digest": digest}).one_or_none()
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.token_hash, digest):
        return None
    return (
        Actor(name=key.name, role=Role(key.role), board_id=key.board_id),
        key.id,
        key.last_used_at,
    )


def note_use(db: Database, key_id: int, last_used_at: datetime | None, now: datetime) -> None:
    """Note that a key was used, at most once a minute (so reads stay cheap).

    Its own short transaction: when a key was last used is bookkeeping, not a
    change of the workflow, so it is no audit event.
    """
    if not is_stale(last_used_at, now):
        return
    with db.writes() as session:
        _touch(session, key_id, now)
        session.commit()


def by_id(session: Session, key_id: int) -> models.ApiKey | None:
    """The key with that id, unless it is unknown or revoked."""
    row = session.get(models.ApiKey, key_id)
    return None if row is None or row.revoked_at is not None else row


def _touch(session: Session, key_id: int, now: datetime) -> None:
    session.execute(
        update(models.ApiKey)
        .where(models.ApiKey.id == key_id)
        .where(
            or_(
                models.ApiKey.last_used_at.is_(None),
                models.ApiKey.last_used_at < now - LAST_USED_GRANULARITY,
            )
        )
        .values(last_used_at=now)
    )


def is_stale(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether `touch` has something to do."""
    return last_used_at is None or now - last_used_at > LAST_USED_GRANULARITY
