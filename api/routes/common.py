"""Small pieces every router uses: paging parameters and JSON responses."""

from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

from api.encoding import dumps

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, Query(max_length=500, description="from `next_cursor`")]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the contract's encoding of dates and timestamps."""
    return Response(dumps(body), status, headers=headers, media_type="application/json")
