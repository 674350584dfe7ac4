"""The `ratify` commands of evidence and openness: `certificate verify` and `feeds`.

`ratify certificate verify FILE` needs no database: it checks a certificate
of adoption with the pure code of `workflow.certificate_check` against the
server's public key, given with `--key` or, on the server, the configured
signing key (never made by this command). Exit 0: genuine and untouched;
1: refused, each reason on a line; 2: nothing to check (the file or the key
cannot be read).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.cli_guard import at_head
from api.clock import shown, utc_now
from api.settings import Settings
from db import feeds
from db.uow import UnitOfWork
from workflow import signatures
from workflow.actors import SYSTEM
from workflow.certificate_check import check
from workflow.errors import InvalidValue


def _read(path: str) -> Any:
    """The JSON in `path` (`-`: standard input)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, UnicodeError, ValueError, RecursionError) as exc:
        raise InvalidValue(f"cannot read the certificate {path}: {exc}") from None


def trusted_key(given: str | None, settings: Settings) -> Ed25519PublicKey | None:
    """The key to check against: `--key` (a file with the JSON of `GET /v1/certificate-key`,
    a PEM, or the base64 public key; or that base64 itself), else the configured signing
    key's public half when there is one; None when neither."""
    if given is not None:
        path = Path(given)
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else given
        except (OSError, UnicodeError) as exc:
            raise InvalidValue(f"--key: cannot read {given}: {exc}") from None
        try:
            view = json.loads(text)
            if isinstance(view, dict):
                text = str(view.get("pem") or view.get("public_key") or "")
        except ValueError:
            pass
        try:
            return signatures.load_public_key(text)
        except ValueError as exc:
            raise InvalidValue(f"--key: {exc}") from None
    if settings.signing_key:
        private = settings.signing_key
    elif settings.signing_key_file.is_file():
        private = settings.signing_key_file.read_text(encoding="utf-8")
    else:
        return None
    try:
        return signatures.load_private_key(private).public_key()
    except ValueError as exc:
        raise InvalidValue(f"the configured signing key: {exc}") from None


def cmd_certificate_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check a certificate offline; exit 0 when genuine, 1 naming what is wrong."""
    document = _read(args.file)
    trusted = trusted_key(args.key, settings)
    if trusted is None:
        print(
            "ratify: error: no key to check against: pass --key with the server's public key"
            " (GET /v1/certificate-key, or the copy the municipality publishes)",
            file=sys.stderr,
        )
        return 2
    report = check(document, trusted)
    if not report.ok:
        print("REFUSED: the certificate is not genuine:")
        for problem in report.problems:
            print(f"- {problem}")
        return 1
    assert report.statement is not None
    s = report.statement
    chain = s["chain"]
    print(
        f"genuine: certificate of {s['kind']} of {s['version']['label']}"
        f" ({s['program']['title']}), {len(s['decisions'])} member boards,"
        f" chain {chain['id']} seq {chain['from_seq']}–{chain['head']['seq']}"
        f" (head {chain['head']['hash']}), signed by key {report.key_id}"
    )
    return 0


def cmd_feeds_create(args: argparse.Namespace, settings: Settings) -> int:
    """A feed secret for a key; the secret is the last line of stdout."""
    with at_head(settings) as db, UnitOfWork(db, SYSTEM, utc_now()) as uow:
        secret = feeds.create(uow, args.key)
        uow.commit()
    base = (settings.public_url or "http://127.0.0.1:8000").rstrip("/")
    print(
        f"created a calendar feed for key {args.key!r}; the secret is shown once. Subscribe to"
        f" {base}/v1/programs/<program id>/deadlines.ics?feed=<secret>",
        file=sys.stderr,
    )
    print(secret)
    return 0


def cmd_feeds_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """End a key's feed at once."""
    with at_head(settings) as db, UnitOfWork(db, SYSTEM, utc_now()) as uow:
        feeds.revoke(uow, args.key)
        uow.commit()
    print(f"revoked the feed of {args.key!r}")
    return 0


def cmd_feeds_list(_args: argparse.Namespace, settings: Settings) -> int:
    """Every feed's key, created and revoked (never a secret)."""
    with at_head(settings) as db, db.reads() as session:
        rows = feeds.listing(session)
    print(f"{'KEY':24} {'CREATED':22} REVOKED")
    for row in rows:
        print(f"{row['key']:24} {shown(row['created_at']):22} {shown(row['revoked_at'])}")
    return 0


def add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `certificate verify` and `feeds create|revoke|list` to the `ratify` parser."""
    certificate = sub.add_parser("certificate", help="certificates of adoption").add_subparsers(
        dest="certificate_command", required=True
    )
    verify = certificate.add_parser(
        "verify", help="check a certificate offline; exit 1 naming what is wrong"
    )
    verify.add_argument("file", metavar="FILE", help="the certificate's JSON (- for stdin)")
    verify.add_argument(
        "--key",
        help="the server's public key: a file with the JSON of GET /v1/certificate-key, or its"
        " PEM, or the base64 key itself (default: the configured signing key's)",
    )
    verify.set_defaults(func=cmd_certificate_verify)
    feed = sub.add_parser("feeds", help="calendar feed URLs of keys").add_subparsers(
        dest="feeds_command", required=True
    )
    create = feed.add_parser("create", help="a feed secret for a key (shown once)")
    create.add_argument("--key", required=True, help="the key's name")
    create.set_defaults(func=cmd_feeds_create)
    revoke = feed.add_parser("revoke", help="end a key's feed at once")
    revoke.add_argument("--key", required=True, help="the key's name")
    revoke.set_defaults(func=cmd_feeds_revoke)
    feed.add_parser("list", help="list feeds (never secrets)").set_defaults(func=cmd_feeds_list)
