"""The server's keys, loaded from settings here and handed down as values.

Three keys live outside the database, each in a `RATIFY_*` setting or, when
that is unset, in a file under `var/` made (mode 0600) by the first process
that needs it, so that every process of one installation shares it:

- the session secret (`RATIFY_SESSION_SECRET[_FILE]`): signs status-page sessions;
- the sealing keys (`RATIFY_SEALING_KEYS`, `RATIFY_SEALING_KEY_FILE`): seal webhook
  signing secrets at rest (`db.sealing`); several may be given, the first seals;
- the signing key (`RATIFY_SIGNING_KEY[_FILE]`): Ed25519, signs audit checkpoints
  (and, later, certificates of adoption); its public half is served at
  `GET /v1/certificate-key`.

Only the composition root (`api.settings`, `api.app`, `api.cli`) calls these, with the
settings' values.
"""

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from db.sealing import Sealer, new_key
from workflow.signatures import load_private_key, private_key_pem


class ServerKeyError(Exception):
    """A configured key cannot be used (malformed, or not of the right kind)."""


def made_once(path: Path, fresh: Callable[[], str]) -> str:
    """The text of `path`; made there (0600) with `fresh()` by the first process to ask.

    The draft is written under another name and linked into place, so the
    file appears whole or not at all, and a process that loses the race
    reads the winner's.
    """
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(fresh())
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text()


def _key_lines(text: str) -> list[str]:
    """The keys in a setting or file: separated by commas, spaces or lines; `#` comments."""
    keys: list[str] = []
    for line in text.splitlines():
        keys.extend(k for k in re.split(r"[,\s]+", line.split("#", 1)[0]) if k)
    return keys


def sealer(keys: str | None, path: Path) -> Sealer:
    """The sealer of webhook secrets: `keys` (`RATIFY_SEALING_KEYS`) if set, else those in
    `path` (`RATIFY_SEALING_KEY_FILE`, made with one fresh key on first use)."""
    if keys:
        source, text = "RATIFY_SEALING_KEYS", keys
    else:
        source, text = str(path), made_once(path, lambda: new_key() + "\n")
    try:
        return Sealer(_key_lines(text))
    except ValueError as exc:
        raise ServerKeyError(
            f"{source}: {exc} (each sealing key is 32 url-safe base64-encoded bytes)"
        ) from None


def signing_key(key: str | None, path: Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key: `key` (`RATIFY_SIGNING_KEY`) if set, else the one in `path`
    (`RATIFY_SIGNING_KEY_FILE`, made on first use)."""
    if key:
        source, text = "RATIFY_SIGNING_KEY", key
    else:
        source = str(path)
        text = made_once(path, lambda: private_key_pem(Ed25519PrivateKey.generate()))
    try:
        return load_private_key(text)
    except ValueError as exc:
        raise ServerKeyError(
            f"{source}: {exc} (an Ed25519 key as PKCS#8 PEM or base64 of 32 bytes)"
        ) from None
