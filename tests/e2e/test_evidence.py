"""Evidence anyone can check, with real processes: `ratify serve`, `ratify certificate verify`,
the README's plain-Python verifier, and `ratify feeds`.

One server per backend serves the module. The SUP 2035 story runs over HTTP
(eight approvals, announced; a correction), then SUP 2040 with a document
replaces it. Each certificate is saved to a file and checked by a `ratify`
subprocess with no database — on the server's machine (the configured key)
and, as an outsider, with `--key` holding `GET /v1/certificate-key` — and by
the verifier extracted from README.md, run with `python3`.
"""

import ast
import copy
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from icalendar import Calendar

from db import seed
from tests.e2e.conftest import Ratify, last_line
from workflow import signatures

README = Path(__file__).resolve().parents[2] / "README.md"
BOARDS = [b[0] for b in seed.BOARDS]
DOCUMENT = hashlib.sha256(b"SUP 2040, antagandehandling").hexdigest()


@dataclass
class Story:
    """The server, its administrator's client, the certificates, and an outsider's folder."""

    ratify: Ratify
    api: httpx.Client
    key: dict[str, str]
    sup_2035: dict[str, Any]
    sup_2035_superseded: dict[str, Any]
    sup_2040: dict[str, Any]
    outsider: Ratify


def approve_all(api: httpx.Client, version_id: str, **extra: Any) -> dict[str, str]:
    """Send out; every board approves (announced); decision ids by board."""
    r = api.post(f"/v1/versions/{version_id}/send-out", json={"respond_by": "2099-06-30"})
    assert r.status_code == 200, r.text
    ids = {}
    for n, board_id in enumerate(BOARDS):
        body = {
            "board_id": board_id,
            "outcome": "approved",
            "decided_on": "2019-06-10",
            "paragraph": f"§ {60 + n}",
            "case_number": f"2019/KS 0260 005-{board_id}",
            "minutes_attested_on": "2019-06-11",
            "announced_on": "2019-06-13",
            **extra,
        }
        r = api.post(f"/v1/versions/{version_id}/decisions", json=body)
        assert r.status_code == 201, r.text
        ids[board_id] = r.json()["id"]
    return ids


def certificate_of(api: httpx.Client, version_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/versions/{version_id}/certificate")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


@pytest.fixture(scope="module")
def story(module_ratify: Ratify, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    (server,) = module_ratify.serve()
    tokens = module_ratify.create_keys(
        {"kansliet": ("secretariat", None), "registrator": ("admin", None)}
    )
    api = module_ratify.client(server, tokens["registrator"])
    ids = approve_all(api, seed.SUP_2035)
    r = api.post(
        f"/v1/decisions/{ids['haninge']}/corrections",
        json={"changes": {"paragraph": "§ 161"}, "reason": "skrivfel"},
    )
    assert r.status_code == 201, r.text
    sup_2035 = certificate_of(api, seed.SUP_2035)
    r = api.post(
        "/v1/programs/sup/versions",
        json={
            "label": "SUP 2040",
            "drafted_on": "2023-05-28",
            "valid_from": "2023-01-01",
            "replaces": seed.SUP_2035,
            "document": {
                "title": "SUP 2040",
                "url": "https://sup.example/2040",
                "sha256": DOCUMENT,
            },
        },
    )
    assert r.status_code == 201, r.text
    sup_2040_id = r.json()["id"]
    approve_all(api, sup_2040_id, document_sha256=DOCUMENT)
    key = api.get("/v1/certificate-key").json()
    outsider = Ratify(tmp_path_factory.mktemp("outsider"), None)  # no database, no key
    yield Story(
        ratify=module_ratify,
        api=api,
        key=key,
        sup_2035=sup_2035,
        sup_2035_superseded=certificate_of(api, seed.SUP_2035),
        sup_2040=certificate_of(api, sup_2040_id),
        outsider=outsider,
    )
    assert module_ratify.problems() == []


def save(ratify: Ratify, name: str, document: Any) -> str:
    path = ratify.workdir / name
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return str(path)


def verify(ratify: Ratify, document: Any, *args: str) -> "subprocess.CompletedProcess[str]":
    """`ratify certificate verify FILE ARGS` as a real process."""
    path = save(ratify, "certificate.json", document)
    return ratify.cli("certificate", "verify", path, *args, check=False)


def decision_of(document: dict[str, Any], board_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e for e in document["statement"]["decisions"] if e["board"]["id"] == board_id
    )
    return found


# --- ratify certificate verify ------------------------------------------------------------


@pytest.mark.slow
def test_the_story_ends_with_certificates_the_cli_accepts(story: Story) -> None:
    for name, document in (
        ("in force", story.sup_2035),
        ("superseded", story.sup_2035_superseded),
        ("with its document", story.sup_2040),
    ):
        done = verify(story.ratify, document)  # on the server: the configured key
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        assert last_line(done.stdout).startswith("genuine: certificate of adoption of SUP 20")
        assert story.key["key_id"] in done.stdout
    assert story.sup_2035_superseded["statement"]["version"]["state"] == "superseded"

    key_file = save(story.outsider, "certificate-key.json", story.key)
    done = verify(story.outsider, story.sup_2035, "--key", key_file)
    assert done.returncode == 0, done.stdout + done.stderr
    done = verify(story.outsider, story.sup_2035, "--key", story.key["public_key"])
    assert done.returncode == 0, done.stdout + done.stderr
    done = verify(story.outsider, story.sup_2035)  # nothing to check against
    assert done.returncode == 2
    assert "no key to check against" in done.stderr
    garbled = story.outsider.workdir / "garbled.json"
    garbled.write_text("{not json", encoding="utf-8")
    done = story.outsider.cli("certificate", "verify", str(garbled), "--key", key_file, check=False)
    assert done.returncode == 2
    assert last_line(done.stderr).startswith("ratify: error: cannot read the certificate")


def refusal(done: "subprocess.CompletedProcess[str]") -> list[str]:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "REFUSED: the certificate is not genuine:"
    assert "Traceback" not in done.stderr
    return [line.removeprefix("- ") for line in lines[1:]]


def test_the_cli_names_what_was_changed(story: Story) -> None:
    document = story.sup_2035
    correction = decision_of(document, "haninge")["events"][1]

    flipped = copy.deepcopy(document)
    decision_of(flipped, "haninge")["decision"]["paragraph"] = "§ 162"
    assert refusal(verify(story.ratify, flipped)) == [
        "signature does not match: the certificate was changed after it was signed",
        f"decision of haninge: paragraph differs from event seq {correction}",
    ]

    dropped = copy.deepcopy(document)
    dropped["statement"]["decisions"] = [
        e for e in dropped["statement"]["decisions"] if e["board"]["id"] != "tyreso"
    ]
    assert "board tyreso missing" in refusal(verify(story.ratify, dropped))

    swapped = copy.deepcopy(story.sup_2040)
    swapped["statement"]["version"]["document"]["sha256"] = "0" * 64
    drafted = swapped["statement"]["chain"]["events"][0]["seq"]
    assert f"document sha256 differs from event seq {drafted}" in refusal(
        verify(story.ratify, swapped)
    )

    edited = copy.deepcopy(document)
    first = edited["statement"]["chain"]["events"][1]
    first["data"]["respond_by"] = "2099-07-01"
    assert f"event seq {first['seq']}: hash does not match its content" in refusal(
        verify(story.ratify, edited)
    )

    assert refusal(verify(story.ratify, {"statement": {"schema": "x"}, "signature": {}})) == [
        "not a ratify.certificate/1 document (schema 'x')"
    ]


def test_a_certificate_signed_by_another_servers_key_is_refused(story: Story) -> None:
    other = Ed25519PrivateKey.generate()
    statement = copy.deepcopy(story.sup_2035["statement"])
    view = signatures.public_key_view(other.public_key())
    statement["key"] = {k: view[k] for k in ("algorithm", "key_id", "public_key")}
    forged = signatures.sign(other, statement)
    problems = refusal(verify(story.ratify, forged))
    assert len(problems) == 1
    assert problems[0].startswith("signed by another key")
    key_file = save(story.outsider, "certificate-key.json", story.key)
    assert refusal(verify(story.outsider, forged, "--key", key_file)) == problems


# --- the README's plain-Python verifier --------------------------------------------------


def readme_verifier() -> str:
    """The Python block of README.md's "Verifying a certificate in plain Python"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Verifying a certificate in plain Python", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the README lost its verifier"
    return found.group(1)


def test_the_readme_verifier_is_short_and_needs_only_cryptography() -> None:
    code = readme_verifier()
    assert len([line for line in code.splitlines() if line.strip()]) <= 45
    imported = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported == {"base64", "hashlib", "json", "sys", "cryptography"}


def run_readme_verifier(
    story: Story, document: Any, key: str | None = None
) -> "subprocess.CompletedProcess[str]":
    folder = story.outsider.workdir
    script = folder / "verify.py"
    script.write_text(readme_verifier(), encoding="utf-8")
    path = save(story.outsider, "certificate.json", document)
    return subprocess.run(
        [sys.executable, "-I", str(script), path, key or story.key["public_key"]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_readme_verifier_accepts_the_story_and_refuses_tampering(story: Story) -> None:
    for document in (story.sup_2035, story.sup_2035_superseded, story.sup_2040):
        done = run_readme_verifier(story, document)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("genuine: certificate of adoption of SUP 20")

    flipped = copy.deepcopy(story.sup_2035)
    decision_of(flipped, "haninge")["decision"]["paragraph"] = "§ 162"
    done = run_readme_verifier(story, flipped)
    assert done.returncode == 1
    assert done.stderr.strip() == "REFUSED: signature does not match"

    other = Ed25519PrivateKey.generate()
    view = signatures.public_key_view(other.public_key())
    statement = copy.deepcopy(story.sup_2035["statement"])
    statement["key"] = {k: view[k] for k in ("algorithm", "key_id", "public_key")}
    done = run_readme_verifier(story, signatures.sign(other, statement))
    assert done.returncode == 1
    assert done.stderr.strip() == "REFUSED: signed by another key"

    # Re-signed by someone holding the key (or a bug of ours): the content checks speak.
    resigned = copy.deepcopy(statement)
    for e in resigned["decisions"]:
        if e["board"]["id"] == "haninge":
            e["decision"]["paragraph"] = "§ 162"
    done = run_readme_verifier(story, signatures.sign(other, resigned), view["public_key"])
    correction = decision_of(story.sup_2035, "haninge")["events"][1]
    assert done.stderr.strip() == (
        f"REFUSED: decision of haninge: paragraph differs from event seq {correction}"
    )
    dropped = copy.deepcopy(statement)
    dropped["decisions"] = [e for e in dropped["decisions"] if e["board"]["id"] != "tyreso"]
    done = run_readme_verifier(story, signatures.sign(other, dropped), view["public_key"])
    assert done.stderr.strip() == "REFUSED: a member board is missing"
    cut = copy.deepcopy(statement)
    del cut["chain"]["events"][1]
    seqs = [e["seq"] for e in cut["chain"]["events"][:2]]
    done = run_readme_verifier(story, signatures.sign(other, cut), view["public_key"])
    assert done.stderr.strip() == f"REFUSED: event seq {seqs[1]} does not link to seq {seqs[0]}"


# --- ratify feeds -------------------------------------------------------------------------


def test_a_feed_url_from_the_cli_works_until_revoked(story: Story) -> None:
    created = story.ratify.cli("feeds", "create", "--key", "kansliet")
    secret = last_line(created.stdout)
    assert secret.startswith("feed_")
    assert "deadlines.ics?feed=" in created.stderr
    assert secret not in story.ratify.cli("feeds", "list").stdout
    url = "/v1/programs/sup/deadlines.ics"
    with httpx.Client(base_url=str(story.api.base_url), trust_env=False, timeout=60) as anyone:
        r = anyone.get(url, params={"feed": secret})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/calendar; charset=utf-8"
        uids = {str(e["uid"]) for e in Calendar.from_ical(r.content).walk("VEVENT")}
        assert sum(u.startswith("appeal-until-") for u in uids) == 16  # two versions × 8
        again = story.ratify.cli("feeds", "create", "--key", "kansliet", check=False)
        assert again.returncode == 2
        assert "revoke it first" in again.stderr
        story.ratify.cli("feeds", "revoke", "--key", "kansliet")
        r = anyone.get(url, params={"feed": secret})
        assert r.status_code == 401
        assert r.json()["code"] == "unauthenticated"
