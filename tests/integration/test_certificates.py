"""Certificates of adoption over HTTP, on SQLite and PostgreSQL, checked with the offline code.

The SUP 2035 story (eight approvals, announcements, a correction, an appeal
that is rejected) ends with a certificate that the pure checker accepts;
each kind of tampering is refused with its reason. The command line and the
README's plain-Python verifier are run against a real server in
`tests/e2e/test_evidence.py`.
"""

import copy
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.certificate_schema import Certificate
from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035, Api, decision, respond_by
from workflow import signatures
from workflow.certificate_check import check, event_digest

DOCUMENT = hashlib.sha256(b"SUP 2040, antagandehandling").hexdigest()


def adopt(api: Api, version_id: str = SUP_2035, **extra: Any) -> dict[str, str]:
    """Send the version out and have every board approve it, announced; decision ids."""
    r = api.post(f"/v1/versions/{version_id}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    ids = {}
    for n, board_id in enumerate(BOARD_IDS):
        body = decision(
            board_id,
            decided_on="2019-06-10",
            paragraph=f"§ {60 + n}",
            minutes_attested_on="2019-06-11",
            announced_on="2019-06-12",
            **extra,
        )
        r = api.post(f"/v1/versions/{version_id}/decisions", body, as_=board_id)
        assert r.status_code == 201, r.text
        ids[board_id] = r.json()["id"]
    return ids


def sup_2035_story(api: Api) -> dict[str, str]:
    """SUP 2035 in force; Haninge's § corrected, Tyresö's decision appealed and upheld."""
    ids = adopt(api)
    r = api.post(
        f"/v1/decisions/{ids['haninge']}/corrections",
        {"changes": {"paragraph": "§ 161"}, "reason": "skrivfel i protokollsutdraget"},
    )
    assert r.status_code == 201, r.text
    r = api.post(
        f"/v1/decisions/{ids['tyreso']}/appeals",
        {"lodged_on": "2019-06-20", "court": "Förvaltningsrätten i Stockholm", "case_number": "1"},
    )
    assert r.status_code == 201, r.text
    r = api.post(
        f"/v1/appeals/{r.json()['id']}/ruling",
        {"outcome": "rejected", "ruled_on": "2019-09-02", "ruling_final_on": "2019-09-24"},
    )
    assert r.status_code == 200, r.text
    return ids


def trusted(api: Api) -> Any:
    view = api.get("/v1/certificate-key", as_="tyreso").json()
    return signatures.load_public_key(view["public_key"])


def certificate(api: Api, version_id: str = SUP_2035) -> dict[str, Any]:
    r = api.get(f"/v1/versions/{version_id}/certificate", as_="tyreso")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def entry(document: dict[str, Any], board_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e for e in document["statement"]["decisions"] if e["board"]["id"] == board_id
    )
    return found


def test_the_sup_2035_story_ends_with_a_genuine_certificate(api: Api) -> None:
    ids = sup_2035_story(api)
    document = certificate(api)
    Certificate.model_validate(document)  # what the OpenAPI schema says it is
    report = check(document, trusted(api))
    assert report.problems == []
    assert report.ok
    s = document["statement"]
    assert s["schema"] == "ratify.certificate/1"
    assert s["kind"] == "adoption"
    assert s["version"]["state"] == "in_force"
    assert s["version"]["in_force_from"] == "2019-06-10"
    assert s["program"]["boards"] == BOARD_IDS
    assert [e["board"]["id"] for e in s["decisions"]] == BOARD_IDS
    events = {e["seq"]: e for e in s["chain"]["events"]}
    assert s["chain"]["events"][0]["type"] == "version.drafted"
    assert s["chain"]["head"]["seq"] == s["chain"]["events"][-1]["seq"]
    haninge = entry(document, "haninge")
    assert haninge["decision"]["id"] == ids["haninge"]
    assert haninge["decision"]["paragraph"] == "§ 161"
    assert haninge["decision"]["corrected"] is True
    assert [events[n]["type"] for n in haninge["events"]] == [
        "decision.recorded",
        "decision.corrected",
    ]
    tyreso = entry(document, "tyreso")
    assert tyreso["decision"]["final_on"] == "2019-09-24"
    assert [events[n]["type"] for n in tyreso["events"]] == [
        "decision.recorded",
        "appeal.lodged",
        "appeal.ruled",
    ]
    assert tyreso["decision"]["recorded_by"] == {
        "name": "tyreso-system",
        "role": "board",
        "board_id": "tyreso",
    }
    for e in s["chain"]["events"]:
        assert event_digest(e) == e["hash"]


def test_a_certificate_names_what_was_changed(api: Api) -> None:
    sup_2035_story(api)
    document = certificate(api)
    key = trusted(api)
    correction = entry(document, "haninge")["events"][1]

    flipped = copy.deepcopy(document)
    entry(flipped, "haninge")["decision"]["paragraph"] = "§ 162"  # one byte
    problems = check(flipped, key).problems
    assert problems == [
        "signature does not match: the certificate was changed after it was signed",
        f"decision of haninge: paragraph differs from event seq {correction}",
    ]

    dropped = copy.deepcopy(document)
    dropped["statement"]["decisions"] = [
        e for e in dropped["statement"]["decisions"] if e["board"]["id"] != "tyreso"
    ]
    assert "board tyreso missing" in check(dropped, key).problems

    # Dropped from the member list too: the chain still records its decision.
    gone = copy.deepcopy(dropped)
    gone["statement"]["program"]["boards"].remove("tyreso")
    recorded = entry(document, "tyreso")["events"][0]
    problems = check(gone, key).problems
    assert f"board tyreso missing (event seq {recorded} records its decision)" in problems

    edited = copy.deepcopy(document)
    event = next(e for e in edited["statement"]["chain"]["events"] if e["seq"] == correction)
    event["data"]["changes"]["paragraph"]["to"] = "§ 162"
    assert f"event seq {correction}: hash does not match its content" in check(edited, key).problems

    cut = copy.deepcopy(document)
    chain = cut["statement"]["chain"]["events"]
    i = next(n for n, e in enumerate(chain) if e["seq"] == correction)
    del chain[i]
    before, after = chain[i - 1]["seq"], chain[i]["seq"]
    assert f"event seq {after} does not link to seq {before}" in check(cut, key).problems

    recorded_by = copy.deepcopy(document)
    entry(recorded_by, "botkyrka")["decision"]["recorded_by"]["name"] = "someone-else"
    first = entry(document, "botkyrka")["events"][0]
    assert f"decision of botkyrka: recorded_by differs from event seq {first}" in (
        check(recorded_by, key).problems
    )


def test_a_certificate_signed_by_another_key_is_refused(api: Api) -> None:
    sup_2035_story(api)
    document = certificate(api)
    other = Ed25519PrivateKey.generate()
    statement = dict(document["statement"])
    statement["key"] = {
        k: v
        for k, v in signatures.public_key_view(other.public_key()).items()
        if k in ("algorithm", "key_id", "public_key")
    }
    forged = signatures.sign(other, statement)
    assert check(forged, other.public_key()).ok  # consistent in itself …
    problems = check(forged, trusted(api)).problems  # … but not this server's
    assert len(problems) == 1
    assert problems[0].startswith("signed by another key: key ")


def test_a_swapped_document_hash_is_refused(api: Api) -> None:
    r = api.post(
        "/v1/programs/sup/versions",
        {
            "label": "SUP 2040",
            "drafted_on": "2019-05-28",
            "valid_from": "2019-01-01",
            "replaces": SUP_2013,
            "document": {
                "title": "SUP 2040",
                "url": "https://sup.example/2040.pdf",
                "sha256": DOCUMENT,
            },
        },
    )
    assert r.status_code == 201, r.text
    version_id = r.json()["id"]
    adopt(api, version_id, document_sha256=DOCUMENT)
    document = certificate(api, version_id)
    key = trusted(api)
    assert check(document, key).ok
    drafted = document["statement"]["chain"]["events"][0]
    assert drafted["data"]["document_sha256"] == DOCUMENT

    swapped = copy.deepcopy(document)
    swapped["statement"]["version"]["document"]["sha256"] = hashlib.sha256(b"other").hexdigest()
    problems = check(swapped, key).problems
    assert f"document sha256 differs from event seq {drafted['seq']}" in problems
    assert "signature does not match" in problems[0]


def test_a_rejection_is_certified(api: Api) -> None:
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("botkyrka"), as_="botkyrka")
    assert r.status_code == 201, r.text
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision("salem", "rejected"), as_="salem")
    assert r.status_code == 201, r.text
    document = certificate(api)
    assert check(document, trusted(api)).ok
    s = document["statement"]
    assert s["kind"] == "rejection"
    assert entry(document, "salem")["decision"]["outcome"] == "rejected"
    assert entry(document, "tyreso")["decision"] is None

    relabelled = copy.deepcopy(document)
    relabelled["statement"]["kind"] = "adoption"
    problems = check(relabelled, trusted(api)).problems
    assert "a certificate of adoption cannot certify a version that is rejected" in problems


@pytest.mark.parametrize(
    ("version_id", "status", "code"),
    [
        (SUP_2035, 409, "invalid_transition"),  # drafted
        (SUP_2013, 409, "invalid_transition"),  # imported as history
        ("no-such-version", 404, "not_found"),
    ],
)
def test_no_certificate_for_what_is_not_decided(
    api: Api, version_id: str, status: int, code: str
) -> None:
    r = api.get(f"/v1/versions/{version_id}/certificate")
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code


def test_the_printable_certificate_shows_the_same_content(api: Api) -> None:
    sup_2035_story(api)
    document = certificate(api)
    r = api.get(f"/v1/versions/{SUP_2035}/certificate?format=html", as_="auditor")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    assert "Intyg om antagande" in html
    assert "Certificate of adoption" in html
    for e in document["statement"]["decisions"]:
        assert e["decision"]["paragraph"] in html
        assert e["decision"]["case_number"] in html
    assert document["statement"]["chain"]["head"]["hash"] in html
    assert document["signature"]["key_id"] in html
