"""Evidence and openness: certificates of adoption, publishing a program, deadline calendars.

- `GET /v1/versions/{id}/certificate` (read roles): the signed certificate
  (`workflow.certificates`), or `?format=html` its printable rendering;
- `PATCH /v1/programs/{id}` (admin, secretariat) `{"public": bool}`;
- `GET /v1/programs/{id}/deadlines.ics` (read roles, or a key's feed secret).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field, StrictBool
from sqlalchemy.orm import Session

from api import auth, calendar, certificates, schemas
from api.certificate_schema import Certificate
from api.deps import ClockDep, DbDep, SessionDep
from api.feed_auth import FEED_PARAMETER, FEED_READ
from api.openapi import CalendarText, content, problems
from api.routes.common import json_response
from api.routing import Router
from api.ui.evidence_words import both
from api.ui.i18n import Words
from api.ui.templating import render
from api.ui.web import SECURITY_HEADERS
from api.writes import Result, WriteDep
from db import deadlines, publicity, queries
from db.uow import UnitOfWork
from workflow.actors import Actor
from workflow.deadlines import deadlines as deadlines_of
from workflow.errors import InvalidTransition, NotFound

router = Router(tags=["evidence"])


class PublicIn(schemas.In):
    """Whether the program is shown on the public notice page."""

    public: StrictBool = Field(description="true: shown at /public/programs/{id}")


@router.get(
    "/v1/versions/{version_id}/certificate",
    response_model=Certificate,
    operation_id="get_certificate",
    responses=problems(InvalidTransition, "chain_broken") | content(200, "text/html"),
)
def certificate(
    version_id: str,
    request: Request,
    db: DbDep,
    clock: ClockDep,
    _actor: Annotated[Actor, Depends(auth.READ)],
    format: Annotated[Literal["json", "html"], Query(description="html: printable")] = "json",
) -> Response:
    """The certificate of adoption (or of rejection) of a version in force, superseded or
    rejected: every member board's decision, bound to the audit events that recorded them
    and to the document's SHA-256, signed with the key of `GET /v1/certificate-key`.

    Check it offline with `ratify certificate verify FILE`.
    """
    key: Ed25519PrivateKey = request.app.state.signing_key
    document = certificates.issue(db, key, version_id, clock())
    if format == "json":
        filename = f"certificate-{version_id}.json"
        return json_response(
            document, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )
    html = render("certificate.html", _certificate_context(document))
    return HTMLResponse(html, headers=SECURITY_HEADERS)


def _certificate_context(document: dict[str, Any]) -> dict[str, Any]:
    """What the printable certificate shows: the statement, its signature, both languages."""
    statement = document["statement"]
    return {
        "s": statement,
        "signature": document["signature"],
        "both": both,
        "sv": Words("sv"),
        "en": Words("en"),
        "title": both(f"certificate_{statement['kind']}"),
        "decided": [d for d in statement["decisions"] if d["decision"]],
    }


@router.patch(
    "/v1/programs/{program_id}", response_model=schemas.Program, operation_id="publish_program"
)
def publish(
    program_id: str,
    body: PublicIn,
    write: WriteDep,
    actor: Annotated[Actor, Depends(auth.WRITE_PROGRAMS)],
) -> Response:
    """Show the program on the public notice page (`{"public": true}`) or stop showing it;
    events `program.published` / `program.unpublished` (none when nothing changes)."""

    def command(uow: UnitOfWork) -> Result:
        publicity.set_public(uow, program_id, body.public)
        uow.flush()
        row = queries.program_row(uow.session, program_id)
        if row is None:
            raise NotFound(f"no program {program_id}")
        return Result(200, queries.program_view(uow.session, row))

    return write(actor, body, command)


def deadline_calendar(session: Session, program_id: str, title: str, now: datetime) -> Response:
    """The program's deadlines as `text/calendar` (shared with the public route)."""
    versions, events = deadlines.facts(session, program_id)
    body = calendar.calendar(program_id, title, deadlines_of(versions, events, now))
    return Response(
        body,
        media_type=calendar.MEDIA_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{program_id}-deadlines.ics"',
            "Cache-Control": "no-cache",
        },
    )


@router.get(
    "/v1/programs/{program_id}/deadlines.ics",
    response_class=CalendarText,
    operation_id="get_program_deadlines",
)
def program_deadlines(
    program_id: str,
    session: SessionDep,
    clock: ClockDep,
    _actor: Annotated[Actor, Depends(FEED_READ)],
    feed: Annotated[
        str | None,
        Query(
            alias=FEED_PARAMETER,
            max_length=200,
            description="a key's feed secret (`ratify feeds create --key NAME`), for calendar"
            " clients that cannot send a bearer token",
        ),
    ] = None,
) -> Response:
    """The program's deadlines as an iCalendar feed: answers due while a version is out,
    each decision's last day to appeal and legal-force date, each version's legal-force
    date; all-day entries with stable UIDs."""
    row = queries.program_row(session, program_id)
    if row is None:
        raise NotFound(f"no program {program_id}")
    return deadline_calendar(session, program_id, row.title, clock())
