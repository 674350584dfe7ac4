"""The `ratify` command line."""

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api import checkpoints, evidence_cli, metrics
from api.cli_guard import CliError, at_head, describe, upgraded
from api.clock import shown, utc_now
from api.logging import configure_logging
from api.server_keys import ServerKeyError
from api.settings import Settings, notifications_config, sealer, signing_key
from db import audit_verify, keys, migrate, seed, sessions, subscriptions
from db.sealing import Unsealable
from db.uow import UnitOfWork
from notifications import scheduler
from workflow import signatures
from workflow.actors import SYSTEM, Role
from workflow.errors import BadSignature, DomainError, InvalidValue


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
    signing_key(settings)  # made now, once, rather than by each worker at once
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
            f"{k['name']:24} {k['role']:12} {k['board_id'] or '-':12} {shown(k['created_at']):22} "
            f"{shown(k['last_used_at']):22} {shown(k['revoked_at'])}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a key at once."""
    with at_head(settings) as db, UnitOfWork(db, SYSTEM, utc_now()) as uow:
        keys.revoke(uow, args.name)
        uow.commit()
    print(f"revoked {args.name!r}")
    return 0


def cmd_sessions_list(args: argparse.Namespace, settings: Settings) -> int:
    """The status page's sessions: live ones, or with --all the last 30 days'."""
    with at_head(settings) as db, db.reads() as session:
        rows = sessions.listing(session, utc_now(), everything=args.all)
    print(
        f"{'NAME':24} {'SUBJECT':28} {'E-MAIL':30} {'ROLE':12} {'BOARD':12} "
        f"{'SIGNED IN':21} {'EXPIRES':21} ENDED"
    )
    for s in rows:
        subject = s["subject"] or "(api key)"
        print(
            f"{s['name']:24} {subject:28} {s['email'] or '-':30} {s['role']:12} "
            f"{s['board_id'] or '-':12} {shown(s['created_at']):21} {shown(s['expires_at']):21} "
            f"{shown(s['ended_at'])}"
        )
    return 0


def cmd_sessions_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """End a person's sessions (or everyone's) at once, in every process."""
    with at_head(settings) as db:
        if args.all:
            ended = sessions.end_all(db, utc_now())
        else:
            ended = sessions.end_person(db, args.subject, utc_now())
    print(f"ended {ended} session{'s' if ended != 1 else ''}")
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Re-compute the audit chains (and check a checkpoint); exit 1 when broken."""
    document = _read_json(args.against) if args.against else None
    key = signing_key(settings) if document is not None else None
    with at_head(settings) as db:
        if key is not None:
            try:
                result, checkpoint = checkpoints.check(db, key.public_key(), document, utc_now())
            except BadSignature as exc:
                print(f"REFUSED: the checkpoint is not genuine: {exc}")
                return 1
        else:
            result = audit_verify.verify_database(db, utc_now(), args.incremental)
    if not result.ok:
        where = f"chain {result.chain} " if result.chain else ""
        print(f"BROKEN at {where}seq {result.first_bad_seq}: {result.reason}")
        return 1
    scope = f"{result.checked} re-hashed since the last check" if result.incremental else "all"
    print(f"ok: {result.events} events ({scope}), head {result.head}")
    if key is not None:
        print(
            f"the trail holds all {len(checkpoint.chains)} chain heads of the checkpoint of"
            f" {checkpoint.at}"
        )
    return 0


def cmd_audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    """Print a signed statement of every chain's head; exit 1 when the trail is broken."""
    key = signing_key(settings)
    with at_head(settings) as db:
        result, document = checkpoints.take(db, key, utc_now())
    if document is None:
        print(
            f"ratify: error: no checkpoint: chain {result.chain} breaks at seq"
            f" {result.first_bad_seq}: {result.reason}",
            file=sys.stderr,
        )
        return 1
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_certificate_key(_args: argparse.Namespace, settings: Settings) -> int:
    """Print the public key that signs checkpoints (as `GET /v1/certificate-key`)."""
    view = signatures.public_key_view(signing_key(settings).public_key())
    print(json.dumps(view, indent=2))
    return 0


def cmd_webhooks_reseal(_args: argparse.Namespace, settings: Settings) -> int:
    """Seal every webhook secret anew under the first sealing key; clear ended ones."""
    keys = sealer(settings)
    with at_head(settings) as db:
        cleared = subscriptions.forget_expired_secrets(db, utc_now())
        try:
            count = subscriptions.reseal_all(db, keys.reseal)
        except Unsealable:
            print(
                "ratify: error: a stored webhook secret opens with none of the sealing keys;"
                " put the key that sealed it back among RATIFY_SEALING_KEYS (or the key file)",
                file=sys.stderr,
            )
            return 2
    print(
        f"resealed the secrets of {count} subscriptions; {cleared} ended previous secrets cleared"
    )
    return 0


def _read_json(path: str) -> Any:
    """The JSON document in `path` (`-`: standard input); `InvalidValue` when it cannot be
    read (the command then exits 2 with one line saying why)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, UnicodeError, ValueError) as exc:
        raise InvalidValue(f"cannot read the checkpoint {path}: {exc}") from None


def cmd_reminders_run(args: argparse.Namespace, settings: Settings) -> int:
    """One reminder sweep as if the clock read `--now`, then every e-mail due delivered."""
    now = args.now or utc_now()
    with at_head(settings) as db:
        report = scheduler.tick(db, notifications_config(settings), now)
    swept, delivered = report.swept, report.delivered
    print(
        f"swept as of {shown(now)}: {swept.queued} reminders queued, "
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
    ses = sub.add_parser("sessions", help="status page sessions").add_subparsers(
        dest="sessions_command", required=True
    )
    listed = ses.add_parser("list", help="live sessions (never their tokens)")
    listed.add_argument("--all", action="store_true", help="also ended and expired ones")
    listed.set_defaults(func=cmd_sessions_list)
    end = ses.add_parser("revoke", help="end a person's sessions (or all) at once")
    whom = end.add_mutually_exclusive_group(required=True)
    whom.add_argument("--subject", help="the person's subject (sub) at the identity provider")
    whom.add_argument("--all", action="store_true", help="every session, keys' too")
    end.set_defaults(func=cmd_sessions_revoke)
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit.add_parser("verify", help="check the hash chains; exit 1 when broken")
    verify.add_argument(
        "--against",
        metavar="CHECKPOINT",
        help="a file from `ratify audit checkpoint` (- for stdin): the trail must still hold it",
    )
    verify.add_argument(
        "--incremental",
        action="store_true",
        help="re-hash only what follows where the last check found the trail intact",
    )
    verify.set_defaults(func=cmd_audit_verify)
    checkpoint = audit.add_parser(
        "checkpoint", help="print a signed statement of every chain's head, to keep elsewhere"
    )
    checkpoint.add_argument("--out", type=Path, help="write it to this file instead of stdout")
    checkpoint.set_defaults(func=cmd_audit_checkpoint)
    sub.add_parser(
        "certificate-key", help="print the public key that signs checkpoints"
    ).set_defaults(func=cmd_certificate_key)
    evidence_cli.add_commands(sub)  # certificate verify, feeds
    hooks = sub.add_parser("webhooks", help="webhook subscriptions").add_subparsers(
        dest="webhooks_command", required=True
    )
    hooks.add_parser(
        "reseal", help="seal every webhook secret under the first sealing key (after rotation)"
    ).set_defaults(func=cmd_webhooks_reseal)
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
    except (DomainError, ServerKeyError) as exc:
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
