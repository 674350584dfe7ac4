"""Appending to the hash-chained audit trail.

There is one chain per program (events without a program go to chain
`_global`), so writes to different programs never wait on one row. Each
append locks the chain's head row, links the new event to the previous hash
and moves the head, all inside the caller's transaction.

The canonical form (what an offline verifier must re-implement). An event's
`hash` is the lowercase hex SHA-256 of the UTF-8 bytes of this JSON object,
written with its keys sorted, no whitespace (separators `,` and `:`) and
non-ASCII characters as themselves (not `\\u` escapes):

    {"actor": [actor_name, actor_role, actor_board_id],
     "at": <`at` in ISO 8601, UTC, e.g. "2019-06-10T08:15:00.123456+00:00">,
     "board_id": ..., "chain": ..., "data": {...}, "prev_hash": ...,
     "program_id": ..., "type": ..., "version_id": ...}

with absent values as `null`. When the actor is a person (the event has an
`actor_subject`), `actor` has two more items, `[actor_name, actor_role,
actor_board_id, actor_subject, actor_email]`; for API keys and the service
it keeps its three, so every event written before people could sign in
still verifies. `at` is Python's `datetime.isoformat()` of the UTC instant:
microseconds only when non-zero. `data` is the stored JSON (its own keys
sorted too, at every depth). The first event of a chain has `prev_hash`
"0" * 64; every later one the `hash` of the chain's previous event.
"""

import contextlib
import hashlib
import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.base import table_of
from db.models import ChainHead, EventKey
from db.models import Event as EventRow
from workflow.actors import Actor
from workflow.events import Event
from workflow.signatures import canonical

GENESIS = "0" * 64
GLOBAL_CHAIN = "_global"


def hashed_fields(row: EventRow) -> dict[str, Any]:
    """Every field an event's hash covers, as the JSON values hashed (a certificate of
    adoption carries them, so the hash can be recomputed offline)."""
    return {
        "at": row.at.isoformat(),
        "type": row.type,
        "actor": actor_items(row),
        "program_id": row.program_id,
        "version_id": row.version_id,
        "board_id": row.board_id,
        "data": row.data,
        "chain": row.chain,
        "prev_hash": row.prev_hash,
    }


def event_hash(row: EventRow) -> str:
    """SHA-256 over the event's content and the hash before it."""
    return hashlib.sha256(canonical(hashed_fields(row))).hexdigest()


def actor_items(row: EventRow) -> list[str | None]:
    """The event's actor as the canonical form lists it (a person's subject and e-mail
    only for a person: see the module docstring)."""
    items = [row.actor_name, row.actor_role, row.actor_board_id]
    if row.actor_subject is not None:
        items += [row.actor_subject, row.actor_email]
    return items


def actor_view(
    name: str, role: str, board_id: str | None, subject: str | None, email: str | None
) -> dict[str, str | None]:
    """An event's actor as the API and webhooks show it: `subject` and `email` for a person."""
    view = {"name": name, "role": role, "board_id": board_id}
    if subject is not None:
        view |= {"subject": subject, "email": email}
    return view


WRITERS_LOCK = 0x7261746966790001
"""PostgreSQL advisory lock key: writers hold it shared, `settled_seq` briefly exclusive."""


def _lock_head(session: Session, chain: str) -> tuple[int, str] | None:
    """Lock the chain's head row; its (seq, hash), or None for a chain not begun.

    On PostgreSQL the same statement takes the writers' lock (shared) until the
    transaction ends. A sequence hands out `seq` before commit, so events can
    become visible out of `seq` order; `settled_seq` takes that lock
    exclusively for an instant: once it has it, every event numbered so far is
    committed or rolled back. That holds because `append` calls this before it
    inserts (and so numbers) any event: keep that order.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        head = connection.execute(_HEAD, {"chain": chain}).first()
    else:
        head = connection.execute(_LOCK_HEAD_AS_WRITER, {"chain": chain}).first()
        if head is None:
            connection.execute(_AS_WRITER)
    return None if head is None else (head[0], head[1])


_HEAD = (
    select(ChainHead.seq, ChainHead.hash)
    .where(ChainHead.chain == bindparam("chain"))
    .with_for_update()
)
_AS_WRITER = select(func.pg_advisory_xact_lock_shared(WRITERS_LOCK))
_LOCK_HEAD_AS_WRITER = _HEAD.add_columns(func.pg_advisory_xact_lock_shared(WRITERS_LOCK))
_EVENTS = table_of(EventRow)
_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.seq, sort_by_parameter_order=True)
_INSERT_KEYS = insert(table_of(EventKey))
_HEADS = table_of(ChainHead)
_INSERT_HEAD = insert(_HEADS)
_MOVE_HEAD = update(_HEADS).where(_HEADS.c.chain == bindparam("head"))
"""Sets the columns its parameters name (`seq`, `hash`) on the head of chain `head`."""


def settled_seq(session: Session) -> int:
    """The highest `seq` below which no event can still appear (keyset paging stays exact)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # One round trip: `max(seq)`, then the exclusive lock (evaluated above the
        # aggregate), then the unlock (above the subquery, which the aggregate keeps
        # from being flattened). `max` reads the statement's snapshot, taken before
        # the lock: an event numbered below a committed one was numbered by a writer
        # that took the shared lock before its `seq`, so once the lock is granted
        # every event up to `max` is committed or rolled back, and the caller's next
        # statement (a new snapshot) sees them all.
        settled = text(
            "SELECT s.top, s.locked, pg_advisory_unlock(:k) AS unlocked"
            " FROM (SELECT max(seq) AS top, pg_advisory_lock(:k) AS locked FROM events) AS s"
        )
        try:
            top = session.execute(settled, {"k": WRITERS_LOCK}).one()[0]
        except BaseException:
            # No unlock on a connection that failed (it would mask the error, and an
            # aborted transaction refuses it): close the connection, the lock ends with it.
            with contextlib.suppress(SQLAlchemyError):
                session.connection().invalidate()
            raise
        return int(top or 0)
    # SQLite: writers are serialized and commit in seq order.
    return session.scalar(select(func.max(EventRow.seq))) or 0


def append(
    session: Session,
    events: Iterable[Event],
    actor: Actor,
    at: datetime,
    context: dict[str, Any] | None = None,
) -> list[EventRow]:
    """Write `events` to their chains in the current transaction and return the rows.

    The rows returned are not in the session: they carry what was written
    (with `seq`) for the outbox writers to read. An event that may happen only
    once (`Event.once`) also takes its key in `event_keys`, in the same
    transaction: a second writer of the same key fails with an integrity error.
    """
    events = list(events)
    rows = [
        EventRow(
            at=at,
            type=event.type,
            actor_name=actor.name,
            actor_role=actor.role.value,
            actor_board_id=actor.board_id,
            actor_subject=actor.subject,
            actor_email=actor.email,
            program_id=event.program_id,
            version_id=event.version_id,
            board_id=event.board_id,
            data={**event.data, **({"request": context} if context else {})},
            chain=event.program_id or GLOBAL_CHAIN,
        )
        for event in events
    ]
    # Core statements on the session's connection: the cheapest way through.
    connection = session.connection()
    heads: dict[str, str | None] = {}
    for chain, run in itertools.groupby(rows, key=lambda row: row.chain):
        chained = list(run)
        if chain not in heads:
            head = _lock_head(session, chain)
            heads[chain] = head[1] if head else None
        prev_hash = heads[chain] or GENESIS
        for row in chained:
            row.prev_hash = prev_hash
            row.hash = prev_hash = event_hash(row)
        _write(connection, chain, chained, begun=heads[chain] is not None)
        heads[chain] = chained[-1].hash
    keys = [
        {"key": event.once, "event_seq": row.seq}
        for event, row in zip(events, rows, strict=True)
        if event.once is not None
    ]
    if keys:
        connection.execute(_INSERT_KEYS, keys)
    return rows


_EVENT_COLUMNS = (
    "at",
    "type",
    "actor_name",
    "actor_role",
    "actor_board_id",
    "actor_subject",
    "actor_email",
    "program_id",
    "version_id",
    "board_id",
    "data",
    "chain",
    "prev_hash",
    "hash",
)


def _write(connection: Connection, chain: str, rows: list[EventRow], *, begun: bool) -> None:
    """Insert `rows` (numbering them) and move the chain's head to the last.

    One event on a begun PostgreSQL chain (most writes) is one statement, the
    insert and the head's move in a CTE: about 130 µs of a request's CPU less
    than two (`bench.statement`). Otherwise two: SQLite has no DML in a CTE.
    """
    if begun and len(rows) == 1 and connection.dialect.name == "postgresql":
        one = {f"event_{c}": getattr(rows[0], c) for c in _EVENT_COLUMNS}
        rows[0].seq = connection.execute(_INSERT_ONE_AND_MOVE, one).scalar_one()
        return
    values = [{c: getattr(row, c) for c in _EVENT_COLUMNS} for row in rows]
    for row, seq in zip(rows, connection.execute(_INSERT_EVENTS, values).scalars(), strict=True):
        row.seq = seq
    head = {"seq": rows[-1].seq, "hash": rows[-1].hash}
    if begun:
        connection.execute(_MOVE_HEAD, {"head": chain, **head})
    else:
        connection.execute(_INSERT_HEAD, {"chain": chain, **head})


_WRITTEN = (
    insert(_EVENTS)
    .values({c: bindparam(f"event_{c}") for c in _EVENT_COLUMNS})
    .returning(_EVENTS.c.seq, _EVENTS.c.chain, _EVENTS.c.hash)
    .cte("written")
)
_INSERT_ONE_AND_MOVE = select(_WRITTEN.c.seq).add_cte(
    update(_HEADS)
    .where(_HEADS.c.chain == _WRITTEN.c.chain)
    .values(seq=_WRITTEN.c.seq, hash=_WRITTEN.c.hash)
    .cte("moved")
)
"""The one-event append on PostgreSQL: `written` numbers the event, `moved` moves its
chain's head to it. Its parameters are `event_<column>`: a parameter named as a column of
`chain_heads` would also be SET by the UPDATE."""
