"""Signed-in sessions of the status page, and CSRF tokens for its forms.

A session cookie never holds the token. It holds the API key's id and an
expiry, signed with HMAC-SHA256 under a key derived from the server's
secret and that API key's stored hash:

    ratify_session = v1.<key id>.<expires, unix seconds>.<nonce>.<signature>

Every request looks the key up again, so a revoked key (or a key created
anew under the same name) ends its sessions at once, in every process; no
session table is needed. The secret (RATIFY_SESSION_SECRET, else a file
made once under var/, see `server_secret`) keeps someone who can read the
database, and so the hashes, from forging a session; every `ratify serve`
process of one service shares it, so they accept each other's sessions.

Forms carry a CSRF token besides `SameSite=Strict`: the login form's token
is also set in a cookie (double submit), the logout form's is derived from
the session itself.
"""

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from api.auth import Clock
from db import keys
from db.engine import Database
from db.numbers import ascii_int
from workflow.actors import Actor, Role

SESSION_COOKIE = "ratify_session"
CSRF_COOKIE = "ratify_csrf"
LANG_COOKIE = "ratify_lang"
COOKIE_PATH = "/ui"
LIFETIME = timedelta(hours=8)
VERSION = "v1"


@dataclass(frozen=True)
class SignedIn:
    """Who a valid session cookie stands for."""

    actor: Actor
    key_id: int
    payload: str
    signing_key: bytes

    def csrf(self) -> str:
        """The CSRF token of this session's forms."""
        return _b64(hmac.digest(self.signing_key, b"csrf\x00" + self.payload.encode(), "sha256"))

    def csrf_ok(self, submitted: str) -> bool:
        """Whether a form's token belongs to this session."""
        # As bytes: compare_digest refuses a str with non-ASCII characters (TypeError).
        return hmac.compare_digest(self.csrf().encode(), submitted.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def server_secret(secret: str | None, path: Path) -> bytes:
    """`secret` if set; else the one in `path`, made there (0600) by the first process to ask."""
    if secret:
        return secret.encode()
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    try:
        os.link(draft, path)  # whole or not at all; a process that lost the race reads the winner's
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return bytes.fromhex(path.read_text().strip())


def _signing_key(secret: bytes, token_hash: str) -> bytes:
    """The session key of one API key: the server's secret and the key's stored hash."""
    return hmac.digest(secret, b"ratify ui session v1\x00" + bytes.fromhex(token_hash), "sha256")


def _sign(signing_key: bytes, payload: str) -> str:
    return _b64(hmac.digest(signing_key, b"session\x00" + payload.encode(), "sha256"))


def sign_in(db: Database, secret: bytes, token: str, now: datetime) -> str | None:
    """A session cookie value for a valid, unrevoked token; None otherwise."""
    with db.lookup() as connection:
        found = keys.resolve(connection, token.strip())
    if found is None:
        return None
    _actor, key_id, _last_used = found
    token_hash = keys.hash_token(token.strip())
    expires = int((now + LIFETIME).timestamp())
    payload = f"{VERSION}.{key_id}.{expires}.{secrets.token_urlsafe(12)}"
    return f"{payload}.{_sign(_signing_key(secret, token_hash), payload)}"


def _parse(cookie: str) -> tuple[int, int, str, str] | None:
    parts = cookie.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        return None
    _version, key_text, expires_text, _nonce, signature = parts
    key_id, expires = ascii_int(key_text), ascii_int(expires_text)
    if key_id is None or expires is None:
        return None
    return key_id, expires, cookie.rsplit(".", 1)[0], signature


def resume(db: Database, secret: bytes, clock: Clock, cookie: str | None) -> SignedIn | None:
    """Who the session cookie stands for, checked against the keys table now; else None.

    Like `api.auth.authenticate`, it notes the key's last use (at most once a
    minute).
    """
    parsed = _parse(cookie) if cookie else None
    if parsed is None:
        return None
    key_id, expires, payload, signature = parsed
    now = clock()
    if expires <= now.timestamp():
        return None
    with db.reads() as session:
        row = keys.by_id(session, key_id)
        if row is None:
            return None
        signing_key = _signing_key(secret, row.token_hash)
        if not hmac.compare_digest(_sign(signing_key, payload), signature):
            return None
        actor = Actor(name=row.name, role=Role(row.role), board_id=row.board_id)
        last_used_at = row.last_used_at
    keys.note_use(db, key_id, last_used_at, now)
    return SignedIn(actor, key_id, payload, signing_key)


def new_csrf() -> str:
    """A fresh token for the login form's double submit."""
    return secrets.token_urlsafe(32)


def csrf_matches(cookie: str | None, submitted: str | None) -> bool:
    """Whether the login form's token equals its cookie's (both present)."""
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(
        hashlib.sha256(cookie.encode()).digest(), hashlib.sha256(submitted.encode()).digest()
    )
