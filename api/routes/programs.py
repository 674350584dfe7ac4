"""Programs, their versions and which version was in force on a date."""

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api import auth, schemas
from api.deps import ClockDep, SessionDep
from api.errors import ApiError
from api.etags import etag
from api.openapi import headers, problems
from api.routes.common import Cursor, Limit, json_response, version_view_or_404
from api.routing import Router
from api.schemas import IsoDate
from api.writes import Result, WriteDep
from db import commands, models, queries
from db.uow import UnitOfWork
from workflow.actors import Actor
from workflow.dates import today_in_stockholm
from workflow.errors import AlreadyExists, InvalidValue, NotFound

router = Router(prefix="/v1/programs", tags=["programs"])


def _program(session: Session, program_id: str) -> models.Program:
    row = queries.program_row(session, program_id)
    if row is None:
        raise NotFound(f"no program {program_id}")
    return row


@router.get("", response_model=schemas.Page[schemas.Program], operation_id="list_programs")
def list_programs(
    session: SessionDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every program, by id."""
    return json_response(queries.list_programs(session, limit, cursor))


@router.post(
    "",
    status_code=201,
    response_model=schemas.Program,
    operation_id="create_program",
    responses=problems(AlreadyExists, InvalidValue) | headers(201, "Location"),
)
def create_program(
    body: schemas.ProgramIn,
    write: WriteDep,
    actor: Annotated[Actor, Depends(auth.WRITE_PROGRAMS)],
) -> Response:
    """Add a program and the boards whose approval every version needs."""

    def command(uow: UnitOfWork) -> Result:
        commands.create_program(uow, body.id, body.title, body.owner, body.boards)
        uow.flush()
        view = queries.program_view(uow.session, _program(uow.session, body.id))
        return Result(201, view, location=f"/v1/programs/{body.id}")

    return write(actor, body, command)


@router.get("/{program_id}", response_model=schemas.Program, operation_id="get_program")
def get_program(
    program_id: str, session: SessionDep, _actor: Annotated[Actor, Depends(auth.READ)]
) -> Response:
    """One program, with the id of the version in force today."""
    return json_response(queries.program_view(session, _program(session, program_id)))


@router.get(
    "/{program_id}/versions",
    response_model=schemas.Page[schemas.Version],
    operation_id="list_versions",
)
def list_versions(
    program_id: str,
    session: SessionDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The program's versions, oldest first."""
    _program(session, program_id)
    return json_response(queries.list_versions(session, program_id, limit, cursor))


@router.get(
    "/{program_id}/in-force",
    response_model=schemas.Version,
    operation_id="get_version_in_force",
    responses=problems("none_in_force") | headers(200, "ETag"),
)
def in_force(
    program_id: str,
    session: SessionDep,
    clock: ClockDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    on: Annotated[
        IsoDate | None, Query(description="YYYY-MM-DD in Europe/Stockholm; default today")
    ] = None,
) -> Response:
    """The version that was in force on `on`."""
    _program(session, program_id)
    day = on or today_in_stockholm(clock())
    row = queries.in_force_on(session, program_id, day)
    if row is None:
        raise ApiError(
            404,
            "none_in_force",
            "No version was in force",
            f"no version of {program_id} was in force on {day}",
        )
    view = queries.version_view(session, row)
    return json_response(view, headers={"ETag": etag(view)})


@router.post(
    "/{program_id}/versions",
    status_code=201,
    response_model=schemas.Version,
    operation_id="create_version",
    responses=problems(AlreadyExists, InvalidValue) | headers(201, "Location", "ETag"),
)
def create_version(
    program_id: str,
    body: schemas.VersionIn,
    write: WriteDep,
    actor: Annotated[Actor, Depends(auth.WRITE_PROGRAMS)],
) -> Response:
    """Add a drafted version of the program."""
    draft = commands.Draft(
        label=body.label,
        drafted_on=body.drafted_on,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        replaces=body.replaces,
        document_title=body.document.title if body.document else None,
        document_url=body.document.url if body.document else None,
        document_sha256=body.document.sha256 if body.document else None,
    )

    def command(uow: UnitOfWork) -> Result:
        version_id = commands.create_version(uow, program_id, draft)
        uow.flush()
        view = version_view_or_404(uow.session, version_id)
        return Result(201, view, location=f"/v1/versions/{version_id}", etag=etag(view))

    return write(actor, body, command)
