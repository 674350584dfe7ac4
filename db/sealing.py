"""Secrets sealed at rest: what the database keeps of a webhook's signing secret.

A copy of the database must not be enough to sign deliveries, so a secret is
stored only as a Fernet token (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package) under a server key that lives outside the database.
Several keys may be configured: the first seals, every one unseals, so a key
can be rotated without a moment in which stored secrets cannot be read
(`MultiFernet`); `reseal` moves a token to the first key.

The keys are loaded by the composition root (`api.server_keys`) and handed
here as values; nothing below reads the environment.
"""

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Unsealable(Exception):
    """No configured key opens the token: the key that sealed it is gone, or it was altered."""


class Sealer:
    """Seals and unseals short secrets with the server's sealing keys (the first seals)."""

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if not keys:
            raise ValueError("at least one sealing key is needed")
        # Fernet refuses a key that is not 32 url-safe base64-encoded bytes (ValueError).
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, clear: str) -> str:
        """`clear` as a token only the server's keys open."""
        return self._fernet.encrypt(clear.encode()).decode("ascii")

    def unseal(self, sealed: str) -> str:
        """The secret in `sealed`; `Unsealable` when no configured key opens it."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise Unsealable("no sealing key opens this secret") from None

    def reseal(self, sealed: str) -> str:
        """`sealed` sealed anew under the first key (after a rotation); same secret inside."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise Unsealable("no sealing key opens this secret") from None


def new_key() -> str:
    """A fresh sealing key (32 random bytes, url-safe base64, as Fernet takes it)."""
    return Fernet.generate_key().decode("ascii")
