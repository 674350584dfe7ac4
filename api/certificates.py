"""Issuing certificates of adoption: the facts read, the statement built, checked and signed.

The statement is checked with the same pure code an outsider runs
(`workflow.certificate_check`) before it is signed, so the service never
signs a chain segment that does not hash and link, nor a decision its
events contradict. The signing key comes from the composition root.
"""

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.errors import ApiError
from db import certificates
from db.engine import Database
from workflow import certificate_check, signatures
from workflow.certificates import statement
from workflow.errors import NotFound


def issue(db: Database, key: Ed25519PrivateKey, version_id: str, now: datetime) -> dict[str, Any]:
    """The signed certificate of the version.

    `NotFound` for an unknown version; `InvalidTransition` (409) for a version
    that is not in force, superseded or rejected; 409 `chain_broken` when the
    trail does not bear the facts out.
    """
    facts = certificates.facts(db, version_id)
    if facts is None:
        raise NotFound(f"no version {version_id}")
    view = signatures.public_key_view(key.public_key())
    body = statement(
        issued_at=certificates.instant(now) or "",
        key=view,
        program=facts.program,
        version=facts.version,
        members=facts.members,
        events=facts.events,
        head=facts.head,
    )
    problems = certificate_check.check_statement(body)
    if problems:
        raise ApiError(
            409,
            "chain_broken",
            "The audit trail is broken: nothing is signed for it",
            "the audit trail does not bear the certificate out, so none is issued: "
            + "; ".join(problems[:5]),
        )
    return signatures.sign(key, body)
