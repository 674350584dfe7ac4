"""The pure parts of evidence and openness, without a database: a certificate that is not
one is refused in words (never an exception), which versions can be certified, and how
the calendar's SEQUENCE and DTSTAMP follow the audit trail."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workflow import signatures
from workflow.certificate_check import check
from workflow.certificates import CertificateKind, kind_of
from workflow.deadlines import DecisionFacts, VersionFacts, deadlines, revisions
from workflow.errors import InvalidTransition

KEY = Ed25519PrivateKey.generate()


def signed(statement: dict[str, Any]) -> dict[str, Any]:
    view = signatures.public_key_view(KEY.public_key())
    statement = {**statement, "key": {k: view[k] for k in ("algorithm", "key_id", "public_key")}}
    return signatures.sign(KEY, statement)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "not a certificate: a JSON object with statement and signature"),
        ({"statement": 1, "signature": {}}, "not a certificate: no statement object"),
        ({"statement": {}, "signature": {}}, "not a ratify.certificate/1 document"),
    ],
)
def test_what_is_not_a_certificate_is_said_so(document: Any, problem: str) -> None:
    report = check(document, KEY.public_key())
    assert not report.ok
    assert report.problems[0].startswith(problem)


@pytest.mark.parametrize(
    "broken",
    [
        {"schema": "ratify.certificate/1"},
        {"schema": "ratify.certificate/1", "chain": [], "version": {}, "program": {}},
        {
            "schema": "ratify.certificate/1",
            "kind": "adoption",
            "program": {"id": "sup", "boards": ["tyreso"]},
            "version": {"id": "v", "state": "no-such-state"},
            "decisions": [{"board": {"id": "tyreso"}, "decision": None, "events": []}],
            "chain": {"id": "sup", "from_seq": 1, "head": {"seq": 1, "hash": "x"}, "events": []},
        },
        {
            "schema": "ratify.certificate/1",
            "kind": "adoption",
            "program": {"id": "sup", "boards": ["tyreso"]},
            "version": {"id": "v", "state": "in_force"},
            "decisions": [{"board": {"id": "tyreso"}, "decision": {"id": "d"}, "events": ["x"]}],
            "chain": {"id": "sup", "from_seq": 1, "head": {"seq": 1, "hash": "x"}, "events": []},
        },
    ],
)
def test_a_malformed_certificate_is_refused_in_words(broken: dict[str, Any]) -> None:
    report = check(signed(broken), KEY.public_key())
    assert not report.ok
    assert report.problems
    assert all(isinstance(p, str) and p for p in report.problems)


def test_only_a_decided_version_that_ratify_saw_can_be_certified() -> None:
    assert kind_of("in_force", False, "SUP 2035") is CertificateKind.ADOPTION
    assert kind_of("superseded", False, "SUP 2035") is CertificateKind.ADOPTION
    assert kind_of("rejected", False, "SUP 2035") is CertificateKind.REJECTION
    for state in ("drafted", "sent_out", "withdrawn", "nonsense"):
        with pytest.raises(InvalidTransition, match="SUP 2035 is"):
            kind_of(state, False, "SUP 2035")
    with pytest.raises(InvalidTransition, match="imported as history"):
        kind_of("in_force", True, "SUP 2013")


T0 = datetime(2019, 6, 10, 8, tzinfo=UTC)


def test_a_revision_only_grows_and_is_stamped_with_its_last_event() -> None:
    events = [("v", T0), ("d", T0 + timedelta(hours=1)), ("d", T0 + timedelta(hours=2))]
    assert revisions(events) == {"v": (0, T0), "d": (1, T0 + timedelta(hours=2))}
    assert revisions([*events, ("d", T0 + timedelta(days=1))])["d"][0] == 2


def test_the_deadlines_of_a_version_and_its_decisions() -> None:
    standing = DecisionFacts(
        "d1", "tyreso", "Tyresö kommun", "§ 60", "2019/KS 0260 005",
        date(2019, 7, 4), date(2019, 7, 5), "standing",
    )  # fmt: skip
    annulled = DecisionFacts(
        "d2", "salem", "Salems kommun", "§ 7", None, date(2019, 7, 4), None, "annulled"
    )
    out = VersionFacts("v", "SUP 2035", "sent_out", date(2019, 6, 30), None, [standing, annulled])
    found = deadlines([out], [("v", T0), ("d1", T0)], T0 - timedelta(days=1))
    assert [(d.uid, d.day) for d in found] == [
        ("respond-by-v@ratify", date(2019, 6, 30)),
        ("appeal-until-d1@ratify", date(2019, 7, 4)),
        ("decision-final-d1@ratify", date(2019, 7, 5)),
    ]
    in_force = VersionFacts("v", "SUP 2035", "in_force", date(2019, 6, 30), date(2019, 7, 5), [])
    (only,) = deadlines([in_force], [], T0)
    assert (only.uid, only.sequence, only.stamp) == ("version-final-v@ratify", 0, T0)
