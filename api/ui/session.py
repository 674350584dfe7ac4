"""Signed-in sessions of the status page, and CSRF tokens for its forms.

A session cookie never holds an API token or anything from the identity
provider. It holds a fresh random token of 256 bits:

    ratify_session = v2.<token>

and the server keeps a row for it (`db/sessions.py`) found by HMAC-SHA256
of the token under a key derived from the server's secret: a copy of the
database (hashes only) cannot be turned into a cookie, nor can someone
who could write a row but does not know the secret plant one. Every request
looks the row up again, so a session ends at once, in every process, when
it is signed out, revoked (`ratify sessions revoke`), expires (8 hours), or
its API key is revoked. The secret (RATIFY_SESSION_SECRET, else a file made
once under var/, see `server_secret`) is the same for every process of one
service, so they accept each other's sessions.

Forms carry a CSRF token besides `SameSite=Strict`: the login form's token
is also set in a cookie (double submit), the signed-in forms' is derived
from the session's token.
"""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from api.auth import Clock
from api.server_keys import made_once
from db import keys
from db import sessions as stored
from db.engine import Database
from workflow.actors import Actor

SESSION_COOKIE = "ratify_session"
CSRF_COOKIE = "ratify_csrf"
LANG_COOKIE = "ratify_lang"
OIDC_COOKIE = "ratify_oidc"
COOKIE_PATH = "/ui"
OIDC_COOKIE_PATH = "/ui/login/oidc"
LIFETIME = timedelta(hours=8)
VERSION = "v2"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class SignedIn:
    """Who a live session stands for."""

    actor: Actor
    token: str
    expires_at: datetime

    def csrf(self) -> str:
        """The CSRF token of this session's forms."""
        return _b64(hmac.digest(self.token.encode(), b"ratify ui csrf v2", "sha256"))

    def csrf_ok(self, submitted: str) -> bool:
        """Whether a form's token belongs to this session."""
        return hmac.compare_digest(self.csrf().encode(), submitted.encode("utf-8", "replace"))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def server_secret(secret: str | None, path: Path) -> bytes:
    """`secret` if set; else the one in `path`, made there (0600) by the first process to ask."""
    if secret:
        return secret.encode()
    return bytes.fromhex(made_once(path, lambda: secrets.token_hex(32) + "\n").strip())


def token_hash(secret: bytes, token: str) -> str:
    """The stored form of a session's token: HMAC-SHA256 under the server's secret."""
    key = hmac.digest(secret, b"ratify ui session v2", "sha256")
    return hmac.new(key, token.encode(), "sha256").hexdigest()


def _token_of(cookie: str | None) -> str | None:
    """The token of a well-formed cookie value; None for anything else."""
    if not cookie or not cookie.startswith(VERSION + "."):
        return None
    token = cookie[len(VERSION) + 1 :]
    return token if _TOKEN.fullmatch(token) else None


def _open(db: Database, secret: bytes, actor: Actor, key_id: int | None, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    stored.start(db, token_hash(secret, token), actor, key_id, now, LIFETIME)
    return f"{VERSION}.{token}"


def sign_in_with_key(db: Database, secret: bytes, api_token: str, now: datetime) -> str | None:
    """A session cookie value for a valid, unrevoked API token; None otherwise."""
    with db.lookup() as connection:
        found = keys.resolve(connection, api_token.strip())
    if found is None:
        return None
    actor, key_id, _last_used = found
    return _open(db, secret, actor, key_id, now)


def sign_in_person(db: Database, secret: bytes, person: Actor, now: datetime) -> str:
    """A session cookie value for a person the identity provider vouched for."""
    return _open(db, secret, person, None, now)


def resume(db: Database, secret: bytes, clock: Clock, cookie: str | None) -> SignedIn | None:
    """Who the session cookie stands for, checked against its row now; else None.

    For a key's session, like `api.auth.authenticate`, it notes the key's
    last use (at most once a minute).
    """
    token = _token_of(cookie)
    if token is None:
        return None
    now = clock()
    found = stored.resume(db, token_hash(secret, token), now)
    if found is None:
        return None
    if found.key_id is not None:
        keys.note_use(db, found.key_id, found.key_last_used_at, now)
    return SignedIn(found.actor, token, found.expires_at)


def sign_out(db: Database, secret: bytes, signed_in: SignedIn, now: datetime) -> None:
    """End the session now, for every process."""
    stored.end(db, token_hash(secret, signed_in.token), now)


def new_csrf() -> str:
    """A fresh token for the login form's double submit."""
    return secrets.token_urlsafe(32)


def csrf_matches(cookie: str | None, submitted: str | None) -> bool:
    """Whether the login form's token equals its cookie's (both present)."""
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(
        hashlib.sha256(cookie.encode("utf-8", "replace")).digest(),
        hashlib.sha256(submitted.encode("utf-8", "replace")).digest(),
    )
