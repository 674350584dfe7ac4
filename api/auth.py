"""Who is calling, and may they? Bearer tokens and the contract's role table.

`authenticate` is the one seam that turns a request into an `Actor`: an
OIDC/JWT bearer from a municipality's identity provider would be checked
there instead of (or before) the API-key lookup, mapping its claims to a
role and board. Nothing else in the service reads credentials.
"""

from collections.abc import Callable
from datetime import datetime

from fastapi import Request

from api import refusals
from api.errors import ApiError
from db import keys, loop
from db.engine import Database
from workflow.actors import Actor, Role


def authenticate(request: Request) -> Actor:
    """The actor behind the request's bearer token; 401 when there is none."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthenticated",
            "A valid bearer token is required",
            "send Authorization: Bearer <token>",
        )
    db: Database = request.app.state.db
    now: datetime = request.app.state.clock()
    with db.lookup() as connection:
        found = keys.resolve(connection, token.strip())
    if found is None:
        raise ApiError(
            401,
            "unauthenticated",
            "A valid bearer token is required",
            "the token is unknown or revoked",
        )
    actor, key_id, last_used_at = found
    refusals.note_key(request, actor.name)
    keys.note_use(db, key_id, last_used_at, now)
    return actor


class Allow:
    """A route's access rule: which roles may call it (admin always may).

    Used as a FastAPI dependency; it returns the actor. The route-table test
    finds every `/v1` route's `Allow` and fails for a route without one.
    """

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset({Role.ADMIN, *roles})

    async def __call__(self, request: Request) -> Actor:
        """The caller, checked on the event loop (`db.loop.run`)."""
        return await loop.run(self.check, request)

    def check(self, request: Request) -> Actor:
        """The caller, if this rule lets them in: 401 without a valid token, 403 for a role
        the rule leaves out."""
        actor = authenticate(request)
        if actor.role not in self.roles:
            raise ApiError(
                403,
                "forbidden",
                "This token may not do that",
                f"role {actor.role} may not call this route",
            )
        return actor


READ = Allow(Role.SECRETARIAT, Role.BOARD, Role.AUDITOR)
WRITE_PROGRAMS = Allow(Role.SECRETARIAT)
ADMIN_ONLY = Allow()
DECIDE = Allow(Role.BOARD)
AUDIT_READ = Allow(Role.SECRETARIAT, Role.AUDITOR)
AUDIT_VERIFY = Allow(Role.AUDITOR)


def check_board(actor: Actor, board_id: str) -> None:
    """A board token may act for its own board only (403 `forbidden_board`)."""
    if actor.role is Role.BOARD and actor.board_id != board_id:
        raise ApiError(
            403,
            "forbidden_board",
            "This token acts for another board",
            f"this token records decisions for {actor.board_id} only",
        )


Clock = Callable[[], datetime]
