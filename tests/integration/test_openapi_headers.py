"""The headers the schema declares are the headers the server sends and honours.

One story calls every write of the schema (a write is an operation with an
`Idempotency-Key`): each first with a stale `If-Match`, which only the
operations that declare `If-Match` refuse (412 `precondition_failed`); then
its answer has the documented status and exactly the documented `Location`
and `ETag`; a retry with the same key is replayed (`Idempotent-Replayed:
true`). A new write route fails here until the story calls it.
"""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from db.engine import Database
from tests.conftest import SUP_2035, decision, respond_by

STALE = '"0000000000000000"'


SHOWN_ONCE = {"secret", "secret_withheld"}
"""Fields a replay answers otherwise: a webhook's secret is shown once (see the README)."""


def shown(response: Any) -> Any:
    """A response's JSON body without the fields shown once (None for no body)."""
    if not response.content:
        return None
    body = response.json()
    return {k: v for k, v in body.items() if k not in SHOWN_ONCE}


class Story:
    """Calls operations by operationId and checks each answer's headers against the schema."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens
        schema = client.app.openapi()  # type: ignore[attr-defined]
        self.operations = {
            op["operationId"]: (method.upper(), path, op)
            for path, item in schema["paths"].items()
            for method, op in item.items()
        }
        self.writes = {
            name
            for name, (_m, _p, op) in self.operations.items()
            if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
        }
        self.called: set[str] = set()

    def write(self, name: str, as_: str, body: Any = None, **ids: str) -> Any:
        """Call the write `name` as the checks above; its JSON answer (None for none)."""
        method, template, op = self.operations[name]
        path = template.format(**ids)
        success = next(status for status in op["responses"] if status.startswith("2"))
        declared = op["responses"][success].get("headers", {})
        honours = any(p["name"] == "If-Match" for p in op.get("parameters", []))
        headers = {
            "Authorization": f"Bearer {self.tokens[as_]}",
            "Idempotency-Key": f"story-{name}",
            "If-Match": STALE,
        }
        r = self.client.request(method, path, json=body, headers=headers)
        if honours:
            assert r.status_code == 412, (name, r.text)
            assert r.json()["code"] == "precondition_failed"
            del headers["If-Match"]
            r = self.client.request(method, path, json=body, headers=headers)
        assert r.status_code == int(success), (name, r.status_code, r.text)
        for header in ("Location", "ETag"):
            assert (header.lower() in r.headers) == (header in declared), (name, header)
        assert "idempotent-replayed" not in r.headers
        again = self.client.request(method, path, json=body, headers=headers)
        assert again.status_code == r.status_code, name
        assert shown(again) == shown(r), name
        assert again.headers.get("idempotent-replayed") == "true", name
        assert "Idempotent-Replayed" in declared, name
        if "Location" in declared:
            assert again.headers["location"] == r.headers["location"]
        self.called.add(name)
        return r.json() if r.content else None

    def read(self, name: str, **ids: str) -> Any:
        """Call the read `name`; check that it sends an `ETag` exactly when declared."""
        method, template, op = self.operations[name]
        headers = {"Authorization": f"Bearer {self.tokens['auditor']}"}
        r = self.client.request(method, template.format(**ids), headers=headers)
        assert r.status_code == 200, (name, r.text)
        declared = op["responses"]["200"].get("headers", {})
        assert ("etag" in r.headers) == ("ETag" in declared), name
        return r.json()


def test_every_write_sends_and_honours_the_headers_its_schema_declares(
    seeded: Database, tokens: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings(
        webhook_allowed_hosts="127.0.0.1", maildir=tmp_path / "mail", run_scheduler=False
    )
    with TestClient(create_app(seeded, settings), raise_server_exceptions=False) as client:
        story = Story(client, tokens)
        hook = story.write(
            "create_webhook", "admin", {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
        )
        board = {
            "id": "openapi",
            "municipality": "Schemats kommun",
            "name": "Kommunstyrelsen",
            "municipality_code": "0999",
            "email": "ks@openapi.example",
        }
        story.write("create_board", "admin", board)
        program = {
            "id": "openapi",
            "title": "Schemaprogrammet",
            "owner": "Södertörns samarbetskommitté",
            "boards": ["tyreso", "openapi"],
        }
        story.write("create_program", "secretariat", program)
        story.write("publish_program", "secretariat", {"public": True}, program_id="openapi")
        draft = {"label": "Schema 1", "drafted_on": "2019-05-28", "valid_from": "2019-01-01"}
        version = story.write("create_version", "secretariat", draft, program_id="openapi")["id"]
        out = {"respond_by": respond_by()}
        story.write("send_out_version", "secretariat", out, version_id=version)
        decided = story.write("record_decision", "tyreso", decision("tyreso"), version_id=version)
        dates = {"minutes_attested_on": "2019-06-12", "announced_on": "2019-06-13"}
        story.write("announce_decision", "tyreso", dates, decision_id=decided["id"])
        lodged = {"lodged_on": "2019-06-20", "court": "Förvaltningsrätten", "case_number": "1-19"}
        appeal = story.write("lodge_appeal", "tyreso", lodged, decision_id=decided["id"])
        ruling = {"outcome": "rejected", "ruled_on": "2019-10-02", "ruling_final_on": "2019-10-24"}
        story.write("record_ruling", "secretariat", ruling, appeal_id=appeal["id"])
        slip = {"changes": {"paragraph": "§ 61"}, "reason": "fel paragraf i utdraget"}
        story.write("correct_decision", "tyreso", slip, decision_id=decided["id"])
        story.write("withdraw_version", "secretariat", {"reason": "ersätts"}, version_id=version)
        story.write("rotate_webhook_secret", "admin", webhook_id=hook["id"])
        listed = client.get(
            f"/v1/webhooks/{hook['id']}/deliveries",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        delivery = str(listed.json()["items"][0]["id"])
        story.write("redeliver", "admin", webhook_id=hook["id"], delivery_id=delivery)
        story.write("delete_webhook", "admin", webhook_id=hook["id"])
        assert story.called == story.writes, (
            f"writes the story does not call yet: {story.writes - story.called}"
        )

        story.read("get_version", version_id=SUP_2035)
        story.read("get_version_in_force", program_id="sup")
        story.read("get_program", program_id="sup")
        story.read("get_decision", decision_id=decided["id"])
