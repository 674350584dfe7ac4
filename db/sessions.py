"""Status-page sessions and OpenID Connect sign-ins under way, kept by the server.

A session is a row found by a keyed hash of the cookie's random token (the
cookie holds the token, the row only the hash), so a copy of the database
cannot be turned into a cookie, and ending the row ends the session in
every process at once. A key's session takes its name, role and board from
the key on every request, so `ratify keys revoke` ends it too; a person's
holds what the identity provider said at sign-in, until it expires or is
ended (sign-out, `ratify sessions revoke`).

These are bookkeeping, like a key's last use, not changes of the workflow:
each runs in a short transaction of its own and writes no audit event.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, outerjoin, select, update
from sqlalchemy.orm import Session

from db import models
from db.base import table_of
from db.engine import Database
from workflow.actors import Actor, Role

KEPT_AFTER_EXPIRY = timedelta(days=30)
"""How long an ended or expired session's row stays (for `ratify sessions list --all`)."""

_SESSIONS = table_of(models.UiSession)
_KEYS = table_of(models.ApiKey)
_LOGINS = table_of(models.OidcLogin)

_RESUME = (
    select(
        _SESSIONS.c.id,
        _SESSIONS.c.key_id,
        _SESSIONS.c.subject,
        _SESSIONS.c.name,
        _SESSIONS.c.email,
        _SESSIONS.c.role,
        _SESSIONS.c.board_id,
        _SESSIONS.c.expires_at,
        _KEYS.c.name.label("key_name"),
        _KEYS.c.role.label("key_role"),
        _KEYS.c.board_id.label("key_board_id"),
        _KEYS.c.revoked_at.label("key_revoked_at"),
        _KEYS.c.last_used_at.label("key_last_used_at"),
    )
    .select_from(outerjoin(_SESSIONS, _KEYS, _SESSIONS.c.key_id == _KEYS.c.id))
    .where(
        _SESSIONS.c.token_hash == bindparam("token_hash"),
        _SESSIONS.c.ended_at.is_(None),
        _SESSIONS.c.expires_at > bindparam("now"),
    )
)
"""Built once: every page view runs it."""


@dataclass(frozen=True)
class Resumed:
    """A live session: who it stands for, and (for a key's) the key's id and last use."""

    actor: Actor
    expires_at: datetime
    key_id: int | None
    key_last_used_at: datetime | None


def start(
    db: Database,
    token_hash: str,
    actor: Actor,
    key_id: int | None,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Store a new session for `actor` (a key's when `key_id` is given, else a person's)."""
    with db.writes() as session:
        session.execute(delete(_SESSIONS).where(_SESSIONS.c.expires_at < now - KEPT_AFTER_EXPIRY))
        session.execute(
            insert(_SESSIONS),
            {
                "token_hash": token_hash,
                "key_id": key_id,
                "subject": actor.subject if key_id is None else None,
                "name": actor.name,
                "email": actor.email,
                "role": actor.role.value,
                "board_id": actor.board_id,
                "created_at": now,
                "expires_at": now + lifetime,
                "ended_at": None,
            },
        )
        session.commit()


def resume(db: Database, token_hash: str, now: datetime) -> Resumed | None:
    """The live session with that hash; None when unknown, ended, expired or its key revoked."""
    with db.lookup() as connection:
        row = connection.execute(_RESUME, {"token_hash": token_hash, "now": now}).one_or_none()
    if row is None:
        return None
    if row.key_id is None:
        actor = Actor(row.name, Role(row.role), row.board_id, row.subject, row.email)
        return Resumed(actor, row.expires_at, None, None)
    if row.key_name is None or row.key_revoked_at is not None:
        return None
    actor = Actor(row.key_name, Role(row.key_role), row.key_board_id)
    return Resumed(actor, row.expires_at, row.key_id, row.key_last_used_at)


def end(db: Database, token_hash: str, now: datetime) -> bool:
    """End one session now (sign-out); whether it was live."""
    return _end(db, _SESSIONS.c.token_hash == token_hash, now) > 0


def end_person(db: Database, subject: str, now: datetime) -> int:
    """End every live session of the person with this subject; how many there were."""
    return _end(db, _SESSIONS.c.subject == subject, now)


def end_all(db: Database, now: datetime) -> int:
    """End every live session, people's and keys' alike; how many there were."""
    return _end(db, _SESSIONS.c.id.is_not(None), now)


def _end(db: Database, which: Any, now: datetime) -> int:
    with db.writes() as session:
        ended = session.execute(
            update(_SESSIONS)
            .where(which, _SESSIONS.c.ended_at.is_(None), _SESSIONS.c.expires_at > now)
            .values(ended_at=now)
        )
        session.commit()
        return int(getattr(ended, "rowcount", 0) or 0)


def listing(session: Session, now: datetime, everything: bool = False) -> list[dict[str, Any]]:
    """Sessions, newest first: live ones only, or with `everything` the recent past too."""
    query = select(models.UiSession).order_by(models.UiSession.id.desc())
    if not everything:
        query = query.where(models.UiSession.ended_at.is_(None), models.UiSession.expires_at > now)
    return [
        {
            "id": s.id,
            "kind": "key" if s.key_id is not None else "person",
            "subject": s.subject,
            "name": s.name,
            "email": s.email,
            "role": s.role,
            "board_id": s.board_id,
            "created_at": s.created_at,
            "expires_at": s.expires_at,
            "ended_at": s.ended_at,
        }
        for s in session.scalars(query)
    ]


# --- OpenID Connect sign-ins under way ------------------------------------------------


@dataclass(frozen=True)
class PendingLogin:
    """What the callback needs to finish a sign-in it started."""

    nonce: str
    code_verifier: str
    next_path: str


def begin_login(
    db: Database, state_hash: str, login: PendingLogin, now: datetime, lifetime: timedelta
) -> None:
    """Remember a sign-in under way (and forget the ones that ran out)."""
    with db.writes() as session:
        session.execute(delete(_LOGINS).where(_LOGINS.c.expires_at <= now))
        session.execute(
            insert(_LOGINS),
            {
                "state_hash": state_hash,
                "nonce": login.nonce,
                "code_verifier": login.code_verifier,
                "next_path": login.next_path,
                "created_at": now,
                "expires_at": now + lifetime,
            },
        )
        session.commit()


_TAKE = (
    delete(_LOGINS)
    .where(and_(_LOGINS.c.state_hash == bindparam("state_hash")))
    .returning(_LOGINS.c.nonce, _LOGINS.c.code_verifier, _LOGINS.c.next_path, _LOGINS.c.expires_at)
)


def take_login(db: Database, state_hash: str, now: datetime) -> PendingLogin | None:
    """The sign-in under way with that state, removed so no second callback finds it;
    None when there is none (already taken: a replay) or it ran out."""
    with db.writes() as session:
        row = session.execute(_TAKE, {"state_hash": state_hash}).one_or_none()
        session.commit()
    if row is None or row.expires_at <= now:
        return None
    return PendingLogin(row.nonce, row.code_verifier, row.next_path)
