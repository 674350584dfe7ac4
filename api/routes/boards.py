"""Boards: the municipalities' deciding bodies."""

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from api import auth, schemas
from api.deps import SessionDep
from api.openapi import headers, problems
from api.routes.common import Cursor, Limit, json_response
from api.routing import Router
from api.writes import Result, WriteDep
from db import commands, queries
from db.uow import UnitOfWork
from workflow.actors import Actor
from workflow.errors import AlreadyExists

router = Router(prefix="/v1/boards", tags=["boards"])


@router.get("", response_model=schemas.Page[schemas.Board], operation_id="list_boards")
def list_boards(
    session: SessionDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every board, by id."""
    return json_response(queries.list_boards(session, limit, cursor))


@router.post(
    "",
    status_code=201,
    response_model=schemas.Board,
    operation_id="create_board",
    responses=problems(AlreadyExists) | headers(201, "Location"),
)
def create_board(
    body: schemas.BoardIn,
    write: WriteDep,
    actor: Annotated[Actor, Depends(auth.ADMIN_ONLY)],
) -> Response:
    """Add a board (admin)."""

    def command(uow: UnitOfWork) -> Result:
        fields = body.model_dump()
        view = commands.create_board(uow, fields.pop("id"), **fields)
        return Result(201, view, location=f"/v1/boards/{body.id}")

    return write(actor, body, command)
