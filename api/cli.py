"""The `ratify` command line."""

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api import metrics
from api.cli_guard import CliError, command_database, describe
from api.clock import utc_now
from api.logging import configure_logging
from api.settings import Settings, notifications_config
from db import audit_queries, keys, migrate, seed
from db.engine import Database
from db.uow import UnitOfWork
from notifications import scheduler
from workflow.actors import SYSTEM, Role
from workflow.errors import DomainError


def upgraded(settings: Settings) -> AbstractContextManager[Database]:
    """The database at head, upgraded if need be (for commands that create what they are
    asked to); one line and exit 2 when it cannot be had (`api/cli_guard.py`)."""
    return command_database(settings, upgrade=True)


def at_head(settings: Settings) -> AbstractContextManager[Database]:
    """The database, which must already be at head (commands that never change the schema)."""
    return command_database(settings, upgrade=False)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Upgrade, seed, and serve HTTP."""
    if settings.metrics_listen and (problem := metrics.check_listen(settings.metrics_listen)):
        print(
            f"ratify: error: cannot serve metrics on {settings.metrics_listen}: {problem}",
            file=sys.stderr,
        )
        return 2
    with upgraded(settings) as db:
        seed.seed(db, utc_now())
    os.environ["RATIFY_RUN_SCHEDULER"] = "false" if args.no_scheduler else "true"
    uvicorn.run(
        "api.main:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        # uvicorn restarts a worker that does not answer its health check in time
        # (5 s by default); on a loaded machine a starting worker can take longer.
        timeout_worker_healthcheck=30,
    )
    return 0


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    """`alembic upgrade head`."""
    with upgraded(settings) as db:
        print(f"schema at {migrate.current_revision(db.engine)}")
    return 0


def cmd_seed(_args: argparse.Namespace, settings: Settings) -> int:
    """Add the Södertörn seed data if it is missing."""
    with upgraded(settings) as db:
        added = seed.seed(db, utc_now())
    print("seeded" if added else "already seeded")
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a key; its token is the last line of stdout (the schema is upgraded first)."""
    with upgraded(settings) as db, UnitOfWork(db, SYSTEM, utc_now()) as uow:
        token = keys.create(uow, args.name, Role(args.role), args.board)
        uow.commit()
    print(f"created {args.role} key {args.name!r}; the token is shown once:", file=sys.stderr)
    print(token)
    return 0


def cmd_keys_list(_args: argparse.Namespace, settings: Settings) -> int:
    """Names, roles, boards, created and last used; never tokens."""
    with at_head(settings) as db, db.reads() as session:
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
    with at_head(settings) as db, UnitOfWork(db, SYSTEM, utc_now()) as uow:
        keys.revoke(uow, args.name)
        uow.commit()
    print(f"revoked {args.name!r}")
    return 0


def cmd_audit_verify(_args: argparse.Namespace, settings: Settings) -> int:
    """Re-compute the audit chains; exit 1 when one is broken."""
    with at_head(settings) as db:
        result = audit_queries.verify_database(db)
    if result.ok:
        print(f"ok: {result.events} events, head {result.head}")
        return 0
    print(f"BROKEN at seq {result.first_bad_seq}: {result.reason}")
    return 1


def cmd_reminders_run(args: argparse.Namespace, settings: Settings) -> int:
    """One reminder sweep as if the clock read `--now`, then every e-mail due delivered."""
    now = args.now or utc_now()
    with at_head(settings) as db:
        report = scheduler.tick(db, notifications_config(settings), now)
    swept, delivered = report.swept, report.delivered
    print(
        f"swept as of {_ts(now)}: {swept.queued} reminders queued, "
        f"{swept.coalesced} coalesced, {swept.stopped} boards done"
    )
    print(
        f"delivered: {delivered.sent} sent, {delivered.retrying} to retry, "
        f"{delivered.failed} failed"
    )
    return 0


def cmd_worker(_args: argparse.Namespace, settings: Settings) -> int:
    """The reminder and e-mail clock without HTTP, until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with at_head(settings) as db:
        clock = scheduler.start_scheduler(
            db, notifications_config(settings), utc_now, settings.scheduler_interval_seconds
        )
        try:
            while not stop.wait(1.0):
                pass
        finally:
            clock.shutdown()
    return 0


def _instant(text: str) -> datetime:
    """An RFC 3339 timestamp with its offset, e.g. `2019-06-10T06:00:00Z`."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 timestamp: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset (add Z or +01:00)")
    return value.astimezone(UTC)


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
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    audit.add_parser("verify", help="check the hash chains; exit 1 when broken").set_defaults(
        func=cmd_audit_verify
    )
    reminders = sub.add_parser("reminders", help="reminder e-mails").add_subparsers(
        dest="reminders_command", required=True
    )
    run = reminders.add_parser("run", help="one sweep, then deliver every e-mail due")
    run.add_argument("--now", type=_instant, help="RFC 3339; act as if the clock read this")
    run.set_defaults(func=cmd_reminders_run)
    sub.add_parser("worker", help="the scheduler and deliveries, no HTTP").set_defaults(
        func=cmd_worker
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `ratify` command; exit 2 with a clear message when it is refused."""
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"ratify: error: {_setting_error(exc)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        return func(args, settings)
    except DomainError as exc:
        print(f"ratify: error: {exc}", file=sys.stderr)
        return 2
    except (CliError, SQLAlchemyError, OSError) as exc:
        # A state the user's setup can be in (no schema, database down, a folder
        # that cannot be written): one line, never a traceback.
        print(f"ratify: error: {describe(exc)}", file=sys.stderr)
        return 2


def _setting_error(exc: ValidationError) -> str:
    """The first invalid setting, named as its environment variable."""
    error = exc.errors()[0]
    name = "_".join(str(part) for part in error["loc"]).upper()
    message = error["msg"].removeprefix("Value error, ")
    return f"RATIFY_{name}: {message}" if name else message


if __name__ == "__main__":
    sys.exit(main())
