"""Signed checkpoints over HTTP: an anchor outside the database that a rollback by someone
with database access cannot follow."""

import base64
import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import text

from db import models
from db.audit import event_hash
from db.engine import Database
from tests.conftest import SUP_2035, Api, respond_by
from tests.integration.test_audit import _tamper, approve_all, events
from workflow import signatures

COLUMNS = [column.key for column in models.Event.__table__.columns]


def take(api: Api, as_: str = "auditor") -> dict[str, Any]:
    r = api.get("/v1/audit/checkpoint", as_=as_)
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


def check(api: Api, document: Any) -> Any:
    return api.post("/v1/audit/verify", document, as_="auditor")


def forget(db: Database, chain: str, keep_through: int | None) -> None:
    """What someone with database access does to hide events: delete a chain's last events
    (or all of it), move its head back, and wipe the verified heads that remember it."""
    gone = "chain = :c" + ("" if keep_through is None else " AND seq > :s")
    params = {"c": chain, "s": keep_through}
    with db.engine.begin() as connection:  # what refers to those events goes first
        keys = f"DELETE FROM event_keys WHERE event_seq IN (SELECT seq FROM events WHERE {gone})"
        connection.execute(text(keys), params)
    _tamper(db, f"DELETE FROM events WHERE {gone}", **params)
    with db.engine.begin() as connection:
        if keep_through is None:
            connection.execute(text("DELETE FROM chain_heads WHERE chain = :c"), {"c": chain})
        else:
            head = connection.execute(
                text("SELECT seq, hash FROM events WHERE seq = :s"), {"s": keep_through}
            ).one()
            connection.execute(
                text("UPDATE chain_heads SET seq = :s, hash = :h WHERE chain = :c"),
                {"s": head.seq, "h": head.hash, "c": chain},
            )
        connection.execute(text("DELETE FROM verified_heads"))


def test_a_checkpoint_is_signed_by_the_key_the_service_publishes(api: Api) -> None:
    approve_all(api)
    document = take(api)
    statement = document["statement"]
    assert statement["kind"] == "ratify.audit-checkpoint"
    assert statement["at"].endswith("Z")
    sup = [e for e in events(api, program_id="sup")][-1]
    assert statement["chains"]["sup"] == {"seq": sup["seq"], "hash": sup["hash"]}
    assert set(statement["chains"]) == {"sup", "_global"}

    published = api.get("/v1/certificate-key", as_="tyreso")
    assert published.status_code == 200
    key = published.json()
    assert key["algorithm"] == "Ed25519"
    raw = base64.b64decode(key["public_key"])
    assert len(raw) == 32
    from_pem = serialization.load_pem_public_key(key["pem"].encode())
    assert isinstance(from_pem, Ed25519PublicKey)
    assert signatures.raw_public_key(from_pem) == raw
    assert document["signature"]["key_id"] == key["key_id"]
    # Checked with the library alone, as an outside verifier would.
    Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(document["signature"]["value"]), signatures.canonical(statement)
    )

    assert check(api, document).json()["ok"] is True
    assert api.get("/v1/audit/checkpoint", as_="secretariat").status_code == 403
    assert api.post("/v1/audit/verify", document, as_="secretariat").status_code == 403
    assert take(api, as_="admin")["statement"]["chains"]["sup"] == statement["chains"]["sup"]


@pytest.mark.parametrize("what", ["last_events", "whole_chain"])
def test_a_rollback_the_chain_cannot_see_fails_against_the_checkpoint(
    api: Api, seeded: Database, what: str
) -> None:
    approve_all(api)
    document = take(api)
    sup = events(api, program_id="sup")
    if what == "last_events":
        forget(seeded, "sup", keep_through=sup[-4]["seq"])
    else:
        forget(seeded, "sup", keep_through=None)
    plain = api.get("/v1/audit/verify", as_="auditor").json()
    assert plain["ok"] is True, "the chains alone verify: the gap this closes"

    r = check(api, document)
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["ok"] is False
    assert (found["chain"], found["first_bad_seq"]) == ("sup", sup[-1]["seq"])
    expected = "missing" if what == "last_events" else "the chain is missing"
    assert expected in found["reason"]


def test_a_rewritten_last_event_fails_against_the_checkpoint(api: Api, seeded: Database) -> None:
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    document = take(api)
    last = events(api, program_id="sup")[-1]
    with seeded.reads() as session:
        row = session.get_one(models.Event, last["seq"])
        forged = models.Event(**{c: getattr(row, c) for c in COLUMNS})
    # Rewrite history consistently: the same seq, other content, a correct new hash.
    forged.data = {**forged.data, "respond_by": "2099-01-01"}
    forged.hash = event_hash(forged)
    _tamper(seeded, "DELETE FROM events WHERE seq = :s", s=last["seq"])
    with seeded.writes() as session:
        session.add(forged)
        session.execute(
            text("UPDATE chain_heads SET hash = :h WHERE chain = 'sup'"), {"h": forged.hash}
        )
        session.execute(text("DELETE FROM verified_heads"))
        session.commit()
    assert api.get("/v1/audit/verify", as_="auditor").json()["ok"] is True
    found = check(api, document).json()
    assert (found["ok"], found["chain"], found["first_bad_seq"]) == (False, "sup", last["seq"])
    assert "another hash" in found["reason"]


def test_a_checkpoint_not_signed_by_this_server_is_refused(api: Api) -> None:
    approve_all(api)
    document = take(api)

    forged = signatures.sign(Ed25519PrivateKey.generate(), document["statement"])
    r = check(api, forged)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "bad_signature"

    altered = copy.deepcopy(document)
    altered["statement"]["chains"]["sup"]["seq"] -= 1
    r = check(api, altered)
    assert (r.status_code, r.json()["code"]) == (422, "bad_signature")
    assert "changed after it was signed" in r.json()["detail"]

    relabelled = copy.deepcopy(forged)
    relabelled["signature"]["key_id"] = document["signature"]["key_id"]
    assert check(api, relabelled).json()["code"] == "bad_signature"

    nonsense: dict[str, Any]
    for nonsense in ({}, {"statement": {}, "signature": "x"}, {"statement": [], "signature": {}}):
        r = check(api, nonsense)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), nonsense


def test_no_checkpoint_of_a_broken_trail(api: Api, seeded: Database) -> None:
    approve_all(api)
    target = events(api, type="decision.recorded")[-1]["seq"]
    _tamper(seeded, "UPDATE events SET data = :d WHERE seq = :s", d="{}", s=target)
    r = api.get("/v1/audit/checkpoint", as_="auditor")
    assert r.status_code == 409
    assert r.json()["code"] == "chain_broken"
    assert f"seq {target}" in r.json()["detail"]
