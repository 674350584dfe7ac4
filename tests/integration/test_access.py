"""Access control: the contract's role table on every `/v1` route, the board rule, the actor.

The role × route matrix is generated from the app's route table, so a new
`/v1` route without exactly one `auth.Allow` rule fails here, and so does a
route whose rule drifts from the role table written out below from the
contract ("Authentication and roles").
"""

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select

from api import auth
from api.app import create_app
from db import keys, models
from db.engine import Database, open_database
from tests.conftest import SUP_2035, Api, decision, make_key, respond_by, revoke_key
from workflow.actors import SYSTEM, Actor, Role

ROLES = ("admin", "secretariat", "board", "auditor")
READ = frozenset(ROLES)
WRITE_PROGRAMS = frozenset({"admin", "secretariat"})
ADMIN = frozenset({"admin"})
DECIDE = frozenset({"admin", "board"})
AUDIT_READ = frozenset({"admin", "secretariat", "auditor"})
AUDIT_VERIFY = frozenset({"admin", "auditor"})
AFTER_MEETING = frozenset({"admin", "secretariat", "board"})

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # Boards: read by everyone with a token, created by admin.
    ("GET", "/v1/boards"): READ,
    ("POST", "/v1/boards"): ADMIN,
    # Programs and versions: created by the secretariat (and admin, who may do everything).
    ("GET", "/v1/programs"): READ,
    ("POST", "/v1/programs"): WRITE_PROGRAMS,
    ("GET", "/v1/programs/{program_id}"): READ,
    ("GET", "/v1/programs/{program_id}/versions"): READ,
    ("POST", "/v1/programs/{program_id}/versions"): WRITE_PROGRAMS,
    ("GET", "/v1/programs/{program_id}/in-force"): READ,
    ("GET", "/v1/versions/{version_id}"): READ,
    ("POST", "/v1/versions/{version_id}/send-out"): WRITE_PROGRAMS,
    ("POST", "/v1/versions/{version_id}/withdraw"): WRITE_PROGRAMS,
    # Decisions: a board token (for its own board, checked in the handler) or admin.
    ("POST", "/v1/versions/{version_id}/decisions"): DECIDE,
    ("GET", "/v1/versions/{version_id}/decisions"): READ,
    ("GET", "/v1/versions/{version_id}/register"): READ,  # not in the contract: a read
    ("GET", "/v1/versions/{version_id}/reminders"): READ,
    # Decisions after the meeting: the deciding board's token (checked in the handler),
    # the secretariat, admin.
    ("GET", "/v1/decisions/{decision_id}"): READ,
    ("POST", "/v1/decisions/{decision_id}/announcement"): AFTER_MEETING,
    ("POST", "/v1/decisions/{decision_id}/appeals"): AFTER_MEETING,
    ("GET", "/v1/appeals/{appeal_id}"): READ,  # not in the contract: a read
    ("POST", "/v1/appeals/{appeal_id}/ruling"): AFTER_MEETING,
    ("POST", "/v1/decisions/{decision_id}/corrections"): AFTER_MEETING,
    # The audit trail: auditor, secretariat, admin; verification: auditor, admin.
    ("GET", "/v1/audit"): AUDIT_READ,
    ("GET", "/v1/audit/export"): AUDIT_READ,
    ("GET", "/v1/audit/verify"): AUDIT_VERIFY,
    # Checkpoints (the hardening issue, item 13): taken and checked by the verify roles.
    ("GET", "/v1/audit/checkpoint"): AUDIT_VERIFY,
    ("POST", "/v1/audit/verify"): AUDIT_VERIFY,
    # The public key that signs checkpoints and certificates: every role may read it.
    ("GET", "/v1/certificate-key"): READ,
    # Webhooks: admin, or a board token for its own board's subscriptions (the webhooks
    # issue; the handlers keep a board to its own, see tests/integration/test_webhooks.py).
    ("POST", "/v1/webhooks"): DECIDE,
    ("GET", "/v1/webhooks"): DECIDE,
    ("GET", "/v1/webhooks/{webhook_id}"): DECIDE,
    ("DELETE", "/v1/webhooks/{webhook_id}"): DECIDE,
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): DECIDE,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): DECIDE,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): DECIDE,
    ("GET", "/v1/workflow/diagram"): READ,
    # Evidence and openness (issue 17): certificates and calendars are reads (a calendar
    # also takes a key's feed secret, which acts with that key's role); publishing a
    # program is the secretariat's.
    ("GET", "/v1/versions/{version_id}/certificate"): READ,
    ("PATCH", "/v1/programs/{program_id}"): WRITE_PROGRAMS,
    ("GET", "/v1/programs/{program_id}/deadlines.ics"): READ,
}
"""The contract's role table, per route: who may call it (admin always may)."""

NOT_YET_ROUTED = {("GET", "/v1/versions/{version_id}/reminders")}
"""Contract routes that may not be routed yet; every other entry above must be."""

PUBLIC = ("/healthz", "/readyz", "/docs", "/openapi.json")
"""Routes without a token (`/metrics` needs one: tests/integration/test_metrics_access.py)."""

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/boards"): {
        "id": "access-matrix",
        "municipality": "Åtkomst kommun",
        "name": "Kommunstyrelsen",
        "municipality_code": "0999",
        "email": "kommunstyrelsen@access.example",
    },
    ("POST", "/v1/programs"): {
        "id": "access-matrix",
        "title": "Åtkomstprogrammet",
        "owner": "Södertörns samarbetskommitté",
        "boards": ["tyreso"],
    },
    ("POST", "/v1/programs/{}/versions"): {
        "label": "SUP 2040 (access matrix)",
        "drafted_on": "2019-05-28",
        "valid_from": "2023-01-01",
    },
    ("POST", "/v1/versions/{}/send-out"): {"respond_by": "<respond_by>"},
    ("POST", "/v1/versions/{}/withdraw"): {"reason": "access matrix"},
    ("POST", "/v1/versions/{}/decisions"): decision("tyreso"),
    ("PATCH", "/v1/programs/{}"): {"public": True},
    ("POST", "/v1/webhooks"): {
        "url": "https://hooks.example/ratify",
        "events": ["version.in_force"],
    },
}
"""A minimal valid body per write route (by normalized path); others get `{}`."""

PERSONA_TOKENS = {
    "admin": "admin",
    "secretariat": "secretariat",
    "board": "tyreso",
    "auditor": "auditor",
}
"""Which fixture token stands for each role (the board persona is Tyresö's system)."""

PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def normalized(path: str) -> str:
    """The path with every parameter written `{}`, so parameter names may differ."""
    return PARAM.sub("{}", path)


EXPECTED_BY_SHAPE = {(m, normalized(p)): roles for (m, p), roles in EXPECTED.items()}
NOT_YET_BY_SHAPE = {(m, normalized(p)) for m, p in NOT_YET_ROUTED}


@dataclass(frozen=True)
class V1Route:
    """One method of one `/v1` route and the `Allow` rules found among its dependencies."""

    method: str
    path: str
    rules: tuple[auth.Allow, ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.method, normalized(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def allow_rules(dependant: Dependant) -> Iterator[auth.Allow]:
    """Every `auth.Allow` among a dependant's dependencies, recursively."""
    for dep in dependant.dependencies:
        if isinstance(dep.call, auth.Allow):
            yield dep.call
        yield from allow_rules(dep)


def route_table(app: FastAPI) -> tuple[list[V1Route], list[str]]:
    """The app's `/v1` routes with their rules, and whatever under `/v1` is not an APIRoute."""
    found: list[V1Route] = []
    strays: list[str] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = str(context.path or getattr(route, "path", "") or "")
        if path != "/v1" and not path.startswith("/v1/"):
            continue
        if not isinstance(route, APIRoute):
            strays.append(f"{path} is a {type(route).__name__}, which no Allow rule guards")
            continue
        dependant: Dependant = getattr(context, "dependant", None) or route.dependant
        rules: dict[int, auth.Allow] = {id(rule): rule for rule in allow_rules(dependant)}
        for method in sorted(route.methods or ()):
            found.append(V1Route(method, path, tuple(rules.values())))
    return found, strays


def checked_table(app: FastAPI) -> list[V1Route]:
    found, strays = route_table(app)
    assert not strays, strays
    assert found, "no /v1 routes found: has the route table's shape changed?"
    return found


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    """The app as `create_app` builds it (its database is never opened by these tests)."""
    database = open_database(f"sqlite:///{tmp_path / 'unused.db'}")
    yield create_app(database)
    database.dispose()


@pytest.fixture
def routes(api: Api) -> list[V1Route]:
    """The `/v1` routes of the app the `api` client talks to."""
    app = api.client.app
    assert isinstance(app, FastAPI)
    return checked_table(app)


def roles_of(rule: auth.Allow) -> frozenset[str]:
    return frozenset(role.value for role in rule.roles)


# --- the route table ---------------------------------------------------------------------


def test_every_v1_route_has_exactly_one_allow_rule(app: FastAPI) -> None:
    routes = checked_table(app)
    without = [f"{r}: {len(r.rules)} Allow rules" for r in routes if len(r.rules) != 1]
    assert not without, "every /v1 route needs exactly one auth.Allow dependency:\n" + "\n".join(
        without
    )


def test_allow_rules_match_the_contract_role_table(app: FastAPI) -> None:
    routes = checked_table(app)
    problems = []
    for route in routes:
        if route.key not in EXPECTED_BY_SHAPE:
            problems.append(
                f"{route}: not in the role table of this test; add it from the contract"
            )
            continue
        expected = EXPECTED_BY_SHAPE[route.key]
        actual = frozenset().union(*(roles_of(rule) for rule in route.rules))
        if actual != expected:
            problems.append(f"{route}: Allow lets {sorted(actual)}, contract {sorted(expected)}")
    routed = {route.key for route in routes}
    for method, path in EXPECTED:
        key = (method, normalized(path))
        if key not in routed and key not in NOT_YET_BY_SHAPE:
            problems.append(f"{method} {path}: in the contract but not routed")
    assert not problems, "\n".join(problems)


def test_the_route_check_sees_unguarded_nested_and_doubled_rules(app: FastAPI) -> None:
    """The detector itself: what a careless new route would look like is caught."""

    def nested(actor: Annotated[Actor, Depends(auth.AUDIT_READ)]) -> Actor:
        return actor

    @app.get("/v1/unguarded")
    def unguarded() -> None: ...

    @app.get("/v1/nested")
    def nested_rule(_actor: Annotated[Actor, Depends(nested)]) -> None: ...

    @app.post("/v1/doubled")
    def doubled(
        _a: Annotated[Actor, Depends(auth.READ)], _b: Annotated[Actor, Depends(auth.DECIDE)]
    ) -> None: ...

    guarded = APIRouter(prefix="/v1/guarded", dependencies=[Depends(auth.ADMIN_ONLY)])

    @guarded.get("")
    def by_router() -> None: ...

    app.include_router(guarded)
    found = {str(r): r.rules for r in route_table(app)[0]}
    assert found["GET /v1/unguarded"] == ()
    assert found["GET /v1/nested"] == (auth.AUDIT_READ,)
    assert set(found["POST /v1/doubled"]) == {auth.READ, auth.DECIDE}
    assert found["GET /v1/guarded"] == (auth.ADMIN_ONLY,)
    assert found["GET /v1/boards"] == (auth.READ,)

    app.mount("/v1/static", FastAPI())
    assert any("/v1/static" in stray for stray in route_table(app)[1])


def test_the_contract_table_gives_admin_everything() -> None:
    assert all("admin" in roles for roles in EXPECTED.values())
    assert {role.value for role in Role} - {"system"} == set(ROLES)


# --- the matrix ----------------------------------------------------------------------------


def path_for(route: V1Route, params: dict[str, str]) -> str:
    """The route's path with real ids where one is named, a dummy id elsewhere."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        for hint, real in params.items():
            if hint in name:
                return real
        return "no-such-id"

    return PARAM.sub(value, route.path)


REAL_IDS = {"version": SUP_2035, "program": "sup", "board": "tyreso"}
BOGUS_IDS = {"version": "no-such-version", "program": "no-such-program", "board": "nowhere"}


def body_for(route: V1Route) -> dict[str, Any] | None:
    if route.method in {"GET", "HEAD", "DELETE", "OPTIONS"}:
        return None
    body = dict(BODIES.get(route.key, {}))
    if body.get("respond_by") == "<respond_by>":
        body["respond_by"] = respond_by()
    return body


def call(api: Api, route: V1Route, headers: dict[str, str], ids: dict[str, str]) -> Any:
    return api.client.request(
        route.method, path_for(route, ids), json=body_for(route), headers=headers
    )


def db_state(db: Database) -> tuple[Any, ...]:
    """What any write would change: row counts, the last event, version states."""
    with db.reads() as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (models.Board, models.Program, models.Version, models.Decision)
        )
        last_event = session.scalar(select(func.max(models.Event.seq)))
        states = tuple(session.execute(select(models.Version.id, models.Version.state)).all())
    return (*counts, last_event, tuple(sorted(states)))


def describe(route: V1Route, who: str, response: Any) -> str:
    return f"{route} as {who}: {response.status_code} {response.text[:200]}"


def expected_roles(route: V1Route) -> frozenset[str]:
    """The contract's roles; for a route not in the table yet, what its rule says."""
    if route.key in EXPECTED_BY_SHAPE:
        return EXPECTED_BY_SHAPE[route.key]
    return frozenset().union(*(roles_of(rule) for rule in route.rules))


def test_role_matrix(api: Api, db: Database, routes: list[V1Route]) -> None:
    """Per role and route: allowed roles are never refused; others get 403 `forbidden`."""
    problems = []
    for role in ROLES:
        headers = {"Authorization": f"Bearer {api.tokens[PERSONA_TOKENS[role]]}"}
        for route in routes:
            allowed = role in expected_roles(route)
            before = db_state(db)
            r = call(api, route, headers, REAL_IDS)
            if r.status_code >= 500:
                problems.append("server error: " + describe(route, role, r))
            elif allowed and r.status_code in (401, 403):
                problems.append("refused: " + describe(route, role, r))
            elif not allowed:
                if r.status_code != 403 or r.json().get("code") != "forbidden":
                    problems.append("not 403 forbidden: " + describe(route, role, r))
                elif r.headers["content-type"] != "application/problem+json":
                    problems.append("not a problem document: " + describe(route, role, r))
                elif db_state(db) != before:
                    problems.append("refused but wrote: " + describe(route, role, r))
    assert not problems, "\n".join(problems)


def unauthenticated_headers(api: Api, db: Database) -> dict[str, dict[str, str]]:
    """No token, unknown, revoked, and malformed `Authorization` headers."""
    admin = api.tokens["admin"]
    revoked = make_key(db, "revoked-admin", Role.ADMIN)
    revoke_key(db, "revoked-admin")
    unknown = keys.PREFIX + secrets.token_urlsafe(32)
    return {
        "no header": {},
        "unknown token": {"Authorization": f"Bearer {unknown}"},
        "revoked token": {"Authorization": f"Bearer {revoked}"},
        "Basic x": {"Authorization": "Basic x"},
        "Bearer alone": {"Authorization": "Bearer"},
        "Bearer and spaces": {"Authorization": "Bearer   "},
        "empty header": {"Authorization": ""},
        "prefix only": {"Authorization": f"Bearer {keys.PREFIX}"},
        "admin token without scheme": {"Authorization": admin},
        "admin token as Basic": {"Authorization": f"Basic {admin}"},
        "admin token as Token": {"Authorization": f"Token {admin}"},
        "admin token altered": {
            "Authorization": f"Bearer {admin[:-1]}{'A' if admin[-1] != 'A' else 'B'}"
        },
        "admin token extended": {"Authorization": f"Bearer {admin}x"},
        "admin token's stored hash": {"Authorization": f"Bearer {keys.hash_token(admin)}"},
        "admin token in another header": {"X-Api-Key": admin, "Token": admin},
    }


WITH_BOGUS_IDS = {"no header", "revoked token", "unknown token"}
"""Also asked about ids that do not exist: still 401, never a 404 that tells them apart."""


def test_unauthenticated_matrix(api: Api, db: Database, routes: list[V1Route]) -> None:
    """No, unknown, revoked or malformed credentials: 401 `unauthenticated` on every route."""
    personas = unauthenticated_headers(api, db)
    problems = []
    before = db_state(db)
    for route in routes:
        for who, headers in personas.items():
            for ids in (REAL_IDS, BOGUS_IDS) if who in WITH_BOGUS_IDS else (REAL_IDS,):
                r = call(api, route, headers, ids)
                if r.status_code != 401 or r.json().get("code") != "unauthenticated":
                    problems.append("not 401 unauthenticated: " + describe(route, who, r))
                elif not r.headers.get("www-authenticate", "").startswith("Bearer"):
                    problems.append("no WWW-Authenticate: Bearer: " + describe(route, who, r))
                elif r.headers["content-type"] != "application/problem+json":
                    problems.append("not a problem document: " + describe(route, who, r))
    assert not problems, "\n".join(problems)
    assert db_state(db) == before


def test_public_routes_answer_without_a_token_and_the_scheme_is_case_insensitive(
    api: Api,
) -> None:
    for path in PUBLIC:
        r = api.client.get(path)
        assert r.status_code == 200, (path, r.text)
    token = api.tokens["auditor"]
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = api.client.get("/v1/boards", headers={"Authorization": f"{scheme} {token}"})
        assert r.status_code == 200, (scheme, r.text)


# --- the board rule ------------------------------------------------------------------------


def send_out(api: Api) -> None:
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text


def decisions_of(api: Api) -> list[dict[str, Any]]:
    r = api.get(f"/v1/versions/{SUP_2035}/decisions", as_="auditor")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_a_board_token_records_decisions_for_its_own_board_only(api: Api, db: Database) -> None:
    send_out(api)
    before = db_state(db)

    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("tyreso"), as_="huddinge")
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden_board"
    assert r.headers["content-type"] == "application/problem+json"
    assert db_state(db) == before
    assert decisions_of(api) == []

    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("tyreso"), as_="tyreso")
    assert r.status_code == 201, r.text
    assert r.json()["board_id"] == "tyreso"

    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("botkyrka"), as_="admin")
    assert r.status_code == 201, r.text
    assert r.json()["recorded_by"] == "admin"

    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision("haninge"),
        as_="botkyrka",
        headers={"Idempotency-Key": "other-board"},
    )
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden_board"
    for role in ("secretariat", "auditor"):
        r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("haninge"), as_=role)
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "forbidden"
    assert [(d["board_id"], d["recorded_by"]) for d in decisions_of(api)] == [
        ("tyreso", "tyreso-system"),
        ("botkyrka", "admin"),
    ]


# --- the actor on every write --------------------------------------------------------------


def events_since(db: Database, seq: int) -> list[models.Event]:
    with db.reads() as session:
        return list(
            session.scalars(
                select(models.Event).where(models.Event.seq > seq).order_by(models.Event.seq)
            )
        )


def last_seq(db: Database) -> int:
    with db.reads() as session:
        return session.scalar(select(func.max(models.Event.seq))) or 0


def test_every_write_records_its_actor(api: Api, db: Database) -> None:
    start = last_seq(db)
    send_out(api)
    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision("tyreso", paragraph="§ 60", case_number="2019/KS 0260 005"),
        as_="tyreso",
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["recorded_by"] == "tyreso-system"

    version = api.get(f"/v1/versions/{SUP_2035}", as_="auditor").json()
    statuses = {b["board_id"]: b for b in version["boards"]}
    assert statuses["tyreso"]["recorded_by"] == "tyreso-system"
    assert statuses["tyreso"]["status"] == "approved"
    assert statuses["botkyrka"]["recorded_by"] is None

    [listed] = decisions_of(api)
    assert listed["id"] == made["id"]
    assert listed["recorded_by"] == "tyreso-system"

    with db.reads() as session:
        row = session.get_one(models.Decision, made["id"])
        assert (row.recorded_by, row.recorded_by_role, row.recorded_by_board) == (
            "tyreso-system",
            "board",
            "tyreso",
        )

    events = events_since(db, start)
    actors = {e.type: (e.actor_name, e.actor_role, e.actor_board_id) for e in events}
    assert actors["version.sent_out"] == ("secretariat", "secretariat", None)
    assert actors["decision.recorded"] == ("tyreso-system", "board", "tyreso")
    [recorded] = [e for e in events if e.type == "decision.recorded"]
    assert recorded.version_id == SUP_2035
    assert recorded.board_id == "tyreso"

    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("salem"), as_="admin")
    assert r.status_code == 201, r.text
    [by_admin] = [e for e in events_since(db, start) if e.board_id == "salem"]
    assert (by_admin.actor_name, by_admin.actor_role, by_admin.actor_board_id) == (
        "admin",
        "admin",
        None,
    )
    assert all(e.actor_name != SYSTEM.name for e in events_since(db, start))


# --- revocation and last use ---------------------------------------------------------------


def key_row(db: Database, name: str) -> dict[str, Any]:
    with db.reads() as session:
        [row] = [k for k in keys.listing(session) if k["name"] == name]
    return row


def test_a_revoked_token_is_refused_on_the_very_next_request(api: Api, db: Database) -> None:
    token = make_key(db, "soon-revoked", Role.SECRETARIAT)
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/programs", headers=headers).status_code == 200

    revoke_key(db, "soon-revoked")

    r = api.client.get("/v1/programs", headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "unauthenticated"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = api.client.post(
        f"/v1/versions/{SUP_2035}/send-out", json={"respond_by": respond_by()}, headers=headers
    )
    assert r.status_code == 401, r.text
    assert key_row(db, "soon-revoked")["revoked_at"] is not None
    assert api.get("/v1/programs").status_code == 200  # other keys are unaffected

    send_out(api)  # a board token revoked while the version is out records nothing
    assert api.get(f"/v1/versions/{SUP_2035}", as_="tyreso").status_code == 200
    revoke_key(db, "tyreso-system")
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("tyreso"), as_="tyreso")
    assert r.status_code == 401, r.text
    assert decisions_of(api) == []


def test_last_used_at_is_set_after_use_and_only_the_hash_is_stored(api: Api, db: Database) -> None:
    make_key(db, "unused", Role.AUDITOR)
    token = make_key(db, "used", Role.AUDITOR)
    assert key_row(db, "used")["last_used_at"] is None

    before = datetime.now(UTC)
    r = api.client.get("/v1/boards", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text

    used = key_row(db, "used")["last_used_at"]
    assert used is not None
    assert before - timedelta(seconds=1) <= used <= datetime.now(UTC) + timedelta(seconds=1)
    assert key_row(db, "unused")["last_used_at"] is None

    r = api.client.post(
        "/v1/boards",
        json=BODIES[("POST", "/v1/boards")],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403  # a refused request still authenticates the key
    assert key_row(db, "used")["last_used_at"] == used  # at most one update a minute

    token = api.tokens["admin"]
    with db.reads() as session:
        stored = session.scalars(select(models.ApiKey.token_hash)).all()
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert token not in stored
    assert re.fullmatch(r"rat_[A-Za-z0-9_-]{43,}", token)
    assert len(base64.urlsafe_b64decode(token[4:] + "=" * (-len(token[4:]) % 4))) >= 16
