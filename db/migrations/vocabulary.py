"""Closed vocabularies in migrations: CHECK constraints a later revision can replace.

SQLite cannot add a constraint to a table in place (a rebuild of the
append-only events table would need the deletes its triggers refuse), so
there triggers on insert and update hold the same rule. Each revision passes
the words as they stand at that revision, never the live enums.
"""

from collections.abc import Sequence

from alembic import op

_SQLITE_TRIGGERS = (("insert", "INSERT"), ("update", "UPDATE OF {column}"))


def one_of(column: str, words: Sequence[str]) -> str:
    """SQL: `column` holds one of `words`."""
    return f"{column} IN ({','.join(repr(w) for w in words)})"


def check_words(table: str, column: str, words: Sequence[str]) -> None:
    """Hold `table.column` to `words` as CHECK `ck_<table>_<column>` (replacing an older one).

    On SQLite, which cannot add a constraint in place, as triggers on insert
    and update that refuse anything else (on insert only for the events,
    whose own triggers refuse every update).
    """
    name = f"ck_{table}_{column}"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({one_of(column, words)})")
        return
    for action, when in _SQLITE_TRIGGERS[: 1 if table == "events" else 2]:
        op.execute(f"DROP TRIGGER IF EXISTS {name}_{action}")
        op.execute(
            f"CREATE TRIGGER {name}_{action} BEFORE {when.format(column=column)} ON {table} "
            f"WHEN NOT (NEW.{one_of(column, words)}) "
            f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
        )


def drop_check(table: str, column: str) -> None:
    """Undo `check_words`."""
    name = f"ck_{table}_{column}"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        return
    for action, _when in _SQLITE_TRIGGERS[: 1 if table == "events" else 2]:
        op.execute(f"DROP TRIGGER {name}_{action}")
