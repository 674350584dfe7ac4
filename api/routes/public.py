"""The public notice page (anslagstavla) and calendar of a public program, without sign-in.

`GET /public/programs/{id}` shows the versions, which is in force since when,
and each member municipality's decision (§, diarienummer, dates, appeal
period, legal force); `GET /public/programs/{id}/deadlines.ics` the same
program's deadlines. A program that is not public answers exactly as one
that does not exist: the same 404 page, byte for byte, with the same
headers (the id is not echoed), so the URL tells nothing about it.
"""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ClockDep, SessionDep
from api.routes.evidence import deadline_calendar
from api.routing import Router
from api.ui.evidence_words import EvidenceWords
from api.ui.i18n import Lang, choose, other
from api.ui.templating import render
from api.ui.web import SECURITY_HEADERS
from db import publicity
from workflow.dates import today_in_stockholm

router = Router(prefix="/public", include_in_schema=False)

LangQuery = Annotated[str | None, Query(max_length=8, description="sv or en")]


def _page(
    template: str, lang: Lang, path: str, context: dict[str, object], status: int
) -> Response:
    """A public page: the evidence words, the language toggle, the status page's headers."""
    html = render(
        template,
        {
            "t": EvidenceWords(lang),
            "lang": lang,
            "toggle_lang": other(lang),
            "toggle_href": f"{path}?lang={other(lang)}",
            **context,
        },
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


def not_public(lang: Lang) -> Response:
    """The one 404 answer for a program that is unknown or not public (no id in it)."""
    return _page("public_404.html", lang, "/public/programs", {}, 404)


@router.get("/programs/{program_id}", response_class=HTMLResponse)
def notice_board(
    request: Request,
    program_id: str,
    session: SessionDep,
    clock: ClockDep,
    lang: LangQuery = None,
) -> Response:
    """A public program's notice page."""
    chosen = choose(lang, None)
    program = publicity.public_program(session, program_id)
    if program is None:
        return not_public(chosen)
    view = publicity.notice_board(session, program, today_in_stockholm(clock()))
    return _page("public_program.html", chosen, request.url.path, {"view": view}, 200)


@router.get("/programs/{program_id}/deadlines.ics")
def public_deadlines(
    program_id: str, session: SessionDep, clock: ClockDep, lang: LangQuery = None
) -> Response:
    """A public program's deadlines as an iCalendar feed (no key needed)."""
    program = publicity.public_program(session, program_id)
    if program is None:
        return not_public(choose(lang, None))
    return deadline_calendar(session, program.id, program.title, clock())
