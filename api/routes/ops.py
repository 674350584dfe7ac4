"""Health, readiness, metrics and the workflow diagram."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api import auth
from api.deps import DbDep
from api.routes.common import json_response
from db.migrate import at_head
from workflow.actors import Actor
from workflow.diagram import workflow_diagram

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return json_response({"status": "ok"})


@router.get("/readyz")
def readyz(db: DbDep) -> Response:
    """The database is reachable and its schema is at head."""
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        ready = at_head(db.engine)
    except SQLAlchemyError:
        return json_response({"status": "unavailable", "database": "unreachable"}, 503)
    if not ready:
        return json_response({"status": "unavailable", "database": "schema not at head"}, 503)
    return json_response({"status": "ok"})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/workflow/diagram", response_class=PlainTextResponse)
def diagram(_actor: Annotated[Actor, Depends(auth.READ)]) -> Response:
    """Mermaid text of both state machines, from the definitions that enforce them."""
    return PlainTextResponse(workflow_diagram(), media_type="text/vnd.mermaid; charset=utf-8")
