"""The OpenAPI schema's front matter (tags, contact, licence) and the settings it is printed
with for `docs/openapi.json` (`api/openapi.py` finishes the schema itself)."""

import base64

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from api.settings import Settings

TAGS = [
    {"name": "operations", "description": "Health, readiness, metrics and the workflow."},
    {"name": "boards", "description": "The member municipalities' deciding bodies."},
    {
        "name": "programs",
        "description": "Joint programs, their versions, and which version was in force when.",
    },
    {
        "name": "versions",
        "description": "A version: sending it out, withdrawing it, the boards' decisions.",
    },
    {
        "name": "decisions",
        "description": "A decision after its meeting: announcement, appeals, rulings, corrections.",
    },
    {"name": "reminders", "description": "The e-mails that remind boards that have not decided."},
    {
        "name": "audit",
        "description": "The hash-chained audit trail, its verification and signed checkpoints,"
        " the decision register.",
    },
    {"name": "webhooks", "description": "Subscriptions to events, signed deliveries."},
    {
        "name": "evidence",
        "description": "Signed certificates of adoption, the public notice page's switch, and"
        " deadlines as calendar feeds.",
    },
]

CONTACT = {"name": "Södertörns samarbetskommitté, ratify", "url": "https://ratify.example/"}
LICENSE = {"name": "Proprietary: no licence is granted"}


def canonical_settings() -> Settings:
    """Settings that serve the canonical schema: no `.env`, no public URL, throwaway keys (so
    that printing the schema makes no key files)."""
    return Settings(
        _env_file=None,
        public_url=None,
        sealing_keys=Fernet.generate_key().decode(),
        signing_key=private_key_base64(),
    )


def private_key_base64() -> str:
    """A new Ed25519 private key as base64 of its 32 bytes."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return base64.b64encode(raw).decode()
