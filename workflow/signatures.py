"""Signed statements: Ed25519 over a canonical JSON form. Pure: bytes and keys in, results out.

The server signs what it wants believed outside its database (an audit
checkpoint today; a certificate of adoption later) with one Ed25519 key,
whose public half it publishes (`GET /v1/certificate-key`). A signed
document is

    {"statement": {...}, "signature": {"algorithm": "Ed25519",
                                       "key_id": "<16 hex>", "value": "<base64, 64 bytes>"}}

and the signature covers `canonical(statement)`: JSON with sorted keys, no
spaces, UTF-8 (the same form the audit chain hashes), so whitespace or key
order added on the way (a mail client, a pretty-printer) does not matter,
and any change to a value does. Nothing here reads files or the clock, so an
offline verifier can use the same functions with nothing but the public key.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from workflow.errors import BadSignature, InvalidValue

ALGORITHM = "Ed25519"


def canonical(value: Any) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def raw_public_key(public: Ed25519PublicKey) -> bytes:
    """The 32 bytes of a public key."""
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """A short name for a public key (the first 16 hex digits of SHA-256 of its raw bytes)."""
    return hashlib.sha256(raw_public_key(public)).hexdigest()[:16]


def public_key_view(public: Ed25519PublicKey) -> dict[str, str]:
    """The public key as `GET /v1/certificate-key` shows it: raw base64 and PEM."""
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(public),
        "public_key": base64.b64encode(raw_public_key(public)).decode("ascii"),
        "pem": pem.decode("ascii"),
    }


def sign_bytes(private: Ed25519PrivateKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of `message`."""
    return private.sign(message)


def verify_bytes(public: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public`'s signature of exactly `message`."""
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def sign(private: Ed25519PrivateKey, statement: Mapping[str, Any]) -> dict[str, Any]:
    """`statement` with its signature, as a document to hand out."""
    value = sign_bytes(private, canonical(statement))
    return {
        "statement": dict(statement),
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(private.public_key()),
            "value": base64.b64encode(value).decode("ascii"),
        },
    }


def verify(public: Ed25519PublicKey, document: Any) -> dict[str, Any]:
    """The statement of a signed `document`, once its signature is `public`'s.

    `InvalidValue` when the document is not shaped like one; `BadSignature`
    when it is signed by another key or was changed after signing.
    """
    if not isinstance(document, Mapping):
        raise InvalidValue("a signed document is a JSON object with statement and signature")
    statement, signature = document.get("statement"), document.get("signature")
    if not isinstance(statement, Mapping) or not isinstance(signature, Mapping):
        raise InvalidValue("a signed document has a statement object and a signature object")
    if signature.get("algorithm") != ALGORITHM:
        raise InvalidValue(f"the signature's algorithm is not {ALGORITHM}")
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue("the signature's value is not base64") from None
    mine = key_id(public)
    if signature.get("key_id") != mine:
        raise BadSignature(
            f"signed by key {signature.get('key_id')!r}, not by this server's key {mine}"
        )
    if not verify_bytes(public, canonical(statement), value):
        raise BadSignature(
            f"the signature does not match the statement (key {mine}): "
            "it was changed after it was signed, or signed by another key"
        )
    return dict(statement)


def private_key_pem(private: Ed25519PrivateKey) -> str:
    """A private key as unencrypted PKCS#8 PEM (as `openssl genpkey -algorithm ed25519`)."""
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A private key from PKCS#8 PEM or from base64 of its 32 raw bytes; `ValueError` otherwise."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeError) as exc:
            raise ValueError(f"the PEM key cannot be read: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw_key(text, "private"))


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from PEM or from base64 of its 32 raw bytes; `ValueError` otherwise."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm, UnicodeError) as exc:
            raise ValueError(f"the PEM key cannot be read: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw_key(text, "public"))


def _raw_key(text: str, kind: str) -> bytes:
    """The 32 bytes of an Ed25519 key given as base64; `ValueError` otherwise."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither PEM nor base64 of 32 bytes") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 {kind} key is 32 bytes")
    return raw
