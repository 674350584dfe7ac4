"""The database of a CLI command, or one line saying why there is none (exit 2).

A newcomer's first command runs in an empty folder, against a PostgreSQL
that is down, or with a mistyped URL; each case is one line on stderr, never
a traceback. Commands that create what the user asked for (`serve`, `seed`,
`db upgrade`, `keys create`) bring the schema to head themselves, as
`serve` always did: a first key works in a fresh folder. The others
(`keys list`, `keys revoke`, `audit verify`, `reminders run`, `worker`)
never change the schema: in a database without it there is nothing to
list, revoke, verify or send, and a worker or a sweep that meets an older
schema is more likely beside a deploy in progress than in a fresh folder,
so it must not migrate behind the deployer's back. They say what to run.
They do not create a SQLite file either.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from api.bootstrap import bootstrap
from api.settings import Settings, sealer
from db import database_url, migrate
from db.engine import Database

UPGRADE_HINT = "run `ratify db upgrade` (or `ratify serve`) first"


class CliError(Exception):
    """A command cannot run; `str(exc)` is the one line to show."""


def first_line(exc: BaseException) -> str:
    """The first line of what a database error says (its driver's message, if any)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def command_database(settings: Settings, *, upgrade: bool) -> Iterator[Database]:
    """The configured database, reachable and at head (upgraded if `upgrade`); else CliError."""
    url = settings.database_url
    shown = database_url.shown(url)
    file = database_url.sqlite_file(url)
    if not upgrade and file is not None and not file.exists():
        raise CliError(f"there is no database at {file} yet; {UPGRADE_HINT}")
    try:
        db = bootstrap(settings)  # makes a SQLite file's folder
    except OSError as exc:
        folder = exc.filename or (file.parent if file else "?")
        raise CliError(
            f"cannot make the folder {folder} for {file}: {exc.strerror or exc}"
        ) from None
    try:
        try:
            if upgrade:
                migrate.upgrade(db.engine, sealer(settings))
            elif not migrate.at_head(db.engine):
                current = migrate.current_revision(db.engine)
                state = f"at revision {current}" if current else "without ratify's schema"
                raise CliError(
                    f"the database is {state}, not {migrate.head_revision()}; {UPGRADE_HINT}"
                )
        except OperationalError as exc:
            hint = f" (can this user write to {file.parent}/?)" if file is not None else ""
            raise CliError(f"cannot use the database {shown}: {first_line(exc)}{hint}") from None
        yield db
    finally:
        db.dispose()


def describe(exc: BaseException) -> str | None:
    """One line for an error a user's setup can cause mid-command (database gone, disk full)."""
    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {first_line(exc)}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


def upgraded(settings: Settings) -> AbstractContextManager[Database]:
    """The database at head, upgraded if need be (for commands that create what they are
    asked to); one line and exit 2 when it cannot be had."""
    return command_database(settings, upgrade=True)


def at_head(settings: Settings) -> AbstractContextManager[Database]:
    """The database, which must already be at head (commands that never change the schema)."""
    return command_database(settings, upgrade=False)
