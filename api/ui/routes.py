"""The status page's pages: the programs, a program at a glance, a version's events.

The pages take the same roles as the JSON routes they mirror (`auth.READ`
for a program, `auth.AUDIT_READ` for the events, `auth.AUDIT_VERIFY` for the
chain check). Signing in and out is in `signin.py`, the forms that act in
`actions.py`, the diagrams in `diagram.py`.
"""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from api import auth
from api.deps import ClockDep, DbDep, SessionDep
from api.routing import Router
from api.ui import actions
from api.ui.i18n import Words
from api.ui.views import audit_page, program_page
from api.ui.web import LangDep, ViewerDep, may, not_found, page, redirect, require
from db import audit_verify, queries
from db.numbers import ascii_int
from workflow.dates import today_in_stockholm

router = Router(prefix="/ui", include_in_schema=False)

DONE = frozenset(action.key for action in actions.ACTIONS)
"""The `?done=` values the program page thanks for (what a form just did)."""


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    """The status page starts at the list of programs."""
    return redirect("/ui/programs")


@router.get("/programs", response_class=HTMLResponse)
def programs(request: Request, lang: LangDep, found: ViewerDep, session: SessionDep) -> Response:
    """Every program, linked."""
    require(found, auth.READ.roles, Words(lang))
    return page(request, lang, "programs.html", {"programs": queries.programs(session)})


@router.get("/programs/{program_id}", response_class=HTMLResponse)
def program(
    request: Request,
    program_id: str,
    lang: LangDep,
    found: ViewerDep,
    session: SessionDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """A program at a glance: its versions, what is in force, the open round's grid,
    and the forms the viewer may use."""
    words = Words(lang)
    require(found, auth.READ.roles, words)
    row = queries.program_row(session, program_id)
    if row is None:
        raise not_found(words, "what_program", program_id)
    today = today_in_stockholm(request.app.state.clock())
    view = program_page(session, row, today)
    context = {
        "view": view,
        "may_audit": may(found, auth.AUDIT_READ.roles),
        "offers": {v["id"]: actions.offers(found.actor, v) for v in view.versions},
        "may_draft": actions.may_draft(found.actor),
        "done": done if done in DONE else None,
    }
    return page(request, lang, "program.html", context)


@router.get("/versions/{version_id}/audit", response_class=HTMLResponse)
def version_audit(
    request: Request,
    version_id: str,
    lang: LangDep,
    found: ViewerDep,
    session: SessionDep,
    db: DbDep,
    clock: ClockDep,
    before: Annotated[str | None, Query(description="show events below this seq")] = None,
    verify: Annotated[str | None, Query(description="`full`: re-hash the whole trail")] = None,
) -> Response:
    """A version's events, newest first, and (for auditors) whether the chains hold.

    The check re-hashes only what follows the verified heads (cheap on every
    view); `?verify=full` re-hashes the whole trail.
    """
    words = Words(lang)
    require(found, auth.AUDIT_READ.roles, words)
    row = queries.version_row(session, version_id)
    if row is None:
        raise not_found(words, "what_version", version_id)
    verification = None
    if may(found, auth.AUDIT_VERIFY.roles):
        verification = audit_verify.verify_database(db, clock(), incremental=verify != "full")
    below = ascii_int(before) if before else None
    context = {"view": audit_page(session, row, below), "verification": verification}
    return page(request, lang, "audit.html", context)
