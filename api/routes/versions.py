"""Versions: send out, withdraw, and the boards' decisions."""

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from api import auth, schemas
from api.deps import SessionDep
from api.etags import etag, if_match
from api.openapi import headers, problems
from api.routes.common import (
    Cursor,
    Limit,
    json_response,
    version_or_404,
    version_view_or_404,
)
from api.routing import Router
from api.writes import Result, WriteDep
from db import commands, decision_queries, repositories
from db.uow import UnitOfWork
from workflow.actors import Actor
from workflow.decisions import Decision
from workflow.errors import (
    AlreadyDecided,
    DocumentMismatch,
    InvalidTransition,
    InvalidValue,
    NotAMember,
    PreconditionFailed,
    PredecessorNotInForce,
)

router = Router(prefix="/v1/versions", tags=["versions"])


def _version_result(uow: UnitOfWork, version_id: str) -> Result:
    uow.flush()
    view = version_view_or_404(uow.session, version_id)
    return Result(200, view, etag=etag(view))


@router.get(
    "/{version_id}",
    response_model=schemas.Version,
    operation_id="get_version",
    responses=headers(200, "ETag"),
)
def get_version(
    version_id: str, session: SessionDep, _actor: Annotated[Actor, Depends(auth.READ)]
) -> Response:
    """One version with every member board's status; the ETag is for `If-Match`."""
    view = version_view_or_404(session, version_id)
    return json_response(view, headers={"ETag": etag(view)})


@router.post(
    "/{version_id}/send-out",
    response_model=schemas.Version,
    operation_id="send_out_version",
    responses=problems(InvalidTransition, InvalidValue, PreconditionFailed) | headers(200, "ETag"),
)
def send_out(
    version_id: str,
    body: schemas.SendOutIn,
    write: WriteDep,
    actor: Annotated[Actor, Depends(auth.WRITE_PROGRAMS)],
) -> Response:
    """Send a drafted version out for decision, with the answer date."""

    def command(uow: UnitOfWork) -> Result:
        commands.send_out(uow, version_id, body.respond_by, if_match(write.info.if_match))
        return _version_result(uow, version_id)

    return write(actor, body, command)


@router.post(
    "/{version_id}/withdraw",
    response_model=schemas.Version,
    operation_id="withdraw_version",
    responses=problems(InvalidTransition, PreconditionFailed) | headers(200, "ETag"),
)
def withdraw(
    version_id: str,
    body: schemas.WithdrawIn,
    write: WriteDep,
    actor: Annotated[Actor, Depends(auth.WRITE_PROGRAMS)],
) -> Response:
    """Withdraw a version that is drafted or out for decision."""

    def command(uow: UnitOfWork) -> Result:
        commands.withdraw(uow, version_id, body.reason, if_match(write.info.if_match))
        return _version_result(uow, version_id)

    return write(actor, body, command)


@router.post(
    "/{version_id}/decisions",
    status_code=201,
    response_model=schemas.Decision,
    operation_id="record_decision",
    responses=problems(
        InvalidTransition,
        AlreadyDecided,
        PredecessorNotInForce,
        DocumentMismatch,
        NotAMember,
        InvalidValue,
        PreconditionFailed,
        "forbidden_board",
    )
    | headers(201, "Location"),
)
def record_decision(
    version_id: str,
    body: schemas.DecisionIn,
    write: WriteDep,
    actor: Annotated[Actor, Depends(auth.DECIDE)],
) -> Response:
    """Record a board's decision; the last approval puts the version in force."""
    auth.check_board(actor, body.board_id)
    decision = Decision(id=commands.new_id(), **body.model_dump())

    def command(uow: UnitOfWork) -> Result:
        state = commands.record_decision(uow, version_id, decision, if_match(write.info.if_match))
        row = repositories.decision_row(version_id, decision, actor, uow.now)
        view = decision_queries.decision_view(row, state)
        return Result(201, view, location=f"/v1/decisions/{decision.id}")

    return write(actor, body, command)


@router.get(
    "/{version_id}/decisions",
    response_model=schemas.Page[schemas.Decision],
    operation_id="list_decisions",
)
def list_decisions(
    version_id: str,
    session: SessionDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every decision recorded on the version, in the order recorded."""
    return json_response(
        decision_queries.list_decisions(session, version_or_404(session, version_id), limit, cursor)
    )
