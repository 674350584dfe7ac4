"""Signing in and out of the status page: with an API key, or as a person through OpenID Connect.

The OpenID Connect sign-in (when `RATIFY_OIDC_*` are set):

1. `GET /ui/login/oidc?next=…` makes a `state`, a `nonce` and a PKCE
   verifier, keeps them server-side under a hash of the state
   (`db/sessions.py`, ten minutes), sets the state in a cookie bound to
   this browser (`ratify_oidc`, SameSite=Lax so it comes back from the
   provider's redirect) and sends the browser to the provider.
2. `GET /ui/login/oidc/callback?code&state&iss` needs that cookie to match
   `state` and takes the stored sign-in, so a state is good once (a replay
   finds nothing); an answer from another issuer is refused; the code is
   redeemed with the verifier; the ID token is checked (`oidc.Provider`);
   the claims give the person's role and board (`claims.person`). Then a
   session, and a page that moves on by itself: a session cookie is
   SameSite=Strict, which a browser would not send on the provider's chain
   of redirects, so the step on is a navigation of ratify's own page.

Anything refused is a readable page (`refused.html`), never a session.
Sign-out ends the session's row (every process refuses the cookie at once)
and, for a person, goes on to the provider's `end_session_endpoint` (by a
page that moves on by itself: the sign-out form is posted under the CSP's
`form-action 'self'`, which also governs where its redirect may lead).
"""

import hashlib
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import DbDep, SessionDep
from api.routing import Router
from api.ui import session as sessions
from api.ui.claims import SignInRefused, person
from api.ui.i18n import Lang, Words
from api.ui.oidc import Provider
from api.ui.web import (
    FormDep,
    LangDep,
    MaybeViewerDep,
    PageError,
    drop_cookie,
    page,
    redirect,
    safe_next,
    session_secret,
    set_cookie,
)
from db import queries
from db import sessions as stored

router = Router(prefix="/ui", include_in_schema=False)

LOGIN_LIFETIME = timedelta(minutes=10)
"""How long a person may take at the provider before the sign-in runs out."""
CALLBACK = "/ui/login/oidc/callback"


def provider_of(request: Request) -> Provider | None:
    """The identity provider, when one is configured."""
    found: Provider | None = getattr(request.app.state, "oidc", None)
    return found


def base_url(request: Request, provider: Provider) -> str:
    """The service's own address: `RATIFY_PUBLIC_URL`, else the request's."""
    return provider.config.public_url or f"{request.url.scheme}://{request.url.netloc}"


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
            "oidc": provider_of(request) is not None,
        },
        status,
    )
    set_cookie(response, sessions.CSRF_COOKIE, token)
    return response


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
    cookie = sessions.sign_in_with_key(db, session_secret(request), form.get("token", ""), now)
    if cookie is None:
        return login_form(request, lang, next_, words("login_failed"), 400)
    response = redirect(next_)
    set_cookie(response, sessions.SESSION_COOKIE, cookie)
    drop_cookie(response, sessions.CSRF_COOKIE)
    return response


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "replace")).hexdigest()


SIGNED_IN_ELSEWHERE = frozenset({"oidc_no_role", "oidc_many_roles", "oidc_unknown_board"})
"""Refusals of a person the provider did sign in: offer to sign out there (to switch account)."""


def _refused(request: Request, lang: Lang, refusal: SignInRefused) -> Response:
    words = Words(lang)
    provider = provider_of(request)
    leave = None
    if provider is not None and refusal.reason in SIGNED_IN_ELSEWHERE:
        leave = provider.end_session_url(base_url(request, provider) + "/ui/login?bye=1")
    context = {
        "reason": refusal.reason,
        "message": words(refusal.reason, **refusal.values),
        "detail": refusal.detail[:500],
        "provider_logout": leave,
    }
    response = page(request, lang, "refused.html", context, refusal.status)
    drop_cookie(response, sessions.OIDC_COOKIE, sessions.OIDC_COOKIE_PATH, "lax")
    return response


@router.get("/login/oidc", response_class=HTMLResponse)
def oidc_start(
    request: Request,
    lang: LangDep,
    db: DbDep,
    next_: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    """Send the browser to the identity provider (code flow, PKCE, state, nonce)."""
    provider = provider_of(request)
    words = Words(lang)
    if provider is None:
        raise PageError(404, words("not_found_title"), words("oidc_off"))
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    redirect_uri = base_url(request, provider) + CALLBACK
    try:
        target = provider.authorization_url(redirect_uri, state, nonce, verifier)
    except SignInRefused as refusal:
        return _refused(request, lang, refusal)
    pending = stored.PendingLogin(nonce, verifier, safe_next(next_))
    stored.begin_login(db, _state_hash(state), pending, request.app.state.clock(), LOGIN_LIFETIME)
    response = redirect(target)
    set_cookie(
        response,
        sessions.OIDC_COOKIE,
        state,
        int(LOGIN_LIFETIME.total_seconds()),
        path=sessions.OIDC_COOKIE_PATH,
        samesite="lax",
    )
    return response


@router.get("/login/oidc/callback", response_class=HTMLResponse)
def oidc_callback(request: Request, lang: LangDep, db: DbDep, session: SessionDep) -> Response:
    """Finish the sign-in: check it all, then a session for the person it names."""
    provider = provider_of(request)
    words = Words(lang)
    if provider is None:
        raise PageError(404, words("not_found_title"), words("oidc_off"))
    params = request.query_params
    state = params.get("state", "")
    now = request.app.state.clock()
    try:
        bound = request.cookies.get(sessions.OIDC_COOKIE, "")
        if not state or not secrets.compare_digest(
            bound.encode("utf-8", "replace"), state.encode("utf-8", "replace")
        ):
            raise SignInRefused("oidc_other_browser", "state does not match this browser's")
        pending = stored.take_login(db, _state_hash(state), now)
        if pending is None:
            raise SignInRefused("oidc_replayed", "no sign-in under way has this state")
        provider.check_response_issuer(params.get("iss"))
        if "error" in params:
            detail = f"{params.get('error', '')}: {params.get('error_description', '')}"
            raise SignInRefused("oidc_provider_said", detail[:300])
        if not params.get("code"):
            raise SignInRefused("oidc_provider_refused", "the answer holds no code")
        redirect_uri = base_url(request, provider) + CALLBACK
        claims = provider.redeem(
            redirect_uri,
            f"{redirect_uri}?{request.url.query}",
            state,
            pending.code_verifier,
            pending.nonce,
            now,
        )
        actor = person(claims, provider.config, queries.boards_by_id(session))
    except SignInRefused as refusal:
        return _refused(request, lang, refusal)
    cookie = sessions.sign_in_person(db, session_secret(request), actor, now)
    response = page(request, lang, "signed_in.html", {"next": pending.next_path})
    set_cookie(response, sessions.SESSION_COOKIE, cookie)
    drop_cookie(response, sessions.OIDC_COOKIE, sessions.OIDC_COOKIE_PATH, "lax")
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(
    request: Request, lang: LangDep, db: DbDep, found: MaybeViewerDep, form: FormDep
) -> Response:
    """End the session in every process (the form's CSRF token must be the session's);
    a person goes on to sign out at the identity provider when it offers that."""
    after = "/ui/login?bye=1"
    provider_logout = None
    if found is not None:
        if not found.csrf_ok(form.get("csrf", "")):
            words = Words(lang)
            raise PageError(400, words("form_expired"), words("form_expired"))
        sessions.sign_out(db, session_secret(request), found, request.app.state.clock())
        provider = provider_of(request)
        if found.actor.is_person and provider is not None:
            provider_logout = provider.end_session_url(base_url(request, provider) + after)
    if provider_logout is None:
        response: Response = redirect(after)
    else:
        # A page that moves on by itself rather than a redirect: the form was posted
        # under `form-action 'self'`, which would stop a redirect to the provider.
        request.state.ui_viewer = None
        response = page(request, lang, "signed_out.html", {"next": provider_logout})
    drop_cookie(response, sessions.SESSION_COOKIE)
    return response
