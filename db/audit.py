"""Appending to the hash-chained audit trail.

There is one chain per program (events without a program go to chain
`_global`), so writes to different programs never wait on one row. Each
append locks the chain's head row, links the new event to the previous hash
and moves the head, all inside the caller's transaction.
"""

import contextlib
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.models import ChainHead
from db.models import Event as EventRow
from workflow.actors import Actor
from workflow.events import Event

GENESIS = "0" * 64
GLOBAL_CHAIN = "_global"


def canonical(fields: dict[str, Any]) -> bytes:
    """The canonical JSON form that hashes are computed over."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(row: EventRow) -> str:
    """SHA-256 over the event's content and the hash before it."""
    fields = {
        "at": row.at.isoformat(),
        "type": row.type,
        "actor": [row.actor_name, row.actor_role, row.actor_board_id],
        "program_id": row.program_id,
        "version_id": row.version_id,
        "board_id": row.board_id,
        "data": row.data,
        "chain": row.chain,
        "prev_hash": row.prev_hash,
    }
    return hashlib.sha256(canonical(fields)).hexdigest()


WRITERS_LOCK = 0x7261746966790001
"""PostgreSQL advisory lock key: writers hold it shared, `settled_seq` briefly exclusive."""


def _announce_writer(session: Session) -> None:
    """On PostgreSQL, hold the writers' lock (shared) until this transaction ends.

    A sequence hands out `seq` before commit, so events can become visible out
    of `seq` order. `settled_seq` takes the lock exclusively for an instant:
    once it has it, every event numbered so far is committed or rolled back.
    """
    if (
        session.bind is not None
        and session.bind.dialect.name == "postgresql"
        and not session.info.get("audit_writer")
    ):
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": WRITERS_LOCK})
        session.info["audit_writer"] = True


def settled_seq(session: Session) -> int:
    """The highest `seq` below which no event can still appear (keyset paging stays exact)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_lock(:k)"), {"k": WRITERS_LOCK})
        try:
            top = session.scalar(select(func.max(EventRow.seq)))
        except BaseException:
            # No unlock on a connection that failed (it would mask the error, and an
            # aborted transaction refuses it): close the connection, the lock ends with it.
            with contextlib.suppress(SQLAlchemyError):
                session.connection().invalidate()
            raise
        session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": WRITERS_LOCK})
        return top or 0
    # SQLite: writers are serialized and commit in seq order.
    return session.scalar(select(func.max(EventRow.seq))) or 0


def append(
    session: Session,
    events: Iterable[Event],
    actor: Actor,
    at: datetime,
    context: dict[str, Any] | None = None,
) -> list[EventRow]:
    """Write `events` to their chains in the current transaction and return the rows."""
    rows = []
    if events:
        _announce_writer(session)
    for event in events:
        chain = event.program_id or GLOBAL_CHAIN
        head = session.scalars(
            select(ChainHead).where(ChainHead.chain == chain).with_for_update()
        ).one_or_none()
        row = EventRow(
            at=at,
            type=event.type,
            actor_name=actor.name,
            actor_role=actor.role.value,
            actor_board_id=actor.board_id,
            program_id=event.program_id,
            version_id=event.version_id,
            board_id=event.board_id,
            data={**event.data, **({"request": context} if context else {})},
            chain=chain,
            prev_hash=head.hash if head else GENESIS,
        )
        row.hash = event_hash(row)
        session.add(row)
        session.flush()
        if head is None:
            session.add(ChainHead(chain=chain, seq=row.seq, hash=row.hash))
        else:
            head.seq, head.hash = row.seq, row.hash
        rows.append(row)
    return rows
