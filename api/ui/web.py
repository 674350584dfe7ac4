"""What every status page route shares: the viewer, the language, pages, cookies, errors.

Without a valid session a page sends the browser to the login form (303);
unknown ids get a 404 page, a role that may not look or act a 403 page,
never problem+json.
"""

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import refusals
from api.deps import DbDep
from api.ui import session as sessions
from api.ui.i18n import Lang, Words, choose, other
from api.ui.templating import render
from db import loop
from db.engine import Database
from workflow.actors import Role

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
MAX_FORM_FIELDS = 40


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML error page, never problem+json."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class LoginRequired(Exception):
    """No valid session: the browser goes to the login form."""


async def language(request: Request, lang: str | None = None) -> Lang:
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


async def viewer(request: Request, db: DbDep) -> sessions.SignedIn | None:
    """Who the session cookie stands for, if anyone (looked up on the event loop)."""
    return await loop.run(_viewer, request, db)


def _viewer(request: Request, db: Database) -> sessions.SignedIn | None:
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


async def signed_in(
    found: Annotated[sessions.SignedIn | None, Depends(viewer)],
) -> sessions.SignedIn:
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
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items()}


FormDep = Annotated[dict[str, str], Depends(form_fields)]


def harden(response: Response) -> Response:
    """The page's security headers."""
    response.headers.update(SECURITY_HEADERS)
    return response


def set_cookie(
    response: Response,
    name: str,
    value: str,
    max_age: int | None = None,
    path: str = sessions.COOKIE_PATH,
    samesite: str = "strict",
) -> None:
    """A cookie for the UI's paths only: HttpOnly, Secure, SameSite=Strict unless told."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=True,
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
    )


def drop_cookie(
    response: Response, name: str, path: str = sessions.COOKIE_PATH, samesite: str = "strict"
) -> None:
    """Tell the browser to forget a UI cookie."""
    response.delete_cookie(
        name,
        path=path,
        secure=True,
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
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


def require(found: sessions.SignedIn, allowed: frozenset[Role], words: Words) -> None:
    """A 403 page unless the viewer's role is among `allowed`."""
    if found.actor.role not in allowed:
        role = words.label("role", found.actor.role.value)
        raise PageError(403, words("forbidden_title"), words("forbidden", role=role))


def may(found: sessions.SignedIn, allowed: frozenset[Role]) -> bool:
    """Whether the viewer's role is among `allowed`."""
    return found.actor.role in allowed


def not_found(words: Words, what: str, id_: str) -> PageError:
    """The 404 page of an unknown program or version."""
    return PageError(404, words("not_found_title"), words("not_found", what=words(what), id=id_))


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
