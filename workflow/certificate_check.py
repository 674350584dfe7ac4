"""Checking a certificate of adoption with nothing but the certificate and a public key.

Pure, so `ratify certificate verify` needs no database, and every check says
what is wrong in words an auditor can act on:

1. the key: the statement names its public key and `key_id`; when a trusted
   key is given (`--key`, the configured key) it must be that key
   ("signed by another key");
2. the signature: Ed25519 over the statement's canonical JSON
   ("signature does not match");
3. the chain: every event re-hashes to its `hash` ("event seq 40: hash does
   not match its content"), links to the one before it ("event seq 41 does
   not link to seq 40"), the first is the version's `version.drafted` and the
   last is the head at issue;
4. the version: its state, dates and document hash are what its events say;
5. the decisions: every member board is there ("board tyreso missing"), and
   each decision's fields are what the events it names say ("decision of
   haninge: paragraph differs from event seq 42").

Every problem is reported, not only the first: an edit breaks the signature
and the content checks say where.
"""

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from workflow.certificates import (
    CERTIFIABLE,
    DECISION_FIELDS,
    FOLLOWING,
    SCHEMA,
    CertificateKind,
    decision_id,
)
from workflow.signatures import ALGORITHM, canonical, key_id, load_public_key, raw_public_key
from workflow.signatures import verify_bytes as signature_holds
from workflow.states import VersionState

Event = Mapping[str, Any]


@dataclass
class Report:
    """What checking a certificate found: its statement, and every problem."""

    statement: Mapping[str, Any] | None = None
    key_id: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Genuine and untouched: no problem found."""
        return self.statement is not None and not self.problems


def check(document: Any, trusted: Ed25519PublicKey | None) -> Report:
    """Check a signed certificate: its key (against `trusted`, when given), its signature,
    and that its content is what its audit events say."""
    report = Report()
    if not isinstance(document, Mapping):
        report.problems.append("not a certificate: a JSON object with statement and signature")
        return report
    statement, signature = document.get("statement"), document.get("signature")
    if not isinstance(statement, Mapping) or not isinstance(signature, Mapping):
        report.problems.append("not a certificate: no statement object and signature object")
        return report
    if statement.get("schema") != SCHEMA:
        report.problems.append(f"not a {SCHEMA} document (schema {statement.get('schema')!r})")
        return report
    report.statement = statement
    _signature(statement, signature, trusted, report)
    try:
        report.problems.extend(check_statement(statement))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        report.problems.append(f"the certificate is malformed: {type(exc).__name__} {exc}")
    return report


def _signature(
    statement: Mapping[str, Any],
    signature: Mapping[str, Any],
    trusted: Ed25519PublicKey | None,
    report: Report,
) -> None:
    """The key the statement names, the trusted key, and the signature under it."""
    problems = report.problems
    named = statement.get("key")
    try:
        if not isinstance(named, Mapping):
            raise ValueError("no key object")
        public = load_public_key(str(named.get("public_key", "")))
    except ValueError as exc:
        problems.append(f"the certificate's public key cannot be read: {exc}")
        return
    report.key_id = key_id(public)
    if named.get("key_id") != report.key_id or signature.get("key_id") != report.key_id:
        problems.append(f"the key_id does not match the certificate's public key ({report.key_id})")
    if trusted is not None and raw_public_key(trusted) != raw_public_key(public):
        problems.append(
            f"signed by another key: key {report.key_id}, not the trusted key {key_id(trusted)}"
        )
    if signature.get("algorithm") != ALGORITHM:
        problems.append(f"the signature's algorithm is not {ALGORITHM}")
        return
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        problems.append("the signature's value is not base64")
        return
    if not signature_holds(public, canonical(statement), value):
        problems.append("signature does not match: the certificate was changed after it was signed")


def event_digest(event: Event) -> str:
    """The hash an event must have: SHA-256 over its canonical JSON without `seq` and `hash`."""
    body = {k: v for k, v in event.items() if k not in ("seq", "hash")}
    return hashlib.sha256(canonical(body)).hexdigest()


def check_statement(statement: Mapping[str, Any]) -> list[str]:
    """Every way the statement's content disagrees with itself or with its audit events."""
    problems: list[str] = []
    by_seq = _chain(statement, problems)
    _version(statement, by_seq, problems)
    _boards(statement, by_seq, problems)
    for entry in statement["decisions"]:
        _decision(statement, entry, by_seq, problems)
    return problems


def _chain(statement: Mapping[str, Any], problems: list[str]) -> dict[int, Event]:
    """The chain's events by `seq`, once checked: hashes, links, first event and head."""
    chain, version = statement["chain"], statement["version"]
    events: Sequence[Event] = chain["events"]
    if chain["id"] != statement["program"]["id"]:
        problems.append(
            f"the chain is {chain['id']}, not the program's {statement['program']['id']}"
        )
    if not events:
        problems.append("the chain holds no events")
        return {}
    by_seq: dict[int, Event] = {}
    previous: Event | None = None
    for event in events:
        seq = int(event["seq"])
        if previous is not None and seq <= int(previous["seq"]):
            problems.append(f"event seq {seq} is out of order (after seq {previous['seq']})")
        if event_digest(event) != event["hash"]:
            problems.append(f"event seq {seq}: hash does not match its content")
        if previous is not None and event["prev_hash"] != previous["hash"]:
            problems.append(f"event seq {seq} does not link to seq {previous['seq']}")
        if event["chain"] != chain["id"]:
            problems.append(f"event seq {seq} belongs to chain {event['chain']}, not {chain['id']}")
        by_seq[seq] = previous = event
    first = events[0]
    if first["type"] != "version.drafted" or first["version_id"] != version["id"]:
        problems.append(
            "the chain does not begin with the version's version.drafted event"
            f" (seq {first['seq']})"
        )
    if chain["from_seq"] != first["seq"]:
        problems.append(f"from_seq {chain['from_seq']} is not the first event's seq {first['seq']}")
    head, last = chain["head"], events[-1]
    if head["seq"] != last["seq"] or head["hash"] != last["hash"]:
        problems.append(
            f"the chain head (seq {head['seq']}) is not the last event (seq {last['seq']})"
        )
    return by_seq


def _version(statement: Mapping[str, Any], by_seq: dict[int, Event], problems: list[str]) -> None:
    """The version's state, dates and document are what its events say."""
    version, kind = statement["version"], statement["kind"]
    certifies = CERTIFIABLE.get(VersionState(version["state"]))
    if certifies is None or certifies.value != kind:
        problems.append(
            f"a certificate of {kind} cannot certify a version that is {version['state']}"
        )
    said: dict[str, tuple[Any, int]] = {}
    for seq, event in sorted(by_seq.items()):
        if event["version_id"] != version["id"]:
            continue
        data, type_ = event["data"], event["type"]
        for name, value in _version_event(type_, data).items():
            said[name] = (value, seq)
    document = version.get("document") or {}
    for name, (value, seq) in said.items():
        shown = document.get("sha256") if name == "document_sha256" else version.get(name)
        if shown != value:
            what = "document sha256" if name == "document_sha256" else f"version: {name}"
            problems.append(f"{what} differs from event seq {seq}")


_STATES = {
    "version.drafted": VersionState.DRAFTED,
    "version.sent_out": VersionState.SENT_OUT,
    "version.withdrawn": VersionState.WITHDRAWN,
    "version.rejected": VersionState.REJECTED,
    "version.in_force": VersionState.IN_FORCE,
    "version.superseded": VersionState.SUPERSEDED,
    "version.reopened": VersionState.SENT_OUT,
    "version.reinstated": VersionState.IN_FORCE,
}


def _version_event(type_: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What one of a version's events says about it (state, dates, document)."""
    said: dict[str, Any] = {}
    if type_ in _STATES:
        said["state"] = _STATES[type_].value
    if type_ == "version.drafted" and "document_sha256" in data:
        said["document_sha256"] = data["document_sha256"]
    elif type_ == "version.sent_out":
        said["respond_by"] = data["respond_by"]
    elif type_ == "version.in_force":
        said["in_force_from"] = data["in_force_from"]
    elif type_ == "version.superseded":
        said["superseded_on"] = data["superseded_on"]
    elif type_ == "version.reopened" and data.get("was") == VersionState.IN_FORCE:
        said["in_force_from"] = None
    elif type_ == "version.reinstated":
        said["superseded_on"] = None
    elif type_ == "version.corrected":
        for name in ("in_force_from", "superseded_on"):
            if name in data:
                said[name] = data[name]["to"]
    return said


def _boards(statement: Mapping[str, Any], by_seq: dict[int, Event], problems: list[str]) -> None:
    """Every member board has its entry (and every board whose decision the chain records)."""
    members: Sequence[str] = statement["program"]["boards"]
    listed = [entry["board"]["id"] for entry in statement["decisions"]]
    missing = [m for m in members if m not in listed]
    for board in sorted({b for b in listed if listed.count(b) > 1}):
        problems.append(f"board {board} appears more than once")
    for board in sorted(set(listed) - set(members)):
        problems.append(f"board {board} is not a member of the program")
    decided = {
        event["board_id"]: seq
        for seq, event in sorted(by_seq.items(), reverse=True)
        if event["type"] == "decision.recorded"
        and event["version_id"] == statement["version"]["id"]
    }
    for board in missing:
        problems.append(f"board {board} missing")
    for board, seq in sorted(decided.items()):
        if board not in listed and board not in missing:
            problems.append(f"board {board} missing (event seq {seq} records its decision)")
    kind = statement["kind"]
    entries = {entry["board"]["id"]: entry for entry in statement["decisions"]}
    if kind == CertificateKind.ADOPTION:
        for board, entry in entries.items():
            decision = entry["decision"]
            if decision is None or decision["outcome"] != "approved":
                outcome = decision["outcome"] if decision else "no decision"
                problems.append(
                    f"decision of {board}: {outcome}, yet the certificate certifies an adoption"
                )
    elif kind == CertificateKind.REJECTION and not any(
        e["decision"]
        and e["decision"]["outcome"] in ("rejected", "amended")
        and e["decision"]["status"] != "annulled"
        for e in entries.values()
    ):
        problems.append(
            "no decision rejects the version, yet the certificate certifies a rejection"
        )


def _decision(
    statement: Mapping[str, Any],
    entry: Mapping[str, Any],
    by_seq: dict[int, Event],
    problems: list[str],
) -> None:
    """One board's decision is what the events it names say, and names all of them."""
    board, decision = entry["board"]["id"], entry["decision"]
    version_id = statement["version"]["id"]
    if decision is None:
        if entry["events"]:
            problems.append(f"decision of {board}: events listed for no decision")
        return
    said: dict[str, tuple[Any, int]] = {}
    for seq in entry["events"]:
        event = by_seq.get(int(seq))
        if event is None:
            problems.append(
                f"decision of {board}: event seq {seq} is not in the certificate's chain"
            )
            continue
        about = (event["version_id"], event["board_id"], decision_id(event))
        if about != (version_id, board, decision["id"]):
            problems.append(f"decision of {board}: event seq {seq} is about another decision")
            continue
        if not said and event["type"] != "decision.recorded":
            problems.append(
                f"decision of {board}: its first event (seq {seq}) is not decision.recorded"
            )
        for name, value in _decision_event(event, said).items():
            said[name] = (value, int(seq))
    for seq, event in sorted(by_seq.items()):
        if decision_id(event) == decision["id"] and seq not in entry["events"]:
            problems.append(f"decision of {board}: event seq {seq} is about it but not listed")
    for name, (value, seq) in said.items():
        if name in ("recorded_by", "recorded_at"):
            continue
        if decision.get(name) != value:
            problems.append(f"decision of {board}: {name} differs from event seq {seq}")
    if "recorded_by" in said:
        actor, seq = said["recorded_by"]
        shown = decision.get("recorded_by") or {}
        if [shown.get(k) for k in ("name", "role", "board_id")] != actor:
            problems.append(f"decision of {board}: recorded_by differs from event seq {seq}")
        at, seq = said["recorded_at"]
        if _instant(decision.get("recorded_at")) != _instant(at):
            problems.append(f"decision of {board}: recorded_at differs from event seq {seq}")


def _decision_event(event: Event, said: Mapping[str, tuple[Any, int]]) -> dict[str, Any]:
    """What one event says about the decision it is about."""
    type_, data = event["type"], event["data"]
    values: dict[str, Any] = {}
    if type_ == "decision.recorded":
        values = {name: data[name] for name in DECISION_FIELDS if name in data}
        values.update(status="standing", corrected=False)
        values["recorded_by"] = _actor(event["actor"])
        values["recorded_at"] = event["at"]
    elif type_ == "decision.corrected":
        values = {name: change["to"] for name, change in data["changes"].items()}
        values.update({name: data[name] for name in FOLLOWING if name in data})
        values["corrected"] = True
    elif type_.startswith("decision."):
        values = {name: data[name] for name in DECISION_FIELDS if name in data}
    elif type_.startswith("appeal."):
        values = {name: data[name] for name in FOLLOWING if name in data}
    return values


def _actor(actor: Any) -> list[Any]:
    """An event's actor as [name, role, board_id] (a list in the trail, or an object)."""
    if isinstance(actor, Mapping):
        return [actor.get("name"), actor.get("role"), actor.get("board_id")]
    return list(actor)[:3]


def _instant(value: Any) -> datetime | None:
    """A timestamp, whichever way its zone is written (`Z` or `+00:00`)."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
