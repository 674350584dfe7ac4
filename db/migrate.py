"""Schema migrations from code: upgrade to head, and tell whether we are at head."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from db.engine import WRITE
from db.sealing import Sealer

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Alembic's configuration, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


MIGRATION_LOCK = 0x7261746966790002
"""PostgreSQL advisory lock key: one process migrates at a time."""


def upgrade(engine: Engine, sealer: Sealer | None = None, revision: str = "head") -> None:
    """Bring the schema to the newest revision (what `alembic upgrade head` does).

    Safe when several processes start at once: they take turns (an advisory
    lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and the later ones find
    the schema at head. `sealer` (the server's sealing keys) is what a
    migration that seals stored secrets uses (0007); it is needed only when
    there are such secrets to carry.
    """
    config = alembic_config()
    config.attributes["sealer"] = sealer
    with engine.execution_options(**{WRITE: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str | None:
    """The newest revision in the code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def at_head(engine: Engine) -> bool:
    """True when the database schema is the code's newest revision."""
    return current_revision(engine) == head_revision()


def readiness(engine: Engine) -> str | None:
    """What keeps the database from serving (unreachable, schema not at head), or None."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        ready = at_head(engine)
    except SQLAlchemyError:
        return "unreachable"
    return None if ready else "schema not at head"
