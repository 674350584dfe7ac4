"""Audit checkpoints for the routes and the CLI: take one (signed), check the trail against one.

The signing and the reading of a statement are pure (`workflow.signatures`,
`workflow.checkpoints`); only the trail side reads the database
(`db.audit_verify`). The signing key comes from the composition root.
"""

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from db import audit_verify
from db.audit_verify import Verification
from db.engine import Database
from workflow import checkpoints, signatures


def take(db: Database, key: Ed25519PrivateKey, now: datetime) -> tuple[Verification, Any]:
    """The trail checked (from the verified heads) and, when intact, a signed checkpoint of
    every chain's head; (the broken verification, None) when it is not, since a checkpoint
    of a broken trail would vouch for it."""
    result = audit_verify.verify_database(db, now, incremental=True)
    if not result.ok or result.heads is None:
        return result, None
    return result, signatures.sign(key, checkpoints.statement(now, result.heads))


def check(
    db: Database, key: Ed25519PublicKey, document: Any, now: datetime
) -> tuple[Verification, checkpoints.Checkpoint]:
    """The trail checked in full and against a signed checkpoint document.

    `BadSignature` when the document is not signed by `key`; `InvalidValue`
    when it is not a checkpoint.
    """
    checkpoint = checkpoints.parse(signatures.verify(key, document))
    return audit_verify.verify_against(db, checkpoint, now), checkpoint


def verification_view(result: Verification) -> dict[str, Any]:
    """A verification as `/v1/audit/verify` answers it."""
    if result.ok:
        return {
            "ok": True,
            "events": result.events,
            "head": result.head,
            "checked": result.checked,
            "incremental": result.incremental,
        }
    return {
        "ok": False,
        "first_bad_seq": result.first_bad_seq,
        "chain": result.chain,
        "reason": result.reason,
        "events": result.events,
        "checked": result.checked,
        "incremental": result.incremental,
    }
