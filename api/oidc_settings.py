"""The identity provider's settings (OpenID Connect), checked when they are read.

An issuer must be `https://`, or `http://` on a loopback address (a provider
on the same machine, as in the tests): anything else would send the client
secret and the person's tokens in clear. `RATIFY_OIDC_GROUP_MAP` is a JSON
object from group id to `{"role": ..., "board": ...}`; a board role needs a
board and no other role takes one.
"""

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from workflow.actors import Role

ROLES = tuple(r.value for r in Role if r is not Role.SYSTEM)
"""The roles a person can be given (never the service's own)."""


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine: `localhost`, 127.0.0.0/8 or ::1."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secure_url(url: str, allow_http_loopback: bool) -> bool:
    """Whether `url` may carry secrets: https, or http to this machine when allowed."""
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return allow_http_loopback and parts.scheme == "http" and is_loopback(parts.hostname)


def issuer_url(value: str | None) -> str | None:
    """`RATIFY_OIDC_ISSUER`, refused unless https (or http on a loopback address)."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.query or parts.fragment or not secure_url(value, allow_http_loopback=True):
        raise ValueError(
            "must be an https:// URL (http:// only on a loopback address such as 127.0.0.1),"
            " without user, query or fragment"
        )
    return value


@dataclass(frozen=True)
class Grant:
    """What a group of the identity provider makes a person: a role, and a board for `board`."""

    role: Role
    board_id: str | None


def group_map_of(value: str | None) -> dict[str, Grant]:
    """`RATIFY_OIDC_GROUP_MAP` read; ValueError naming what is wrong."""
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ValueError(f"is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError('must be a JSON object: {"group id": {"role": ..., "board": ...}}')
    found = {}
    for group, grant in parsed.items():
        if not isinstance(grant, dict) or grant.get("role") not in ROLES:
            raise ValueError(f"group {group!r}: role must be one of {', '.join(ROLES)}")
        if set(grant) - {"role", "board"}:
            raise ValueError(f"group {group!r}: only role and board may be given")
        role, board = Role(grant["role"]), grant.get("board")
        if (role is Role.BOARD) != (board is not None) or not (board is None or _word(board)):
            raise ValueError(f"group {group!r}: a board role needs a board, and only it takes one")
        found[str(group)] = Grant(role, board)
    return found


def _word(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def group_map(value: str | None) -> str | None:
    """`RATIFY_OIDC_GROUP_MAP`, refused when it does not read as a group map."""
    group_map_of(value)
    return value or None


@dataclass(frozen=True)
class OidcConfig:
    """Everything the status page needs to sign people in through the identity provider."""

    issuer: str
    client_id: str
    client_secret: str
    role_claim: str
    board_claim: str
    group_map: Mapping[str, Grant]
    scopes: str
    public_url: str | None
    """The service's own address for the redirect URIs (else the request's)."""

    @property
    def http_loopback(self) -> bool:
        """Whether the provider is an http:// one on this machine (its endpoints may be too)."""
        return urlsplit(self.issuer).scheme == "http"
