"""Refused requests leave a trace: one log line each and a Prometheus counter.

Every 401 and 403 (the API's problem documents and the status page's 403
page) is logged as `request_refused` with the status, the problem code, the
method, the route's path template (`/v1/versions/{version_id}/decisions`,
never the raw path, so ids do not flood the counter) and the name of the
key when the token resolved; never the token. The counter
`ratify_refused_requests_total{status, code, route}` lets an operator alert
on a burst (a leaked token being tried, a misconfigured integration).
"""

import structlog
from prometheus_client import Counter
from starlette.requests import Request

log = structlog.get_logger(__name__)

REFUSED = Counter(
    "ratify_refused_requests",
    "Requests refused with 401 or 403, by status, problem code and route template",
    ["status", "code", "route"],
)

UNMATCHED = "(unmatched)"
"""The route label of a request that matched no route."""


def route_template(request: Request) -> str:
    """The path template of the route that took the request (never its raw path)."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def note_key(request: Request, name: str) -> None:
    """Remember who the request's credentials belong to, for a refusal's log line."""
    request.state.key_name = name


def record(request: Request, status: int, code: str) -> None:
    """Log and count one refused request."""
    route = route_template(request)
    key: str | None = getattr(request.state, "key_name", None)
    log.warning(
        "request_refused", status=status, code=code, method=request.method, route=route, key=key
    )
    REFUSED.labels(str(status), code, route).inc()
