"""RFC 9457 problem responses: one table from error to status and `code`."""

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from api import refusals
from api.encoding import dumps
from workflow.errors import (
    AlreadyAnnounced,
    AlreadyDecided,
    AlreadyExists,
    AlreadyRuled,
    BadSignature,
    DocumentMismatch,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotAMember,
    NotCorrectable,
    NotFound,
    PreconditionFailed,
    PredecessorNotInForce,
    TooManyWebhooks,
)

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
TYPE_BASE = "https://ratify.example/problems/"

DOMAIN_ERRORS: dict[type[DomainError], tuple[int, str, str]] = {
    AlreadyDecided: (409, "already_decided", "The board has already decided"),
    AlreadyAnnounced: (409, "already_announced", "The announcement is recorded with other dates"),
    AlreadyRuled: (409, "already_ruled", "The appeal already has its ruling"),
    PredecessorNotInForce: (
        409,
        "predecessor_not_in_force",
        "The replaced version is not in force",
    ),
    InvalidTransition: (409, "invalid_transition", "Not allowed in the current state"),
    NotAMember: (422, "not_a_member", "The board is not one of the program's boards"),
    DocumentMismatch: (409, "document_mismatch", "The decision names another document"),
    NotCorrectable: (422, "not_correctable", "That field cannot be corrected"),
    InvalidValue: (422, "validation_error", "A field is invalid"),
    NotFound: (404, "not_found", "No such resource"),
    AlreadyExists: (409, "already_exists", "That id is already taken"),
    PreconditionFailed: (412, "precondition_failed", "If-Match does not match the current ETag"),
    BadSignature: (422, "bad_signature", "The statement is not signed by this server's key"),
    TooManyWebhooks: (409, "too_many_webhooks", "The board has as many webhooks as it may"),
}
"""Domain error class → (HTTP status, problem code, title); subclasses before their bases."""

API_ERRORS: dict[str, tuple[int, str]] = {
    "malformed_body": (400, "The request body is not valid JSON"),
    "unauthenticated": (401, "A valid bearer token is required"),
    "forbidden": (403, "This token may not do that"),
    "forbidden_board": (403, "This token acts for another board"),
    "not_found": (404, "No such resource"),
    "none_in_force": (404, "No version was in force"),
    "method_not_allowed": (405, "Method not allowed"),
    "request_timeout": (408, "The request body did not arrive in time"),
    "conflict": (409, "A concurrent change won"),
    "chain_broken": (409, "The audit trail is broken: nothing is signed for it"),
    "payload_too_large": (413, "The request body is too large"),
    "unsupported_media_type": (415, "The request body must be JSON"),
    "validation_error": (422, "A field is invalid"),
    "idempotency_key_reused": (422, "Idempotency-Key was used for another request"),
    "internal_error": (500, "Internal error"),
    "database_unavailable": (503, "The database is unavailable"),
}
"""Problem code → (HTTP status, title) of the problems the HTTP layer answers itself: the
`ApiError`s raised in `api/` (a test holds every one to this table), request validation,
Starlette's HTTP errors and the database's. The OpenAPI schema is built from this table
and `DOMAIN_ERRORS` (`api/openapi.py`)."""

HTTP_CODES = {
    status: (code, API_ERRORS[code][1])
    for code in (
        "malformed_body",
        "unauthenticated",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "request_timeout",
        "payload_too_large",
        "unsupported_media_type",
    )
    for status in (API_ERRORS[code][0],)
}
"""Status of a Starlette `HTTPException` → (problem code, title)."""


def problem_codes() -> dict[str, tuple[int, str]]:
    """Every problem `code` the service can answer → (HTTP status, title)."""
    codes = dict(API_ERRORS)
    for status, code, title in DOMAIN_ERRORS.values():
        codes.setdefault(code, (status, title))
    return codes


class ApiError(Exception):
    """An error the HTTP layer raises itself (authentication, idempotency …)."""

    def __init__(self, status: int, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response."""
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return Response(dumps({**body, **extra}), status, headers=headers, media_type=PROBLEM)


def known(
    code: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    """The problem response of a code in `API_ERRORS`, with its status and title."""
    status, title = API_ERRORS[code]
    return problem(status, code, title, detail, headers, **extra)


def _domain(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERRORS:
            status, code, title = DOMAIN_ERRORS[cls]
            return problem(status, code, title, str(exc))
    raise exc


def _api(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status in (401, 403):
        refusals.record(request, exc.status, exc.code)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(exc.status, exc.code, exc.title, exc.detail, headers)


def _validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return known("malformed_body", errors[0]["msg"])
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
    return known("validation_error", detail, errors=errors)


def _http(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, title = HTTP_CODES.get(exc.status_code, ("error", "Error"))
    return problem(exc.status_code, code, title, str(exc.detail), exc.headers)


def _integrity(_request: Request, exc: Exception) -> Response:
    log.warning("integrity_conflict", error=str(exc.__cause__ or exc)[:500])
    return known("conflict", "the request conflicts with another change; retry")


def _data(_request: Request, exc: Exception) -> Response:
    """A value the database cannot store or compare (a NUL byte in an id on PostgreSQL …)."""
    log.warning("data_error", error=str(getattr(exc, "orig", None) or exc)[:500])
    return known(
        "validation_error", "a value in the request cannot be stored or compared by the database"
    )


def _operational(_request: Request, exc: Exception) -> Response:
    log.error("database_unavailable", error=str(exc.__cause__ or exc)[:500])
    return known("database_unavailable", "try again shortly", {"Retry-After": "5"})


def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", exc_info=exc)
    return known("internal_error", "an unexpected error was logged")


def install(app: FastAPI) -> None:
    """Route every error to its problem response."""
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(Exception, _unexpected)
