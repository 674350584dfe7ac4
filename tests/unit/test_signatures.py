"""Signed statements and checkpoints, pure: no database, no files, no clock."""

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workflow import checkpoints, signatures
from workflow.checkpoints import Head
from workflow.errors import BadSignature, InvalidValue

KEY = Ed25519PrivateKey.generate()
H1, H2 = "a" * 64, "b" * 64


def document() -> dict[str, object]:
    heads = {"sup": Head(12, H1), "_global": Head(3, H2), "empty": Head(0, "0" * 64)}
    return signatures.sign(KEY, checkpoints.statement(datetime(2026, 11, 30, tzinfo=UTC), heads))


def test_a_signed_statement_survives_reformatting_but_not_a_change() -> None:
    signed = document()
    reformatted = json.loads(json.dumps(signed, indent=4, sort_keys=False))
    statement = signatures.verify(KEY.public_key(), reformatted)
    assert statement["at"] == "2026-11-30T00:00:00Z"
    checkpoint = checkpoints.parse(statement)
    assert checkpoint.chains["sup"] == Head(12, H1)

    changed = json.loads(json.dumps(signed))
    changed["statement"]["chains"]["sup"]["hash"] = H2
    with pytest.raises(BadSignature, match="changed after it was signed"):
        signatures.verify(KEY.public_key(), changed)


def test_another_key_is_refused_by_name_and_by_signature() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(BadSignature, match="not by this server's key"):
        signatures.verify(other.public_key(), document())
    forged = signatures.sign(other, document()["statement"])  # type: ignore[arg-type]
    forged["signature"]["key_id"] = signatures.key_id(KEY.public_key())
    with pytest.raises(BadSignature, match="does not match"):
        signatures.verify(KEY.public_key(), forged)


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        {"statement": {}},
        {"statement": {}, "signature": {"algorithm": "RS256", "value": ""}},
        {"statement": {}, "signature": {"algorithm": "Ed25519", "value": "not base64!"}},
    ],
)
def test_a_document_of_another_shape_is_an_invalid_value(broken: object) -> None:
    with pytest.raises(InvalidValue):
        signatures.verify(KEY.public_key(), broken)


def test_keys_load_from_pem_and_from_raw_base64() -> None:
    pem = signatures.private_key_pem(KEY)
    raw = base64.b64encode(KEY.private_bytes_raw()).decode()
    for text in (pem, raw, f"\n{raw}\n"):
        loaded = signatures.load_private_key(text)
        assert signatures.key_id(loaded.public_key()) == signatures.key_id(KEY.public_key())
    view = signatures.public_key_view(KEY.public_key())
    for text in (view["pem"], view["public_key"]):
        assert signatures.key_id(signatures.load_public_key(text)) == view["key_id"]
    for bad in ("", "abc", base64.b64encode(b"x" * 31).decode(), "-----BEGIN nonsense"):
        with pytest.raises(ValueError, match=r"PEM|32 bytes"):
            signatures.load_private_key(bad)


@pytest.mark.parametrize(
    "statement",
    [
        {"kind": "other", "version": 1, "at": "x", "chains": {}},
        {"kind": checkpoints.KIND, "version": 2, "at": "x", "chains": {}},
        {"kind": checkpoints.KIND, "version": 1, "at": "x", "chains": {"sup": {"seq": -1}}},
        {"kind": checkpoints.KIND, "version": 1, "at": "x", "chains": {"s": {"seq": 1, "hash": 1}}},
        {"kind": checkpoints.KIND, "version": 1, "at": "x", "chains": {"s": {"seq": True}}},
        {"kind": checkpoints.KIND, "version": 1, "chains": {}},
    ],
)
def test_a_statement_that_is_not_a_checkpoint_is_refused(statement: dict[str, object]) -> None:
    with pytest.raises(InvalidValue):
        checkpoints.parse(statement)


def test_what_the_trail_must_still_hold() -> None:
    checkpoint = checkpoints.parse(document()["statement"])  # type: ignore[arg-type]
    found = {3: ("_global", H2), 12: ("sup", H1)}
    chains = {"sup", "_global"}
    assert checkpoints.first_missing(checkpoint, found, chains) is None
    assert checkpoints.first_missing(checkpoint, {3: ("_global", H2)}, chains) == (
        checkpoints.Finding("sup", 12, "the event the checkpoint saw is missing")
    )
    other = {3: ("_global", H2), 12: ("sup", H2)}
    finding = checkpoints.first_missing(checkpoint, other, chains)
    assert finding is not None
    assert (finding.chain, finding.seq) == ("sup", 12)
    assert "another hash" in finding.reason
    gone = checkpoints.first_missing(checkpoint, {12: ("sup", H1)}, {"sup"})
    assert gone == checkpoints.Finding("_global", 3, "the chain is missing")
