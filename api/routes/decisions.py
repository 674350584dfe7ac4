"""Decisions after the meeting: one decision, its announcement, appeals, rulings, corrections.

The deciding board's token, the secretariat and an administrator may act on
a decision; a board token for another board gets 403 `forbidden_board`.
"""

from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import Response
from pydantic import ValidationError

from api import auth, schemas
from api.deps import SessionDep
from api.openapi import headers, problems
from api.routes.common import json_response
from api.routing import Router
from api.writes import Result, WriteDep
from db import after_meeting, decision_queries
from db.uow import UnitOfWork
from workflow.actors import Actor, Role
from workflow.errors import (
    AlreadyAnnounced,
    AlreadyRuled,
    InvalidTransition,
    InvalidValue,
    NotCorrectable,
    NotFound,
)
from workflow.states import CORRECTABLE

router = Router(tags=["decisions"])
ACT = auth.Allow(Role.SECRETARIAT, Role.BOARD)
"""The deciding board (checked per decision), the secretariat and an administrator."""

ActorDep = Annotated[Actor, Depends(ACT)]


def _decision_of(session: SessionDep, actor: Actor, decision_id: str) -> None:
    """404 for an unknown decision; 403 `forbidden_board` for another board's token."""
    board_id = decision_queries.board_of_decision(session, decision_id)
    if board_id is None:
        raise NotFound(f"no decision {decision_id}")
    auth.check_board(actor, board_id)


def _decision_result(uow: UnitOfWork, decision_id: str, status: int = 200) -> Result:
    uow.flush()
    view = decision_queries.get_decision(uow.session, decision_id)
    assert view is not None
    return Result(status, view)


@router.get(
    "/v1/decisions/{decision_id}", response_model=schemas.Decision, operation_id="get_decision"
)
def get_decision(
    decision_id: str, session: SessionDep, _actor: Annotated[Actor, Depends(auth.READ)]
) -> Response:
    """One decision: its dates, appeal period, legal force, status, appeals and corrections."""
    view = decision_queries.get_decision(session, decision_id)
    if view is None:
        raise NotFound(f"no decision {decision_id}")
    return json_response(view)


@router.post(
    "/v1/decisions/{decision_id}/announcement",
    response_model=schemas.Decision,
    operation_id="announce_decision",
    responses=problems(AlreadyAnnounced, InvalidValue, "forbidden_board"),
)
def announce(
    decision_id: str,
    body: schemas.AnnouncementIn,
    session: SessionDep,
    write: WriteDep,
    actor: ActorDep,
) -> Response:
    """When the minutes were attested and the attestation announced: the appeal period starts."""
    _decision_of(session, actor, decision_id)

    def command(uow: UnitOfWork) -> Result:
        after_meeting.announce(uow, decision_id, body.minutes_attested_on, body.announced_on)
        return _decision_result(uow, decision_id)

    return write(actor, body, command)


@router.post(
    "/v1/decisions/{decision_id}/appeals",
    status_code=201,
    response_model=schemas.Appeal,
    operation_id="lodge_appeal",
    responses=problems(InvalidTransition, InvalidValue, "forbidden_board")
    | headers(201, "Location"),
)
def lodge_appeal(
    decision_id: str,
    body: schemas.AppealIn,
    session: SessionDep,
    write: WriteDep,
    actor: ActorDep,
) -> Response:
    """An appeal of the decision (laglighetsprövning); a timely one holds its legal force back."""
    _decision_of(session, actor, decision_id)

    def command(uow: UnitOfWork) -> Result:
        _found, appeal_id = after_meeting.lodge_appeal(
            uow, decision_id, body.lodged_on, body.court, body.case_number
        )
        uow.flush()
        view = decision_queries.appeal(uow.session, appeal_id)
        return Result(201, view, location=f"/v1/appeals/{appeal_id}")

    return write(actor, body, command)


@router.get("/v1/appeals/{appeal_id}", response_model=schemas.Appeal, operation_id="get_appeal")
def get_appeal(
    appeal_id: str, session: SessionDep, _actor: Annotated[Actor, Depends(auth.READ)]
) -> Response:
    """One appeal and its ruling, once recorded."""
    view = decision_queries.appeal(session, appeal_id)
    if view is None:
        raise NotFound(f"no appeal {appeal_id}")
    return json_response(view)


@router.post(
    "/v1/appeals/{appeal_id}/ruling",
    response_model=schemas.Appeal,
    operation_id="record_ruling",
    responses=problems(AlreadyRuled, InvalidTransition, InvalidValue, "forbidden_board"),
)
def rule(
    appeal_id: str,
    body: schemas.RulingIn,
    session: SessionDep,
    write: WriteDep,
    actor: ActorDep,
) -> Response:
    """The court's ruling; `annulled` takes the decision out, which may reopen the version."""
    board_id = decision_queries.board_of_appeal(session, appeal_id)
    if board_id is None:
        raise NotFound(f"no appeal {appeal_id}")
    auth.check_board(actor, board_id)

    def command(uow: UnitOfWork) -> Result:
        after_meeting.rule(uow, appeal_id, body.outcome, body.ruled_on, body.ruling_final_on)
        uow.flush()
        return Result(200, decision_queries.appeal(uow.session, appeal_id))

    return write(actor, body, command)


@router.post(
    "/v1/decisions/{decision_id}/corrections",
    status_code=201,
    response_model=schemas.Correction,
    operation_id="correct_decision",
    responses=problems(NotCorrectable, InvalidValue, "forbidden_board") | headers(201, "Location"),
)
def correct(
    decision_id: str,
    body: schemas.CorrectionIn,
    session: SessionDep,
    write: WriteDep,
    actor: ActorDep,
) -> Response:
    """Put right a slip in the record (rättelse): §, diarienummer, dates, note; never the
    outcome."""
    _decision_of(session, actor, decision_id)
    changes = _correctable(body.changes)

    def command(uow: UnitOfWork) -> Result:
        _found, row = after_meeting.correct(uow, decision_id, changes, body.reason)
        uow.flush()
        view = decision_queries.correction_view(row)
        return Result(201, view, location=f"/v1/decisions/{decision_id}")

    return write(actor, body, command)


def _correctable(changes: dict[str, Any]) -> dict[str, Any]:
    """The correction's values, checked as when first given; `not_correctable` for a field
    that is no slip (the outcome, the board)."""
    wrong = sorted(set(changes) - set(CORRECTABLE))
    if wrong:
        raise NotCorrectable(
            f"{', '.join(wrong)} cannot be corrected: a different outcome is a new decision"
        )
    try:
        values = schemas.Correctable.model_validate(changes)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidValue(f"changes: {problems}") from None
    return values.model_dump(include=set(changes))
