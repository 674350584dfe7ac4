"""Inserting many rows in one statement, skipping those whose unique key is taken."""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TableValuedAlias

from db.base import Base, table_of


def insert_skipping(
    session: Session, table: type[Base], rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """Insert `rows` (each with the same columns), skipping those whose unique key is taken
    (`ON CONFLICT DO NOTHING`); the `returning` columns of the rows added.

    One statement. On PostgreSQL the rows go as one JSON parameter,
    `INSERT ... SELECT ... FROM json_to_recordset(...)`: a short statement
    whatever the number of rows (psycopg converts it once, PostgreSQL
    prepares it after a few calls), and the values are serialised by
    `json.dumps` alone, where a multi-row `VALUES` list ("insertmanyvalues")
    or one array per column costs the client time in every value of every
    row. On SQLite, that `VALUES` list.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        insert = sqlite.insert(table).on_conflict_do_nothing()
        if not returning:
            session.connection().execute(insert, rows)
            return []
        return list(session.connection().execute(insert.returning(*returning), rows).all())
    names = list(rows[0])
    source = json_rows(table, names, rows)
    statement = (
        postgresql.insert(table)
        .from_select(names, select(*(source.c[name] for name in names)))
        .on_conflict_do_nothing()
    )
    if not returning:
        session.connection().execute(statement)
        return []
    return list(session.connection().execute(statement.returning(*returning)).all())


def json_rows(table: type[Base], names: list[str], rows: list[dict[str, Any]]) -> TableValuedAlias:
    """`rows` as a PostgreSQL row source, `json_to_recordset(...) AS source(...)`: one
    parameter (the rows as JSON), the columns `names` typed as `table`'s."""
    columns = table_of(table).c
    return (
        func.json_to_recordset(
            cast(
                bindparam(
                    "rows", json.dumps(rows, default=_json_default, ensure_ascii=False), Text
                ),
                JSON,
            )
        )
        .table_valued(*(column(name, columns[name].type) for name in names))
        .render_derived(name="source", with_types=True)
    )


def _json_default(value: object) -> str:
    """Timestamps in JSON: ISO 8601 with their offset (aware only, as `UTCDateTime` takes)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
