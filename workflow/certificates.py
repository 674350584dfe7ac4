"""Certificates of adoption (and of rejection): what one certifies, and how it is put together.

Pure: the caller reads the facts (the program, the version, the decision that
stands for each member board, the program's audit chain from the version's
`version.drafted` event to the head) and hands them in as JSON values; the
signing is `workflow.signatures`, the checking `workflow.certificate_check`.

A certificate is a signed document (`{"statement", "signature"}`) whose
statement is

    {"schema": "ratify.certificate/1", "kind": "adoption" | "rejection",
     "issued_at", "key": {"algorithm", "key_id", "public_key"},
     "program": {"id", "title", "owner", "boards": [board id, ...]},
     "version": {"id", "label", "state", "drafted_on", "valid_from", "valid_until",
                 "replaces", "superseded_by", "sent_out_at", "respond_by",
                 "in_force_from", "superseded_on", "final_on",
                 "document": {"title", "url", "sha256"} | null},
     "decisions": [{"board": {"id", "municipality", "name", "municipality_code"},
                    "decision": {...} | null, "events": [seq, ...]}, ...],
     "chain": {"id", "from_seq", "head": {"seq", "hash"}, "events": [event, ...]}}

Each chain event carries `seq`, `hash` and every field its hash covers (its
hash is SHA-256 over the canonical JSON of the event without `seq` and
`hash`), so the chain can be re-hashed and followed with nothing else. Each
decision names the `seq` of the events that recorded it and everything that
happened to it since (`decision.recorded`, `decision.announced`,
`decision.corrected`, `appeal.*` …).
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from workflow.errors import InvalidTransition
from workflow.states import VersionState

SCHEMA = "ratify.certificate/1"


class CertificateKind(StrEnum):
    """What a certificate certifies."""

    ADOPTION = "adoption"
    REJECTION = "rejection"


CERTIFIABLE = {
    VersionState.IN_FORCE: CertificateKind.ADOPTION,
    VersionState.SUPERSEDED: CertificateKind.ADOPTION,
    VersionState.REJECTED: CertificateKind.REJECTION,
}
"""The states a certificate is issued for, and what it then certifies."""

DECISION_FIELDS = (
    "outcome",
    "decided_on",
    "paragraph",
    "case_number",
    "document_sha256",
    "minutes_attested_on",
    "announced_on",
    "appeal_until",
    "final_on",
    "status",
    "note",
)
"""A decision's fields that its events state (the rest: `id`, `corrected`, `recorded_by`,
`recorded_at`, follow from which events there are, who wrote them and when)."""

FOLLOWING = frozenset({"status", "appeal_until", "final_on"})
"""What an appeal's events say about the decision appealed."""


def kind_of(state: str, imported: bool, label: str) -> CertificateKind:
    """What a certificate of a version in `state` certifies; `InvalidTransition` when none
    can be issued (a version still open, withdrawn, or imported as history)."""
    if imported:
        raise InvalidTransition(
            f"{label} was imported as history: ratify never saw its decisions, so it certifies none"
        )
    try:
        return CERTIFIABLE[VersionState(state)]
    except (KeyError, ValueError):
        raise InvalidTransition(
            f"a certificate is issued for a version in force, superseded or rejected;"
            f" {label} is {state}"
        ) from None


def decision_id(event: Mapping[str, Any]) -> str | None:
    """The decision an event is about (its `data.decision_id`), if any."""
    data = event.get("data")
    found = data.get("decision_id") if isinstance(data, Mapping) else None
    return found if isinstance(found, str) else None


def statement(
    *,
    issued_at: str,
    key: Mapping[str, str],
    program: Mapping[str, Any],
    version: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    head: Mapping[str, Any],
) -> dict[str, Any]:
    """The statement a certificate signs.

    `members` holds `{"board", "decision"}` per member board in the
    program's order; each gets the `seq` of the events about its decision.
    `events` is the program's chain from the version's `version.drafted`
    event to `head`, oldest first.
    """
    imported = bool(version.get("imported"))
    kind = kind_of(str(version["state"]), imported, str(version["label"]))
    about: dict[str, list[int]] = {}
    for event in events:
        found = decision_id(event)
        if found is not None and event.get("version_id") == version["id"]:
            about.setdefault(found, []).append(int(event["seq"]))
    decisions = [
        {
            "board": dict(member["board"]),
            "decision": dict(member["decision"]) if member["decision"] else None,
            "events": about.get(member["decision"]["id"], []) if member["decision"] else [],
        }
        for member in members
    ]
    shown = {k: v for k, v in version.items() if k != "imported"}
    return {
        "schema": SCHEMA,
        "kind": kind.value,
        "issued_at": issued_at,
        "key": {k: key[k] for k in ("algorithm", "key_id", "public_key")},
        "program": dict(program),
        "version": shown,
        "decisions": decisions,
        "chain": {
            "id": program["id"],
            "from_seq": int(events[0]["seq"]) if events else None,
            "head": {"seq": int(head["seq"]), "hash": str(head["hash"])},
            "events": [dict(e) for e in events],
        },
    }
