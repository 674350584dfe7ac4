"""Who a person is in ratify, from what the identity provider says about them.

The role comes from the claim `RATIFY_OIDC_ROLE_CLAIM` (a string, or a
list holding exactly one of ratify's roles, as Entra ID's app `roles` is),
the board of a `board` role from `RATIFY_OIDC_BOARD_CLAIM`. With
`RATIFY_OIDC_GROUP_MAP` the `groups` claim decides instead: the groups
that the map names must all give the same role and board. A person for whom
this yields no role, more than one, or a board ratify does not know, is
refused: no guessing, and never the service's own `system` role.
"""

from collections.abc import Collection, Mapping
from typing import Any

from api.oidc_settings import ROLES, Grant, OidcConfig
from workflow.actors import Actor, Role

MAX_SUBJECT = 255
"""OpenID Connect's limit on `sub` (and the column's)."""


class SignInRefused(Exception):
    """A sign-in that cannot go on, shown as a readable page: `reason` names its words."""

    def __init__(self, reason: str, detail: str = "", status: int = 400, **values: str) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.status, self.values = reason, detail, status, values


def _text(value: Any, limit: int) -> str | None:
    """A claim as one line of text of at most `limit` characters; None when it is not text."""
    if not isinstance(value, str):
        return None
    line = " ".join(value.split())
    return line[:limit] if line else None


def _strings(value: Any) -> list[str]:
    """A claim that may be one string or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _grant(claims: Mapping[str, Any], config: OidcConfig) -> Grant:
    """The role and board the claims give, by the group map or the role and board claims."""
    if config.group_map:
        grants = {
            config.group_map[g] for g in _strings(claims.get("groups")) if g in config.group_map
        }
    else:
        roles = {v for v in _strings(claims.get(config.role_claim)) if v in ROLES}
        boards = _strings(claims.get(config.board_claim))
        grants = {
            Grant(Role(role), (boards[0] if len(boards) == 1 else "") if role == "board" else None)
            for role in roles
        }
    if not grants:
        raise SignInRefused("oidc_no_role", status=403)
    if len(grants) > 1:
        raise SignInRefused("oidc_many_roles", status=403)
    return grants.pop()


def person(claims: Mapping[str, Any], config: OidcConfig, boards: Collection[str]) -> Actor:
    """The actor a signed-in person is: subject, display name, e-mail, role and board.

    `boards` are the ids of the boards ratify knows.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
        raise SignInRefused("oidc_invalid_token", "sub is missing or longer than 255 characters")
    grant = _grant(claims, config)
    if grant.role is Role.BOARD and grant.board_id not in boards:
        raise SignInRefused("oidc_unknown_board", status=403, board=grant.board_id or "–")
    email = _text(claims.get("email"), 320)
    name = (
        _text(claims.get("name"), 200)
        or _text(claims.get("preferred_username"), 200)
        or email
        or subject[:200]
    )
    return Actor(
        name=name,
        role=grant.role,
        board_id=grant.board_id,
        subject=subject,
        email=email if email and "@" in email else None,
    )


def incomplete(claims: Mapping[str, Any], config: OidcConfig) -> bool:
    """Whether the ID token lacks a claim the mapping or the display reads (then userinfo
    is asked too): the role claim (or `groups`), the board claim of a board role, name, e-mail.
    """
    wanted = ["name", "email", "groups" if config.group_map else config.role_claim]
    if not config.group_map and "board" in _strings(claims.get(config.role_claim)):
        wanted.append(config.board_claim)
    return any(claim not in claims for claim in wanted)
