"""The OpenAPI schema's rules (`api/openapi.py`), held for every operation, today's and future.

A new route fails here until it is brought in line: its operationId is in the
frozen list below, a `/v1` operation needs the bearer token and documents 401
and 403, every problem response names codes from `api/errors.py`'s tables
(and only there), no operation documents FastAPI's `HTTPValidationError`,
every success answer is typed, every request body has an example its model
accepts, and `docs/openapi.json` is the schema served.
"""

import ast
import difflib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api import auth, examples, openapi, openapi_info
from api.app import create_app
from api.errors import API_ERRORS, PROBLEM, problem_codes
from db.engine import open_database
from workflow.events import EventType

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "docs" / "openapi.json"
REGENERATE = ".venv/bin/python -m api.openapi > docs/openapi.json"

OPERATION_IDS = {
    ("GET", "/healthz"): "get_health",
    ("GET", "/readyz"): "get_readiness",
    ("GET", "/metrics"): "get_metrics",
    ("GET", "/v1/workflow/diagram"): "get_workflow_diagram",
    ("GET", "/v1/boards"): "list_boards",
    ("POST", "/v1/boards"): "create_board",
    ("GET", "/v1/programs"): "list_programs",
    ("POST", "/v1/programs"): "create_program",
    ("GET", "/v1/programs/{program_id}"): "get_program",
    ("GET", "/v1/programs/{program_id}/versions"): "list_versions",
    ("POST", "/v1/programs/{program_id}/versions"): "create_version",
    ("GET", "/v1/programs/{program_id}/in-force"): "get_version_in_force",
    ("GET", "/v1/versions/{version_id}"): "get_version",
    ("POST", "/v1/versions/{version_id}/send-out"): "send_out_version",
    ("POST", "/v1/versions/{version_id}/withdraw"): "withdraw_version",
    ("POST", "/v1/versions/{version_id}/decisions"): "record_decision",
    ("GET", "/v1/versions/{version_id}/decisions"): "list_decisions",
    ("GET", "/v1/versions/{version_id}/reminders"): "list_reminders",
    ("GET", "/v1/versions/{version_id}/register"): "get_register",
    ("GET", "/v1/decisions/{decision_id}"): "get_decision",
    ("POST", "/v1/decisions/{decision_id}/announcement"): "announce_decision",
    ("POST", "/v1/decisions/{decision_id}/appeals"): "lodge_appeal",
    ("POST", "/v1/decisions/{decision_id}/corrections"): "correct_decision",
    ("GET", "/v1/appeals/{appeal_id}"): "get_appeal",
    ("POST", "/v1/appeals/{appeal_id}/ruling"): "record_ruling",
    ("GET", "/v1/audit"): "list_events",
    ("GET", "/v1/audit/verify"): "verify_audit_trail",
    ("POST", "/v1/audit/verify"): "verify_against_checkpoint",
    ("GET", "/v1/audit/checkpoint"): "get_checkpoint",
    ("GET", "/v1/audit/export"): "export_events",
    ("GET", "/v1/certificate-key"): "get_certificate_key",
    ("GET", "/v1/versions/{version_id}/certificate"): "get_certificate",
    ("PATCH", "/v1/programs/{program_id}"): "publish_program",
    ("GET", "/v1/programs/{program_id}/deadlines.ics"): "get_program_deadlines",
    ("POST", "/v1/webhooks"): "create_webhook",
    ("GET", "/v1/webhooks"): "list_webhooks",
    ("GET", "/v1/webhooks/{webhook_id}"): "get_webhook",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "delete_webhook",
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): "rotate_webhook_secret",
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): "list_deliveries",
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): "redeliver",
}
"""Every operation's operationId, frozen: generated clients name their methods by them, so a
change breaks every integration. A new route adds its line (short, snake_case, verb first)."""

TYPED_MEDIA = {
    *("application/json", "text/csv", "text/vnd.mermaid", "text/plain", "text/calendar"),
    *("text/html", "image/svg+xml"),
}
"""The media types an answer may have: JSON with a schema, or text of a declared kind."""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app with the canonical settings (its database is never opened by these tests)."""
    database = open_database(f"sqlite:///{tmp_path_factory.mktemp('unused') / 'unused.db'}")
    yield create_app(database, openapi_info.canonical_settings())
    database.dispose()


@pytest.fixture(scope="module")
def schema(app: FastAPI) -> dict[str, Any]:
    """The schema the app serves at `/openapi.json`."""
    return app.openapi()


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) of every operation."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def resolved(schema: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A response, its `$ref` to `components/responses` followed."""
    ref = response.get("$ref")
    if ref is None:
        return response
    found: dict[str, Any] = schema["components"]["responses"][ref.rsplit("/", 1)[1]]
    return found


def problem_codes_of(response: dict[str, Any]) -> list[str]:
    """The codes a problem response gives (its narrowed `code` enum)."""
    body = response["content"][PROBLEM]["schema"]
    assert body["allOf"][0] == {"$ref": "#/components/schemas/Problem"}, body
    codes: list[str] = body["allOf"][1]["properties"]["code"]["enum"]
    return codes


def schema_routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """(METHOD, path, route) of every route in the schema."""
    for context in iter_route_contexts(app.routes):
        route: Any = context
        if isinstance(context.original_route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                yield method, route.path_format, route


# --- the artifact --------------------------------------------------------------------------


def test_the_committed_snapshot_is_the_schema_served(schema: dict[str, Any]) -> None:
    served = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if served != committed:
        diff = difflib.unified_diff(
            committed.splitlines(), served.splitlines(), "docs/openapi.json", "served", n=1
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(
            "docs/openapi.json is not the schema the server serves. If the change is meant,"
            f" regenerate it with\n\n    {REGENERATE}\n\nand review the diff (integrators"
            f" generate clients from it; note a change for them in the README).\n\n{shown}"
        )


def test_operation_ids_are_frozen(schema: dict[str, Any]) -> None:
    found = {(method, path): op.get("operationId") for method, path, op in operations(schema)}
    new = {key: value for key, value in found.items() if key not in OPERATION_IDS}
    assert not new, f"operations not in OPERATION_IDS of this test; add them: {new}"
    gone = sorted(set(OPERATION_IDS) - set(found))
    assert not gone, f"operations in OPERATION_IDS that are no longer served: {gone}"
    changed = {key: (OPERATION_IDS[key], value) for key, value in found.items()}
    changed = {key: pair for key, pair in changed.items() if pair[0] != pair[1]}
    assert not changed, f"operationIds changed (expected, served): {changed}"
    for name in OPERATION_IDS.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]{2,39}", name), name


def test_servers_are_relative_or_the_public_url(schema: dict[str, Any], tmp_path: Path) -> None:
    assert schema["servers"] == [{"url": "/"}]
    database = open_database(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        settings = openapi_info.canonical_settings().model_copy(
            update={"public_url": "https://ratify.example.se"}
        )
        served = create_app(database, settings).openapi()
    finally:
        database.dispose()
    assert served["servers"] == [{"url": "https://ratify.example.se"}]
    assert schema["info"]["contact"]
    assert schema["info"]["license"]
    defined = {tag["name"] for tag in schema["tags"]}
    assert all(tag["description"] for tag in schema["tags"])
    used = {tag for _m, _p, op in operations(schema) for tag in op["tags"]}
    assert used == defined, "every tag used is defined with a description, and used"


# --- security ------------------------------------------------------------------------------


def test_every_v1_operation_needs_the_bearer_token_and_documents_401_and_403(
    schema: dict[str, Any],
) -> None:
    scheme = schema["components"]["securitySchemes"][openapi.BEARER]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert schema["security"] == [{openapi.BEARER: []}]
    problems = []
    for method, path, op in operations(schema):
        if not path.startswith("/v1/"):
            continue
        if op.get("security", schema["security"]) != [{openapi.BEARER: []}]:
            problems.append(f"{method} {path}: security {op.get('security')}")
        responses = op["responses"]
        for status, code in (("401", "unauthenticated"), ("403", "forbidden")):
            if status not in responses:
                problems.append(f"{method} {path}: no {status}")
            elif code not in problem_codes_of(resolved(schema, responses[status])):
                problems.append(f"{method} {path}: {status} without `{code}`")
    assert not problems, "\n".join(problems)


def test_operations_without_an_allow_rule_are_public(app: FastAPI, schema: dict[str, Any]) -> None:
    for method, path, route in schema_routes(app):
        op = schema["paths"][path][method.lower()]
        guarded = any(isinstance(call, auth.Allow) for call in openapi.calls(route.dependant))
        # /metrics needs a token too, by default (RATIFY_METRICS_PUBLIC opens it).
        assert guarded == (path.startswith("/v1/") or path == "/metrics"), f"{method} {path}"
        if not guarded:
            assert op["security"] == [], f"{method} {path} is public: security: []"
            assert "401" not in op["responses"], f"{method} {path}"


# --- problems ------------------------------------------------------------------------------


def test_no_operation_documents_fastapis_validation_error(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    assert "HTTPValidationError" not in text
    assert "ValidationError" not in schema["components"]["schemas"]


def test_every_problem_response_gives_codes_of_its_status_from_the_tables(
    schema: dict[str, Any],
) -> None:
    codes = problem_codes()
    problems = []
    for method, path, op in operations(schema):
        for status, response in op["responses"].items():
            if int(status) < 400 or (path, status) == ("/readyz", "503"):
                continue
            response = resolved(schema, response)
            assert list(response["content"]) == [PROBLEM], f"{method} {path} {status}"
            for code in problem_codes_of(response):
                if code not in codes:
                    problems.append(f"{method} {path} {status}: `{code}` is in no table")
                elif str(codes[code][0]) != status:
                    problems.append(f"{method} {path} {status}: `{code}` is {codes[code][0]}")
            example = response["content"][PROBLEM]["example"]
            assert example["code"] in problem_codes_of(response)
    assert not problems, "\n".join(problems)


def test_problems_follow_from_what_a_route_takes(app: FastAPI, schema: dict[str, Any]) -> None:
    for method, path, route in schema_routes(app):
        responses = schema["paths"][path][method.lower()]["responses"]

        def gives(status: int, code: str, responses: dict[str, Any] = responses) -> bool:
            response = responses.get(str(status))
            return response is not None and code in problem_codes_of(resolved(schema, response))

        label = f"{method} {path}"
        has_body = route.body_field is not None
        assert gives(400, "malformed_body") == has_body, label
        assert gives(413, "payload_too_large") == has_body, label
        if "{" in path:
            assert gives(404, "not_found"), label
        params = [p for p in schema["paths"][path][method.lower()].get("parameters", [])]
        if params or has_body:
            assert gives(422, "validation_error"), label
        is_write = any(p["name"] == "Idempotency-Key" for p in params)
        assert gives(422, "idempotency_key_reused") == is_write, label
        if is_write:
            assert gives(409, "conflict"), label
        honours = any(p["name"] == "If-Match" for p in params)
        assert gives(412, "precondition_failed") == honours, label


def test_the_problem_schema_lists_every_code_and_the_issues_of_a_422(
    schema: dict[str, Any],
) -> None:
    problem = schema["components"]["schemas"]["Problem"]
    assert problem["properties"]["code"]["enum"] == sorted(problem_codes())
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    issues = problem["properties"]["errors"]
    assert issues["items"] == {"$ref": "#/components/schemas/ValidationIssue"}
    assert problem["examples"] == [examples.PROBLEM]


def test_every_api_error_raised_in_api_is_in_the_table() -> None:
    """`ApiError(status, code, title, detail)` anywhere in `api/`: its status and title are
    the table's, so the schema (built from the table) says what the handler answers."""
    problems = []
    for source in sorted((ROOT / "api").rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ApiError"):
                continue
            where = f"{source.relative_to(ROOT)}:{node.lineno}"
            args = node.args[:3]
            if len(args) < 3 or not all(isinstance(a, ast.Constant) for a in args):
                problems.append(f"{where}: give status, code and title as literals")
                continue
            status, code, title = (a.value for a in args if isinstance(a, ast.Constant))
            if API_ERRORS.get(str(code)) != (status, title):
                problems.append(f"{where}: ({status!r}, {code!r}, {title!r}) is not in API_ERRORS")
    assert not problems, "\n".join(problems)


# --- answers and bodies --------------------------------------------------------------------


def test_every_success_answer_is_typed(schema: dict[str, Any]) -> None:
    problems = []
    for method, path, op in operations(schema):
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                continue
            content = response.get("content", {})
            if status == "204":
                assert not content, f"{method} {path}: 204 with content"
                continue
            if not content:
                problems.append(f"{method} {path} {status}: no content")
            for media, body in content.items():
                kind = body.get("schema", {})
                if media not in TYPED_MEDIA:
                    problems.append(f"{method} {path} {status}: media type {media}")
                elif media == "application/json":
                    ref = kind.get("$ref") or kind.get("items", {}).get("$ref")
                    if not ref:
                        problems.append(f"{method} {path} {status}: untyped JSON {kind}")
                elif kind != {"type": "string"}:
                    problems.append(f"{method} {path} {status}: {media} is not text: {kind}")
    assert not problems, "\n".join(problems)


def test_every_request_body_has_an_example_its_model_accepts(app: FastAPI) -> None:
    schema = app.openapi()
    for method, path, route in schema_routes(app):
        body = schema["paths"][path][method.lower()].get("requestBody")
        assert (body is not None) == (route.body_field is not None), f"{method} {path}"
        if body is None:
            continue
        media = body["content"]["application/json"]
        name = media["schema"]["$ref"].rsplit("/", 1)[1]
        assert "example" in media, f"{method} {path}: add an example of {name} to api/examples.py"
        model = route.body_field.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            model = openapi.named_model(name)
        assert model.__name__ == name
        model.model_validate(media["example"])


def test_webhook_events_are_the_event_types_or_a_star(schema: dict[str, Any]) -> None:
    events = schema["components"]["schemas"]["WebhookIn"]["properties"]["events"]["items"]
    assert events["enum"] == ["*", *EventType]


def test_the_version_document_is_typed(schema: dict[str, Any]) -> None:
    document = schema["components"]["schemas"]["Version"]["properties"]["document"]
    assert {"$ref": "#/components/schemas/Document"} in document["anyOf"]
