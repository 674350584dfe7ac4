"""The `ratify` command line."""

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import uvicorn

from api.app import utc_now
from api.logging import configure_logging
from api.settings import Settings
from db import keys, migrate, seed
from db.engine import Database, open_database
from workflow.actors import SYSTEM, Role
from workflow.errors import DomainError


def _prepare(settings: Settings) -> Database:
    """Connect, bring the schema to head and seed an empty database."""
    db = open_database(settings.database_url)
    migrate.upgrade(db.engine)
    seed.seed(db, utc_now())
    return db


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Upgrade, seed, and serve HTTP."""
    _prepare(settings).dispose()
    uvicorn.run(
        "api.main:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
    )
    return 0


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    """`alembic upgrade head`."""
    db = open_database(settings.database_url)
    migrate.upgrade(db.engine)
    print(f"schema at {migrate.current_revision(db.engine)}")
    return 0


def cmd_seed(_args: argparse.Namespace, settings: Settings) -> int:
    """Add the Södertörn seed data if it is missing."""
    db = open_database(settings.database_url)
    migrate.upgrade(db.engine)
    added = seed.seed(db, utc_now())
    print("seeded" if added else "already seeded")
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a key; its token is the last line of stdout."""
    db = open_database(settings.database_url)
    with db.writes() as session:
        token = keys.create(session, args.name, Role(args.role), args.board, SYSTEM, utc_now())
        session.commit()
    print(f"created {args.role} key {args.name!r}; the token is shown once:", file=sys.stderr)
    print(token)
    return 0


def cmd_keys_list(_args: argparse.Namespace, settings: Settings) -> int:
    """Names, roles, boards, created and last used; never tokens."""
    db = open_database(settings.database_url)
    with db.reads() as session:
        rows = keys.listing(session)
    print(f"{'NAME':24} {'ROLE':12} {'BOARD':12} {'CREATED':22} {'LAST USED':22} REVOKED")
    for k in rows:
        print(
            f"{k['name']:24} {k['role']:12} {k['board_id'] or '-':12} {_ts(k['created_at']):22} "
            f"{_ts(k['last_used_at']):22} {_ts(k['revoked_at'])}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a key at once."""
    db = open_database(settings.database_url)
    with db.writes() as session:
        keys.revoke(session, args.name, SYSTEM, utc_now())
        session.commit()
    print(f"revoked {args.name!r}")
    return 0


def _ts(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="ratify", description="Approval of jointly drafted programs.")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="upgrade, seed and serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="HTTP worker processes")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the scheduler")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="alembic upgrade head").set_defaults(func=cmd_db_upgrade)

    sub.add_parser("seed", help="the Södertörn boards and program (idempotent)").set_defaults(
        func=cmd_seed
    )

    k = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = k.add_parser("create", help="create a key and print its token")
    create.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r is not Role.SYSTEM]
    )
    create.add_argument("--board", help="the board a board key acts for")
    create.add_argument("--name", required=True)
    create.set_defaults(func=cmd_keys_create)
    k.add_parser("list", help="list keys (never tokens)").set_defaults(func=cmd_keys_list)
    revoke = k.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_keys_revoke)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `ratify` command; exit 2 with a clear message when it is refused."""
    args = parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        return func(args, settings)
    except DomainError as exc:
        print(f"ratify: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
