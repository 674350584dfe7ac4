"""A client generated from `/openapi.json` by `openapi-python-client`, as a vendor would, drives
the SUP 2035 story and gets every problem back typed, with the contract's `code`.

The client is generated once per run into a temporary folder and imported
from there; it talks to the app in process (a `TestClient` per token as its
httpx client). `raise_on_unexpected_status` is on, so an answer the schema
does not document fails the test instead of coming back as None.
"""

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from db.engine import Database, open_database
from tests import databases
from tests.conftest import BOARD_IDS, SUP_2035, respond_by, today

PACKAGE = "ratify_client"
MAX_BODY = 4096
"""The test server's body limit: small, so a 413 is easy to provoke."""


def generator() -> str:
    """The `openapi-python-client` command of the interpreter running the tests."""
    found = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("openapi-python-client is missing: pip install -e '.[dev]'")
    return found


@pytest.fixture(scope="session")
def rc(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated client package (`ratify_client`), generated once per run."""
    folder = tmp_path_factory.mktemp("generated")
    db = open_database(databases.fresh_sqlite(sqlite_template, folder))
    try:
        schema = create_app(db).openapi()
    finally:
        db.dispose()
    (folder / "openapi.json").write_text(json.dumps(schema), encoding="utf-8")
    (folder / "config.yaml").write_text(
        f"project_name_override: ratify-client\npackage_name_override: {PACKAGE}\npost_hooks: []\n",
        encoding="utf-8",
    )
    options = ["--path", "openapi.json", "--config", "config.yaml", "--meta", "none"]
    run = subprocess.run(
        [generator(), "generate", *options, "--output-path", f"src/{PACKAGE}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Warning" not in output, f"the generator skipped parts of the schema:\n{output}"
    sys.path.insert(0, str(folder / "src"))
    try:
        package = importlib.import_module(PACKAGE)
        importlib.import_module(f"{PACKAGE}.models")  # so that `rc.models` is there
        yield package
    finally:
        sys.path.remove(str(folder / "src"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class Clients:
    """Generated clients of one in-process app, one per token (and one without)."""

    def __init__(self, rc: Any, app: FastAPI, tokens: dict[str, str]) -> None:
        self.rc, self.app, self.tokens = rc, app, tokens
        self.made: dict[str | None, Any] = {}

    def __call__(self, who: str | None) -> Any:
        """The client that sends `who`'s token (None: no token)."""
        if who not in self.made:
            headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
            http = TestClient(self.app, base_url="http://testserver", headers=headers)
            client = self.rc.Client(base_url="http://testserver", raise_on_unexpected_status=True)
            self.made[who] = client.set_httpx_client(http)
        return self.made[who]


def api(rc: Any, module: str) -> ModuleType:
    """A module of the generated operations, e.g. `versions.record_decision`."""
    found: ModuleType = importlib.import_module(f"{rc.__name__}.api.{module}")
    return found


def problem(rc: Any, response: Any, status: int, code: str) -> Any:
    """The typed problem of `response`: its status, class and `code` as the contract names."""
    assert response.status_code == status, (response.status_code, response.content)
    parsed = response.parsed
    assert type(parsed).__name__.endswith(f"Response{status}"), type(parsed)
    assert parsed.code == code, parsed
    assert parsed.status == status
    assert parsed.type_.endswith("/" + code)
    assert response.headers["content-type"] == "application/problem+json"
    return parsed


@pytest.fixture
def clients(rc: Any, seeded: Database, tokens: dict[str, str], tmp_path: Path) -> Clients:
    """Generated clients of an app on the seeded database, bodies limited to `MAX_BODY`."""
    settings = Settings(
        max_body_bytes=MAX_BODY,
        maildir=tmp_path / "mail",
        run_scheduler=False,
        webhook_allowed_hosts="127.0.0.1",
    )
    return Clients(rc, create_app(seeded, settings), tokens)


def test_the_generated_client_drives_sup_2035_into_force_and_reads_every_problem(
    rc: Any, clients: Clients
) -> None:
    m = rc.models
    get_version = api(rc, "versions.get_version")
    send_out = api(rc, "versions.send_out_version")
    record = api(rc, "versions.record_decision")
    sec = clients("secretariat")

    # 401 without a token, 404 for an unknown version, 403 for a role that may not.
    problem(rc, get_version.sync_detailed(SUP_2035, client=clients(None)), 401, "unauthenticated")
    problem(rc, get_version.sync_detailed("nope", client=sec), 404, "not_found")
    body = m.SendOutIn(respond_by=date.fromisoformat(respond_by()))
    r = send_out.sync_detailed(SUP_2035, client=clients("auditor"), body=body)
    problem(rc, r, 403, "forbidden")

    # 409: no decisions on a drafted version; 412: a stale If-Match.
    r = record.sync_detailed(SUP_2035, client=clients("tyreso"), body=decision(m, "tyreso"))
    problem(rc, r, 409, "invalid_transition")
    r = send_out.sync_detailed(SUP_2035, client=sec, body=body, if_match='"stale"')
    problem(rc, r, 412, "precondition_failed")

    # Sent out with the version's ETag, once, whatever the retries.
    r = get_version.sync_detailed(SUP_2035, client=sec)
    assert isinstance(r.parsed, m.Version)
    assert r.parsed.state == m.VersionState.DRAFTED
    tag = r.headers["etag"]
    r = send_out.sync_detailed(SUP_2035, client=sec, body=body, if_match=tag, idempotency_key="k1")
    assert isinstance(r.parsed, m.Version), r.content
    assert r.parsed.state == m.VersionState.SENT_OUT
    assert r.parsed.respond_by == body.respond_by
    r = send_out.sync_detailed(SUP_2035, client=sec, body=body, if_match=tag, idempotency_key="k1")
    assert r.headers["idempotent-replayed"] == "true"
    assert r.parsed.state == m.VersionState.SENT_OUT
    later = m.SendOutIn(respond_by=body.respond_by + timedelta(days=1))
    r = send_out.sync_detailed(SUP_2035, client=sec, body=later, idempotency_key="k1")
    problem(rc, r, 422, "idempotency_key_reused")

    # 403 for another board, 422 for a decision in the future (with its issues), 413.
    tyreso = clients("tyreso")
    r = record.sync_detailed(SUP_2035, client=tyreso, body=decision(m, "haninge"))
    problem(rc, r, 403, "forbidden_board")
    tomorrow = decision(m, "tyreso", decided_on=today() + timedelta(days=1))
    problem(
        rc, record.sync_detailed(SUP_2035, client=tyreso, body=tomorrow), 422, "validation_error"
    )
    r = record.sync_detailed(SUP_2035, client=tyreso, body=decision(m, "tyreso", paragraph=" "))
    issues = problem(rc, r, 422, "validation_error").errors
    assert [issue.loc for issue in issues] == [["body", "paragraph"]], issues
    long = decision(m, "tyreso", note="x" * MAX_BODY)
    problem(rc, record.sync_detailed(SUP_2035, client=tyreso, body=long), 413, "payload_too_large")

    # Every board approves; Botkyrka twice is 409 `already_decided`; the last puts it in force.
    for board_id in BOARD_IDS:
        r = record.sync_detailed(SUP_2035, client=clients(board_id), body=decision(m, board_id))
        assert isinstance(r.parsed, m.Decision), r.content
        assert r.headers["location"] == f"/v1/decisions/{r.parsed.id}"
        if board_id == "botkyrka":
            again = record.sync_detailed(
                SUP_2035, client=clients(board_id), body=decision(m, board_id)
            )
            problem(rc, again, 409, "already_decided")
    assert r.parsed.version_state == m.VersionState.IN_FORCE

    in_force = api(rc, "programs.get_version_in_force")
    r = in_force.sync_detailed("sup", client=clients("auditor"))
    assert isinstance(r.parsed, m.Version)
    assert (r.parsed.id, r.parsed.in_force_from) == (SUP_2035, date(2019, 6, 10))
    r = in_force.sync_detailed("sup", client=sec, on=date(2000, 1, 1))
    problem(rc, r, 404, "none_in_force")
    r = api(rc, "versions.list_decisions").sync_detailed(SUP_2035, client=sec)
    assert [d.board_id for d in r.parsed.items] == BOARD_IDS


def test_the_generated_client_reads_the_audit_trail_register_export_and_webhooks(
    rc: Any, clients: Clients
) -> None:
    m = rc.models
    auditor, admin = clients("auditor"), clients("admin")
    r = api(rc, "versions.record_decision").sync_detailed(
        SUP_2035, client=clients("tyreso"), body=decision(m, "tyreso")
    )
    problem(rc, r, 409, "invalid_transition")  # still drafted: the trail has its seed events

    r = api(rc, "audit.list_events").sync_detailed(client=auditor, limit=3)
    assert isinstance(r.parsed, m.EventPage)
    assert [e.type_ for e in r.parsed.items] == ["board.created"] * 3
    assert r.parsed.items[0].actor.role == m.Role.SYSTEM
    assert isinstance(r.parsed.next_cursor, str)
    r = api(rc, "audit.verify_audit_trail").sync_detailed(client=auditor)
    assert isinstance(r.parsed, m.Verification)
    assert r.parsed.ok is True
    assert r.parsed.events == r.parsed.checked > 0

    # The export: CSV by default, declared as text; `format=json` comes back as text too.
    export = api(rc, "audit.export_events")
    r = export.sync_detailed(client=auditor)
    assert r.headers["content-type"].startswith("text/csv")
    assert r.parsed.splitlines()[0].startswith("seq,at,type,actor_name")
    r = export.sync_detailed(client=auditor, format_=m.ExportEventsFormat.JSON)
    assert [e["type"] for e in json.loads(r.parsed)][:2] == ["board.created"] * 2
    problem(rc, export.sync_detailed(client=clients("tyreso")), 403, "forbidden")

    r = api(rc, "audit.get_register").sync_detailed(SUP_2035, client=auditor)
    assert isinstance(r.parsed, m.Register)
    assert [(row.board_id, row.outcome) for row in r.parsed.items] == [
        (board_id, m.BoardStatus.PENDING) for board_id in BOARD_IDS
    ]

    # A checkpoint, checked against the trail; changed, it is refused (422 bad_signature).
    r = api(rc, "audit.get_checkpoint").sync_detailed(client=auditor)
    checkpoint = r.parsed
    assert isinstance(checkpoint, m.SignedCheckpoint)
    assert checkpoint.signature.algorithm == "Ed25519"
    verify = api(rc, "audit.verify_against_checkpoint")
    r = verify.sync_detailed(client=auditor, body=checkpoint)
    assert isinstance(r.parsed, m.VerificationAgainstCheckpoint)
    assert (r.parsed.ok, r.parsed.checkpoint.chains) == (True, 2)
    checkpoint.statement.at = "2019-01-01T00:00:00Z"
    problem(rc, verify.sync_detailed(client=auditor, body=checkpoint), 422, "bad_signature")
    r = api(rc, "audit.get_certificate_key").sync_detailed(client=clients("tyreso"))
    assert isinstance(r.parsed, m.PublicKey)
    assert r.parsed.key_id == checkpoint.signature.key_id
    r = api(rc, "operations.get_workflow_diagram").sync_detailed(client=auditor)
    assert r.parsed.startswith("stateDiagram")

    # Webhooks: the secret once, the subscription, its deliveries, rotation and the end.
    body = m.WebhookIn(
        url="http://user:pw@127.0.0.1:9/hook", events=[m.WebhookInEventsItem.VERSION_IN_FORCE]
    )
    r = api(rc, "webhooks.create_webhook").sync_detailed(client=admin, body=body)
    problem(rc, r, 422, "validation_error")  # no user names in webhook targets
    hooks = clients("tyreso")
    body.url = "http://127.0.0.1:9/hook"
    r = api(rc, "webhooks.create_webhook").sync_detailed(client=hooks, body=body)
    assert isinstance(r.parsed, m.WebhookWithSecret), r.content
    hook = r.parsed
    assert hook.secret.startswith("whsec_")
    assert (hook.board_id, hook.events) == ("tyreso", ["version.in_force"])
    r = api(rc, "webhooks.list_webhooks").sync_detailed(client=hooks)
    assert [h.id for h in r.parsed.items] == [hook.id]
    r = api(rc, "webhooks.rotate_webhook_secret").sync_detailed(hook.id, client=hooks)
    assert r.parsed.secret != hook.secret
    assert r.parsed.previous_secret_valid_until is not None
    r = api(rc, "webhooks.list_deliveries").sync_detailed(hook.id, client=hooks)
    assert isinstance(r.parsed, m.DeliveryPage)
    r = api(rc, "webhooks.get_webhook").sync_detailed(hook.id, client=clients("haninge"))
    problem(rc, r, 404, "not_found")  # another board's subscription is invisible
    r = api(rc, "webhooks.delete_webhook").sync_detailed(hook.id, client=hooks)
    assert (r.status_code, r.content) == (204, b"")


def decision(m: Any, board_id: str, **fields: Any) -> Any:
    """A generated `DecisionIn` for `board_id`, approved on 2019-06-10 unless `fields` say."""
    values: dict[str, Any] = {
        "board_id": board_id,
        "outcome": m.Outcome.APPROVED,
        "decided_on": date(2019, 6, 10),
        "paragraph": "§ 60",
        "case_number": f"2019/KS 0260 005-{board_id}",
    } | fields
    return m.DecisionIn(**values)
