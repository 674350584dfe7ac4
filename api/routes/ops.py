"""Health, readiness, metrics and the workflow diagram."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import auth
from api.deps import DbDep
from api.openapi import MermaidText, problems
from api.responses import Health, Readiness
from api.routes.common import json_response
from api.routing import Router
from api.settings import Settings
from db.migrate import readiness
from workflow.actors import Actor, Role
from workflow.diagram import workflow_diagram
from workflow.errors import NotFound

router = Router(tags=["operations"])


@router.get("/healthz", response_model=Health, operation_id="get_health")
def healthz() -> Response:
    """The process is up."""
    return json_response({"status": "ok"})


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="get_readiness",
    responses={503: {"model": Readiness, "description": "The database is not ready"}},
)
def readyz(db: DbDep) -> Response:
    """The database is reachable and its schema is at head."""
    problem = readiness(db.engine)
    if problem is not None:
        return json_response({"status": "unavailable", "database": problem}, 503)
    return json_response({"status": "ok"})


class MetricsAccess(auth.Allow):
    """Who may read `/metrics` on the service's address: an auditor or admin, unless
    `RATIFY_METRICS_PUBLIC`; nobody (404) when `RATIFY_METRICS_LISTEN` serves them on an
    address of their own."""

    def check(self, request: Request) -> Actor | None:  # type: ignore[override]
        settings: Settings = request.app.state.settings
        if settings.metrics_listen:
            raise NotFound("no metrics here: they are served on RATIFY_METRICS_LISTEN")
        return None if settings.metrics_public else super().check(request)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    operation_id="get_metrics",
    dependencies=[Depends(MetricsAccess(Role.AUDITOR))],
    responses=problems(NotFound),
)
def metrics() -> Response:
    """Prometheus metrics of this process: an auditor's or admin's token, by default.

    Open to anyone with `RATIFY_METRICS_PUBLIC=true`; not here at all (404)
    when `RATIFY_METRICS_LISTEN` serves them on an address of their own.
    """
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/workflow/diagram", response_class=MermaidText, operation_id="get_workflow_diagram")
def diagram(_actor: Annotated[Actor, Depends(auth.READ)]) -> Response:
    """Mermaid text of both state machines, from the definitions that enforce them."""
    return PlainTextResponse(workflow_diagram(), media_type="text/vnd.mermaid; charset=utf-8")
