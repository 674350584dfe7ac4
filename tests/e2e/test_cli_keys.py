"""The server keys through the real `ratify` command: audit checkpoints kept outside the
database, the public key that signs them, and resealing webhook secrets after a sealing
key rotation."""

import json
import os
import stat
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from db import models
from db.engine import Database
from db.sealing import Sealer, new_key
from tests.e2e.conftest import Ratify, last_line
from tests.integration.test_checkpoints import forget
from workflow import signatures


def run(ratify: Ratify, *args: str) -> Any:
    """A `ratify` run that may fail: never with a traceback."""
    result = ratify.cli(*args, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.slow
def sup_events(db: Database) -> list[tuple[int, str]]:
    with db.engine.connect() as connection:
        query = text("SELECT seq, hash FROM events WHERE chain = 'sup' ORDER BY seq")
        return [(row.seq, row.hash) for row in connection.execute(query)]


@pytest.mark.slow
def test_a_checkpoint_kept_outside_finds_a_rollback_the_chain_cannot(
    ratify: Ratify, seeded: Database
) -> None:
    ratify.create_keys({"a": ("auditor", None), "b": ("admin", None)})  # events in _global
    kept = ratify.workdir / "checkpoint-2026-11-30.json"
    assert run(ratify, "audit", "checkpoint", "--out", str(kept)).returncode == 0
    document = json.loads(kept.read_text())
    assert set(document["statement"]["chains"]) == {"sup", "_global"}

    key_file = ratify.workdir / "var" / "signing-key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    public = json.loads(run(ratify, "certificate-key").stdout)
    assert public["key_id"] == document["signature"]["key_id"]
    printed = run(ratify, "audit", "checkpoint")  # to stdout, as a cron line mails it
    assert json.loads(printed.stdout)["signature"]["key_id"] == public["key_id"]

    holds = run(ratify, "audit", "verify", "--against", str(kept))
    assert holds.returncode == 0, holds.stdout + holds.stderr
    assert "holds all 2 chain heads" in holds.stdout

    chain = sup_events(seeded)
    forget(seeded, "sup", keep_through=chain[-3][0])
    assert run(ratify, "audit", "verify").returncode == 0  # the chains alone still verify
    broken = run(ratify, "audit", "verify", "--against", str(kept))
    assert broken.returncode == 1
    assert f"BROKEN at chain sup seq {chain[-1][0]}" in broken.stdout


def test_verify_refuses_a_checkpoint_it_did_not_sign(ratify: Ratify, seeded: Database) -> None:
    kept = ratify.workdir / "checkpoint.json"
    run(ratify, "audit", "checkpoint", "--out", str(kept))
    statement = json.loads(kept.read_text())["statement"]
    forged = ratify.workdir / "forged.json"
    forged.write_text(json.dumps(signatures.sign(Ed25519PrivateKey.generate(), statement)))
    refused = run(ratify, "audit", "verify", "--against", str(forged))
    assert refused.returncode == 1
    assert last_line(refused.stdout).startswith("REFUSED: the checkpoint is not genuine")

    for name, content in (("garbage.json", "{not json"), ("list.json", "[1, 2]")):
        (ratify.workdir / name).write_text(content)
        bad = run(ratify, "audit", "verify", "--against", name)
        assert bad.returncode == 2, bad.stdout
        assert last_line(bad.stderr).startswith("ratify: error: "), bad.stderr
    missing = run(ratify, "audit", "verify", "--against", "nowhere.json")
    assert missing.returncode == 2
    assert "cannot read the checkpoint nowhere.json" in missing.stderr


def test_reseal_moves_every_secret_to_the_new_sealing_key(ratify: Ratify, seeded: Database) -> None:
    old, new = new_key(), new_key()
    with seeded.writes() as session:
        session.add(
            models.Webhook(
                id="w1",
                url="https://hooks.example/x",
                events=["*"],
                board_id=None,
                sealed_secret=Sealer([old]).seal("whsec_c2VjcmV0"),
                created_by="admin",
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    env_file = ratify.workdir / ".env"  # the settings file `ratify` reads from its folder

    env_file.write_text(f"RATIFY_SEALING_KEYS={new},{old}\n")
    done = run(ratify, "webhooks", "reseal")
    assert done.returncode == 0, done.stderr
    assert "resealed the secrets of 1 subscriptions" in done.stdout
    assert Sealer([new]).unseal(sealed_secret(seeded)) == "whsec_c2VjcmV0"

    env_file.write_text(f"RATIFY_SEALING_KEYS={new_key()}\n")  # the key that sealed it is gone
    lost = run(ratify, "webhooks", "reseal")
    assert lost.returncode == 2
    assert "opens with none of the sealing keys" in last_line(lost.stderr)

    env_file.write_text("RATIFY_SEALING_KEYS=not-a-key\n")
    malformed = run(ratify, "webhooks", "reseal")
    assert malformed.returncode == 2
    assert last_line(malformed.stderr).startswith("ratify: error: RATIFY_SEALING_KEYS: ")


def sealed_secret(db: Database) -> str:
    with db.reads() as session:
        return session.get_one(models.Webhook, "w1").sealed_secret


def test_the_sealing_key_file_is_made_once_and_private(ratify: Ratify) -> None:
    run(ratify, "db", "upgrade")
    path = ratify.workdir / "var" / "sealing-keys"
    first = path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    run(ratify, "db", "upgrade")
    assert path.read_text() == first
    Sealer(first.split())  # one usable key
