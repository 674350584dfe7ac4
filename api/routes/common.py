"""Small pieces every router uses: paging parameters and JSON responses."""

from typing import Annotated, Any

from fastapi import Path, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.encoding import dumps
from api.lines import SINGLE_LINE
from db import models, queries
from db.numbers import INT63_MAX
from workflow.errors import NotFound

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, Query(max_length=500, description="from `next_cursor`")]
Line = Annotated[str, SINGLE_LINE]
"""A query string's text: one line, no control characters (a NUL would reach the database)."""
NumericId = Annotated[int, Path(ge=1, le=INT63_MAX, description="a positive 64-bit integer")]
"""An integer id in a path: bounded, so no number reaches the database that it cannot hold."""


def version_or_404(session: Session, version_id: str) -> models.Version:
    """The version with that id; 404 `not_found` when there is none."""
    row = queries.version_row(session, version_id)
    if row is None:
        raise NotFound(f"no version {version_id}")
    return row


def version_view_or_404(session: Session, version_id: str) -> queries.View:
    """The version's view (`queries.version_view`); 404 `not_found` when there is none."""
    view = queries.version_view_by_id(session, version_id)
    if view is None:
        raise NotFound(f"no version {version_id}")
    return view


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the contract's encoding of dates and timestamps."""
    return Response(dumps(body), status, headers=headers, media_type="application/json")
