"""The status page: server-rendered HTML for people, behind the same rules as the API.

`install` adds its routes under `/ui` (pages, signing in and out, the forms
that act, the state diagrams), its stylesheet under `/ui/static`, the
identity provider when one is configured, and the handlers that turn its
errors into HTML pages (or a redirect to the login form) rather than
problem+json.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.settings import oidc_config
from api.ui import actions, diagram, routes, signin
from api.ui.oidc import Provider
from api.ui.templating import STATIC
from api.ui.web import LoginRequired, PageError, on_login_required, on_page_error


def install(app: FastAPI) -> None:
    """Serve the status page from `app` (whose `state.settings` are set)."""
    config = oidc_config(app.state.settings)
    app.state.oidc = Provider(config) if config is not None else None
    for module in (routes, signin, actions, diagram):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(PageError, on_page_error)
