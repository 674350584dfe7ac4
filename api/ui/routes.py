"""The status page's routes: sign in and out, a program at a glance, a version's events.

The pages take the same roles as the JSON routes they mirror (`auth.READ`
for a program, `auth.AUDIT_READ` for the events, `auth.AUDIT_VERIFY` for the
chain check). Without a valid session they send the browser to the login
form (303); unknown ids get a 404 page, a role that may not look a 403 page.
"""

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import auth, refusals
from api.deps import DbDep, SessionDep
from api.ui import session as sessions
from api.ui.i18n import Lang, Words, choose, other
from api.ui.templating import render
from api.ui.views import audit_page, program_page
from db import audit_queries, queries
from db.numbers import ascii_int
from workflow.actors import Role
from workflow.dates import today_in_stockholm

router = APIRouter(prefix="/ui", include_in_schema=False)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
LANG_MAX_AGE = 365 * 24 * 3600


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML error page, never problem+json."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class LoginRequired(Exception):
    """No valid session: the browser goes to the login form."""


def language(request: Request, lang: str | None = None) -> Lang:
    """The page's language (`?lang=`, then the cookie, then Swedish)."""
    return choose(lang, request.cookies.get(sessions.LANG_COOKIE))


LangDep = Annotated[Lang, Depends(language)]


def session_secret(request: Request) -> bytes:
    """The server's secret for sessions, read (or made) once per app."""
    secret: bytes | None = getattr(request.app.state, "ui_session_secret", None)
    if secret is None:
        settings = request.app.state.settings
        secret = sessions.server_secret(settings.session_secret, settings.session_secret_file)
        request.app.state.ui_session_secret = secret
    return secret


def viewer(request: Request, db: DbDep) -> sessions.SignedIn | None:
    """Who the session cookie stands for, if anyone."""
    found = sessions.resume(
        db,
        session_secret(request),
        request.app.state.clock,
        request.cookies.get(sessions.SESSION_COOKIE),
    )
    request.state.ui_viewer = found
    if found is not None:
        refusals.note_key(request, found.actor.name)
    return found


def signed_in(found: Annotated[sessions.SignedIn | None, Depends(viewer)]) -> sessions.SignedIn:
    """The signed-in viewer; without one, `LoginRequired`."""
    if found is None:
        raise LoginRequired
    return found


ViewerDep = Annotated[sessions.SignedIn, Depends(signed_in)]
MaybeViewerDep = Annotated[sessions.SignedIn | None, Depends(viewer)]


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a url-encoded form (first value of each), {} for anything else."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items()}


FormDep = Annotated[dict[str, str], Depends(form_fields)]


def harden(response: Response) -> Response:
    """The page's security headers."""
    response.headers.update(SECURITY_HEADERS)
    return response


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    """A cookie for the UI's paths only: HttpOnly, Secure, SameSite=Strict."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=sessions.COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def drop_cookie(response: Response, name: str) -> None:
    """Tell the browser to forget a UI cookie."""
    response.delete_cookie(
        name, path=sessions.COOKIE_PATH, secure=True, httponly=True, samesite="strict"
    )


def toggle_href(request: Request, lang: Lang) -> str:
    """This page in the other language (relative, other query parameters kept)."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    params["lang"] = other(lang)
    return f"{request.url.path}?{urlencode(params)}"


def page(
    request: Request,
    lang: Lang,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
) -> HTMLResponse:
    """Render `template` with what every page needs; remember an explicit `?lang=`."""
    found: sessions.SignedIn | None = getattr(request.state, "ui_viewer", None)
    words = Words(lang)
    html = render(
        template,
        {
            "t": words,
            "lang": lang,
            "toggle_lang": other(lang),
            "toggle_href": toggle_href(request, lang),
            "viewer": found,
            "csrf": found.csrf() if found else "",
            **context,
        },
    )
    response = HTMLResponse(html, status)
    if request.query_params.get("lang") == lang:
        set_cookie(response, sessions.LANG_COOKIE, lang, LANG_MAX_AGE)
    harden(response)
    return response


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other (a GET after a POST), with the security headers."""
    response = RedirectResponse(url, 303)
    harden(response)
    return response


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of the UI, never another site."""
    if (
        target
        and target.startswith("/ui/")
        and not target.startswith("/ui/login")
        and "\\" not in target
        and "//" not in target
        and "/../" not in target
        and all(0x20 < ord(c) < 0x7F for c in target)
    ):
        return target
    return "/ui/programs"


# --- signing in and out ------------------------------------------------------


def login_form(
    request: Request, lang: Lang, next_: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    """The login form with a fresh CSRF token (also set as a cookie: double submit)."""
    token = sessions.new_csrf()
    response = page(
        request,
        lang,
        "login.html",
        {
            "form_csrf": token,
            "next": safe_next(next_),
            "error": error,
            "bye": request.query_params.get("bye") == "1",
        },
        status,
    )
    set_cookie(response, sessions.CSRF_COOKIE, token)
    return response


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    """The status page starts at the list of programs."""
    return redirect("/ui/programs")


@router.get("/login", response_class=HTMLResponse)
def login(
    request: Request,
    lang: LangDep,
    found: MaybeViewerDep,
    next_: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    """The login form (or straight on, for someone already signed in)."""
    if found is not None:
        return redirect(safe_next(next_))
    return login_form(request, lang, safe_next(next_))


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, lang: LangDep, db: DbDep, form: FormDep) -> Response:
    """Check the token; on success a session cookie (never the token) and on to `next`."""
    next_ = safe_next(form.get("next"))
    words = Words(lang)
    if not sessions.csrf_matches(request.cookies.get(sessions.CSRF_COOKIE), form.get("csrf")):
        return login_form(request, lang, next_, words("form_expired"), 400)
    now = request.app.state.clock()
    cookie = sessions.sign_in(db, session_secret(request), form.get("token", ""), now)
    if cookie is None:
        return login_form(request, lang, next_, words("login_failed"), 400)
    response = redirect(next_)
    set_cookie(response, sessions.SESSION_COOKIE, cookie)
    drop_cookie(response, sessions.CSRF_COOKIE)
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, lang: LangDep, found: MaybeViewerDep, form: FormDep) -> Response:
    """End the session (the form's CSRF token must be the session's)."""
    if found is not None and not found.csrf_ok(form.get("csrf", "")):
        words = Words(lang)
        raise PageError(400, words("form_expired"), words("form_expired"))
    response = redirect("/ui/login?bye=1")
    drop_cookie(response, sessions.SESSION_COOKIE)
    return response


# --- the pages ---------------------------------------------------------------


def require(found: sessions.SignedIn, allowed: frozenset[Role], words: Words) -> None:
    """A 403 page unless the viewer's role is among `allowed`."""
    if found.actor.role not in allowed:
        role = words.label("role", found.actor.role.value)
        raise PageError(403, words("forbidden_title"), words("forbidden", role=role))


def may(found: sessions.SignedIn, allowed: frozenset[Role]) -> bool:
    """Whether the viewer's role is among `allowed`."""
    return found.actor.role in allowed


@router.get("/programs", response_class=HTMLResponse)
def programs(request: Request, lang: LangDep, found: ViewerDep, session: SessionDep) -> Response:
    """Every program, linked."""
    require(found, auth.READ.roles, Words(lang))
    return page(request, lang, "programs.html", {"programs": queries.programs(session)})


@router.get("/programs/{program_id}", response_class=HTMLResponse)
def program(
    request: Request, program_id: str, lang: LangDep, found: ViewerDep, session: SessionDep
) -> Response:
    """A program at a glance: its versions, what is in force, the open round's grid."""
    words = Words(lang)
    require(found, auth.READ.roles, words)
    row = queries.program_row(session, program_id)
    if row is None:
        what = words("what_program")
        raise PageError(404, words("not_found_title"), words("not_found", what=what, id=program_id))
    today = today_in_stockholm(request.app.state.clock())
    context = {
        "view": program_page(session, row, today),
        "may_audit": may(found, auth.AUDIT_READ.roles),
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
    before: Annotated[str | None, Query(description="show events below this seq")] = None,
) -> Response:
    """A version's events, newest first, and (for auditors) whether the chains hold."""
    words = Words(lang)
    require(found, auth.AUDIT_READ.roles, words)
    row = queries.version_row(session, version_id)
    if row is None:
        what = words("what_version")
        raise PageError(404, words("not_found_title"), words("not_found", what=what, id=version_id))
    verification = (
        audit_queries.verify_database(db) if may(found, auth.AUDIT_VERIFY.roles) else None
    )
    below = ascii_int(before) if before else None
    context = {"view": audit_page(session, row, below), "verification": verification}
    return page(request, lang, "audit.html", context)


# --- errors ------------------------------------------------------------------


def on_login_required(request: Request, _exc: Exception) -> Response:
    """303 to the login form, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/ui/login?next={quote(target, safe='/')}")


def on_page_error(request: Request, exc: Exception) -> Response:
    """The error as an HTML page in the viewer's language."""
    assert isinstance(exc, PageError)
    if exc.status == 403:
        refusals.record(request, 403, "forbidden")
    lang = choose(request.query_params.get("lang"), request.cookies.get(sessions.LANG_COOKIE))
    return page(
        request, lang, "error.html", {"title": exc.title, "message": exc.message}, exc.status
    )
