"""The status page: server-rendered HTML for people, behind the same keys as the API.

`install` adds its routes under `/ui`, its stylesheet under `/ui/static` and
the handlers that turn its errors into HTML pages (or a redirect to the
login form) rather than problem+json.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.ui.routes import LoginRequired, PageError, on_login_required, on_page_error, router
from api.ui.templating import STATIC


def install(app: FastAPI) -> None:
    """Serve the status page from `app`."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(PageError, on_page_error)
