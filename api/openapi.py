"""The OpenAPI schema as an artifact that generated clients can trust.

FastAPI generates the schema from the routes; `install` finishes it, so that
it says what the server does:

- **Security.** A bearer scheme, required globally; `security: []` on every
  operation without an `auth.Allow` rule (`/healthz`, `/readyz`, public pages).
- **Problems.** Each operation's problem responses (`application/problem+json`,
  the `Problem` schema with `code` narrowed to the codes the operation can give)
  come from two sources, both resolved through the tables of `api/errors.py`
  (`DOMAIN_ERRORS`, `API_ERRORS`), so a status or code cannot drift from what the
  handlers answer:
  - derived from the route: an `Allow` rule gives 401 `unauthenticated` and 403
    `forbidden`; a request body 400 `malformed_body`, 413 `payload_too_large`
    and 422 `validation_error`; any parameter 422 `validation_error`; a path
    parameter 404 `not_found`; a write (`api.writes.WriteDep`) 422
    `idempotency_key_reused` and 409 `conflict`; the database 503
    `database_unavailable`;
  - declared next to the route, in its decorator: `responses=problems(...)`
    with the domain errors it lets through (`InvalidTransition`, …) and the
    codes of `ApiError`s it raises itself (`"forbidden_board"`, …).
  FastAPI's `HTTPValidationError`, a shape the server never sends, is gone.
- **Headers.** `Idempotency-Key` (described) and `Idempotent-Replayed` on every
  write; `If-Match` and its 412 exactly where `problems(PreconditionFailed)` is
  declared (the routes that pass `write.info.if_match` to their command);
  `Location`/`ETag` where `headers(status, ...)` declares them; `WWW-Authenticate`
  on 401, `Retry-After` on 503.
- **Names and examples.** Tags with descriptions, `servers`, `contact`,
  `license`; an example for every request body (`api/examples.py`) and for
  each problem response.

`tests/integration/test_openapi.py` fails for a route that breaks these rules
(and freezes the operationIds); `docs/openapi.json` is the committed snapshot:
`.venv/bin/python -m api.openapi > docs/openapi.json` regenerates it.

A new route, in its decorator: `operation_id="verb_noun"` (and its line in
the test's `OPERATION_IDS`); `response_model=` for JSON, or `response_class=`
for text (`CsvText`, `MermaidText`, …) and `content()` for a second media type;
`responses=problems(...)` naming the domain errors and `ApiError` codes it can
give beyond the derived ones (a new `ApiError` code goes into `API_ERRORS`),
`| headers(status, "Location", …)` for the headers it sends; a request body's
example in `api/examples.py`; a new tag in `api/openapi_info.py`. A new write also joins the
story of `tests/integration/test_openapi_headers.py`.
"""

import copy
import json
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, TypeAdapter, WithJsonSchema

from api import auth, examples
from api.deps import get_db
from api.errors import API_ERRORS, DOMAIN_ERRORS, PROBLEM, TYPE_BASE, problem_codes
from api.openapi_info import canonical_settings
from api.responses import Problem
from api.writes import write
from db.engine import open_database
from workflow.errors import DomainError
from workflow.events import EventType

BEARER = "bearer"
REF = "#/components/schemas/"
CODES = "x-problem-codes"
"""Key of the codes that `problems()` puts in a route's `responses` (read and removed here)."""
REQUEST_MODEL = "x-request-model"
"""Key of the model that `request_body()` names for a body FastAPI sees as a plain dict."""

REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "description": "Any unique string per intended change (a UUID). A retry with the same key"
        " and the same body answers the first response again (with `Idempotent-Replayed: true`)"
        " and changes nothing; the same key with another body is 422 `idempotency_key_reused`."
        " Keys are kept per caller.",
        "schema": {"type": "string", "maxLength": 255},
    },
    "If-Match": {
        "description": "The version's `ETag` (from `GET /v1/versions/{version_id}`); when the"
        " version has changed since, the request is refused with 412 `precondition_failed`."
        " Several tags may be given, or `*`.",
        "schema": {"type": "string", "maxLength": 500},
    },
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "Location": {
        "description": "The path of the resource created.",
        "required": True,
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "A strong entity tag of the version, for `If-Match` (not repeated on a"
        " replay for the same `Idempotency-Key`).",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the"
        " same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string"},
    },
}

WebhookEventName = Annotated[
    str,
    WithJsonSchema({"type": "string", "enum": ["*", *EventType]}),
]
"""An event type a webhook may subscribe to, or `*` (the route refuses others)."""


class CsvText(PlainTextResponse):
    """A CSV answer (`text/csv`), for the schema."""

    media_type = "text/csv"


class MermaidText(PlainTextResponse):
    """Mermaid text (`text/vnd.mermaid`), for the schema."""

    media_type = "text/vnd.mermaid"


class CalendarText(PlainTextResponse):
    """An iCalendar feed (`text/calendar`), for the schema."""

    media_type = "text/calendar"


Raisable = type[DomainError] | str
"""A domain error class (see `DOMAIN_ERRORS`), or the code of an `ApiError` (`API_ERRORS`)."""

_SCHEMAS: dict[str, dict[str, Any]] = {}
"""Component schemas of the models that `content()` and `request_body()` name."""

_MODELS: dict[str, type[BaseModel]] = {}


def status_and_code(error: Raisable) -> tuple[int, str]:
    """The HTTP status and problem code of a domain error class or an `ApiError` code."""
    if isinstance(error, str):
        return API_ERRORS[error][0], error
    for cls in error.__mro__:
        if cls in DOMAIN_ERRORS:
            status, code, _title = DOMAIN_ERRORS[cls]
            return status, code
    raise KeyError(f"{error.__name__} is not in api.errors.DOMAIN_ERRORS")


def problems(*raises: Raisable) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` for the problems it gives besides those derived from it.

    Name the domain errors its command lets through and the codes of the
    `ApiError`s it raises; `PreconditionFailed` also declares `If-Match`.
    """
    by_status: dict[int | str, dict[str, Any]] = {}
    for error in raises:
        status, code = status_and_code(error)
        by_status.setdefault(status, {"description": code, CODES: []})[CODES].append(code)
    return by_status


def headers(status: int, *names: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` entry declaring the response headers it sends with `status`."""
    return {status: {"headers": {name: RESPONSE_HEADERS[name] for name in names}}}


def _ref(annotation: Any) -> dict[str, Any]:
    """The JSON schema of `annotation`, its models as component references (kept here)."""
    schema = TypeAdapter(annotation).json_schema(mode="serialization", ref_template=REF + "{model}")
    for name, definition in schema.pop("$defs", {}).items():
        _SCHEMAS.setdefault(name, definition)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if _MODELS.setdefault(annotation.__name__, annotation) is not annotation:
            raise ValueError(f"two models are named {annotation.__name__}: rename one")
        _SCHEMAS.setdefault(annotation.__name__, schema)
        return {"$ref": REF + annotation.__name__}
    return schema


def content(
    status: int, media_type: str, annotation: Any = None
) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` entry declaring another media type of its `status` answer:
    text (no annotation) or JSON of `annotation`."""
    schema = {"type": "string"} if annotation is None else _ref(annotation)
    return {status: {"content": {media_type: {"schema": schema}}}}


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """A route's `openapi_extra=` naming the model of a body it takes as a plain dict."""
    _ref(model)
    return {REQUEST_MODEL: model.__name__}


def operation_id(route: APIRoute) -> str:
    """A route's operationId when its decorator names none: its function's name."""
    return route.name


def named_model(name: str) -> type[BaseModel]:
    """The model that `request_body()` or `content()` named `name`."""
    return _MODELS[name]


# --- what a route is, from its dependencies ----------------------------------------------


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency's callable of a route, recursively."""
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from calls(dep)


def flat_params(dependant: Dependant, kind: str) -> list[Any]:
    """The route's parameters of one kind (`path`, `query`, `header`, `body`), recursively."""
    found = list(getattr(dependant, f"{kind}_params"))
    for dep in dependant.dependencies:
        found += flat_params(dep, kind)
    return found


def derived_codes(dependant: Dependant, has_body: bool) -> list[str]:
    """The problem codes a route can give by what it depends on."""
    deps = list(calls(dependant))
    secured = any(isinstance(call, auth.Allow) for call in deps)
    codes = []
    if secured:
        codes += ["unauthenticated", "forbidden"]
    if has_body:
        codes += ["malformed_body", "payload_too_large", "validation_error"]
    if any(flat_params(dependant, kind) for kind in ("path", "query", "header")):
        codes.append("validation_error")
    if flat_params(dependant, "path"):
        codes.append("not_found")
    if write in deps:
        codes += ["idempotency_key_reused", "conflict"]
    if secured or get_db in deps:
        codes.append("database_unavailable")
    return codes


# --- finishing the schema ---------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Serve the finished schema at `/openapi.json` (built once per set of routes)."""
    generate = app.openapi
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        raw = generate()
        if built.get("raw") is not raw:
            built["raw"], built["schema"] = raw, finish(copy.deepcopy(raw), app)
        schema: dict[str, Any] = built["schema"]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """The schema FastAPI generated, made to say what the server does (see the module)."""
    components = schema.setdefault("components", {})
    definitions = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        definitions.pop(name, None)
    _ref(Problem)
    for name, definition in _SCHEMAS.items():
        found = definitions.setdefault(name, definition)
        if set(found.get("properties", ())) != set(definition.get("properties", ())):
            raise ValueError(f"two different schemas are named {name}: rename a model")
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key's token (`ratify keys create`), sent as"
            " `Authorization: Bearer <token>`.",
        }
    }
    schema["security"] = [{BEARER: []}]
    shared: dict[str, Any] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        route: Any = context
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = schema["paths"][route.path_format][method.lower()]
            _operation(operation, route, shared)
    components["responses"] = dict(sorted(shared.items()))
    schema["components"] = {key: components[key] for key in sorted(components)}
    definitions_sorted = dict(sorted(components["schemas"].items()))
    components["schemas"].clear()
    components["schemas"].update(definitions_sorted)
    return schema


def _operation(operation: dict[str, Any], route: Any, shared: dict[str, Any]) -> None:
    """Finish one operation: security, problems, headers, request example.

    A problem response of one code is shared (`components/responses`, named
    after the code: `NotFound`); one of several codes is the operation's own.
    """
    dependant: Dependant = route.dependant
    deps = list(calls(dependant))
    if not any(isinstance(call, auth.Allow) for call in deps):
        operation["security"] = []
    responses: dict[str, Any] = operation["responses"]
    success = str(route.status_code or 200)
    declared: dict[int, set[str]] = {}
    own: set[int] = set()
    for status, response in (route.responses or {}).items():
        if "model" in response:
            own.add(int(status))  # answered with the route's own body (readyz's 503)
        for code in response.get(CODES, ()):
            declared.setdefault(int(status), set()).add(code)
        responses.get(str(status), {}).pop(CODES, None)
    all_codes = problem_codes()
    codes = declared  # and the derived ones:
    for code in derived_codes(dependant, route.body_field is not None):
        codes.setdefault(all_codes[code][0], set()).add(code)
    for status, found in sorted(codes.items()):
        if status not in own:
            responses[str(status)] = _problem_or_shared(status, sorted(found), shared)
    operation["responses"] = dict(sorted(responses.items()))
    parameters: list[dict[str, Any]] = operation.get("parameters", [])
    for parameter in parameters:
        if parameter["in"] == "header" and parameter["name"].lower() == "idempotency-key":
            parameter["name"] = "Idempotency-Key"
            parameter["description"] = REQUEST_HEADERS["Idempotency-Key"]["description"]
    if write in deps:
        responses[success].setdefault("headers", {})["Idempotent-Replayed"] = RESPONSE_HEADERS[
            "Idempotent-Replayed"
        ]
    if "precondition_failed" in codes.get(412, ()):
        parameters.append(
            {"name": "If-Match", "in": "header", "required": False} | REQUEST_HEADERS["If-Match"]
        )
    if parameters:
        operation["parameters"] = parameters
    _request_example(operation)


def _request_example(operation: dict[str, Any]) -> None:
    """The request body's schema by name (`request_body()`), and its example."""
    body = operation.get("requestBody")
    named = operation.pop(REQUEST_MODEL, None)
    if body is None:
        return
    media = body["content"]["application/json"]
    if named is not None:
        description = media["schema"].get("description")
        media["schema"] = {"$ref": REF + named}
        if description:
            body["description"] = description
    ref = media["schema"].get("$ref", "")
    name = ref.removeprefix(REF)
    if name in examples.REQUESTS:
        media["example"] = examples.REQUESTS[name]


def _problem_or_shared(status: int, codes: list[str], shared: dict[str, Any]) -> dict[str, Any]:
    """The problem response, or a reference to the shared one for a single code."""
    if len(codes) > 1:
        return problem_response(status, codes)
    name = "".join(part.capitalize() for part in codes[0].split("_"))
    shared.setdefault(name, problem_response(status, codes))
    return {"$ref": "#/components/responses/" + name}


def problem_response(status: int, codes: list[str]) -> dict[str, Any]:
    """A problem response of `status` that gives `codes`, with an example of the first."""
    titles = problem_codes()
    response: dict[str, Any] = {
        "description": "; ".join(f"`{code}`: {titles[code][1]}" for code in codes),
        "content": {
            PROBLEM: {
                "schema": {
                    "allOf": [
                        {"$ref": REF + "Problem"},
                        {
                            "type": "object",
                            "properties": {"code": {"type": "string", "enum": codes}},
                        },
                    ]
                },
                "example": {
                    "type": TYPE_BASE + codes[0],
                    "title": titles[codes[0]][1],
                    "status": status,
                    "detail": titles[codes[0]][1],
                    "code": codes[0],
                },
            }
        },
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": RESPONSE_HEADERS["WWW-Authenticate"]}
    if status == 503:
        response["headers"] = {"Retry-After": RESPONSE_HEADERS["Retry-After"]}
    return response


def main() -> None:
    """Print the schema the server serves with default settings (for `docs/openapi.json`)."""
    from api.app import create_app  # the app imports this module

    db = open_database("sqlite://")
    try:
        schema = create_app(db, canonical_settings()).openapi()
    finally:
        db.dispose()
    sys.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
