"""Calendar clients' way in: a key's feed secret in the URL instead of a bearer header.

`?feed=<secret>` (from `ratify feeds create --key NAME`) stands for its key,
with that key's role and board, on the calendar route only. An unknown or
revoked secret (or one of a revoked key) is 401, like a bad token. Without
`feed`, the bearer token is required as on every `/v1` route.
"""

from fastapi import Request

from api import auth
from api.errors import ApiError
from db import feeds
from db.engine import Database
from workflow.actors import Actor, Role

FEED_PARAMETER = "feed"


class AllowFeed(auth.Allow):
    """`auth.Allow`, that also takes a feed secret in the query string."""

    def check(self, request: Request) -> Actor:
        secret = request.query_params.get(FEED_PARAMETER)
        if secret is None:
            return super().check(request)
        db: Database = request.app.state.db
        with db.lookup() as connection:
            actor = feeds.resolve(connection, secret.strip()) if len(secret) < 200 else None
        if actor is None:
            raise ApiError(
                401,
                "unauthenticated",
                "A valid bearer token is required",
                "the feed secret is unknown or revoked (a feed needs a valid feed secret or"
                " bearer token)",
            )
        if actor.role not in self.roles:
            raise ApiError(
                403,
                "forbidden",
                "This token may not do that",
                f"role {actor.role} may not call this route",
            )
        return actor


FEED_READ = AllowFeed(Role.SECRETARIAT, Role.BOARD, Role.AUDITOR)
"""The read roles, by bearer token or by a key's feed secret."""
