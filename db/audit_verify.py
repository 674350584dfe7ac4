"""Verifying the audit trail: in full, from where it was last found intact, and against
a signed checkpoint.

- **Full** re-computes every event of every chain from its genesis.
- **Incremental** starts each chain at its *verified head* (`verified_heads`:
  the seq and hash up to which an earlier check found it intact) and
  re-hashes only the events after it. It also checks that each verified
  head's event is still there with its hash and that no chain's head moved
  back below it. It trusts everything before the verified heads: an edit
  there (with the stored hashes left alone) is found only by a full check.
- **Against a checkpoint**: a full check, and every head the checkpoint saw
  must still be in the trail (`workflow.checkpoints`).

Every check runs in one snapshot, so heads and events agree; one that finds
the trail intact then moves the verified heads forward (never back), in a
short write transaction of its own. Those rows are a cache of a check, not
part of the trail: no audit event is written for them.
"""

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from db import models
from db.audit import GENESIS, event_hash
from db.base import table_of
from db.engine import Database
from workflow.checkpoints import Checkpoint, Head, first_missing

Heads = dict[str, tuple[int, str]]
"""chain → (seq, hash) of its last event."""


@dataclass(frozen=True)
class Verification:
    """What re-computing the chains found.

    `events` is the number of events in the trail; `checked` how many were
    re-hashed (all of them in a full check); `head` a SHA-256 over every
    chain's last hash. When broken: the first bad `seq`, why, and its chain
    when known.
    """

    ok: bool
    events: int
    checked: int
    incremental: bool = False
    head: str | None = None
    first_bad_seq: int | None = None
    reason: str | None = None
    chain: str | None = None
    heads: Mapping[str, Head] | None = None
    """Every chain's head in the snapshot that was checked (when intact)."""
    moved: Mapping[str, Head] | None = None
    """The heads among them that are past their chain's verified head (what `advance`
    records; none when nothing new was checked)."""


class _Walk:
    """Follows events in `seq` order, each chain from where it starts, against the heads."""

    def __init__(self, heads: Heads, start: Heads) -> None:
        self.heads = heads
        self.last = dict(start)
        self.checked = 0

    def step(self, row: models.Event) -> tuple[int, str, str] | None:
        """(seq, chain, why) when `row` breaks its chain; else None."""
        self.checked += 1
        if row.prev_hash != self.last.get(row.chain, (0, GENESIS))[1]:
            return row.seq, row.chain, "prev_hash does not link to the chain's previous event"
        if event_hash(row) != row.hash:
            return row.seq, row.chain, "hash does not match the event's content"
        if row.chain not in self.heads or row.seq > self.heads[row.chain][0]:
            return row.seq, row.chain, "event is past its chain's recorded head"
        self.last[row.chain] = (row.seq, row.hash)
        return None

    def finish(self) -> tuple[int, str, str] | None:
        """(seq, chain, why) when a chain's recorded head is not its last event; else None."""
        for chain, (seq, digest) in sorted(self.heads.items(), key=lambda h: h[1][0]):
            if seq and self.last.get(chain) != (seq, digest):
                return seq, chain, "the chain's last event is missing or altered"
        return None

    def combined(self) -> str:
        """The SHA-256 over every chain's last hash that `verify` reports as `head`."""
        text = "\n".join(f"{chain}:{digest}" for chain, (_seq, digest) in sorted(self.last.items()))
        return hashlib.sha256(text.encode()).hexdigest()


def _events_after(session: Session, floor: int, batch: int = 1000) -> Iterator[models.Event]:
    """Every event above `floor` in `seq` order, in batches (constant memory)."""
    after = floor
    while True:
        query = select(models.Event).where(models.Event.seq > after).order_by(models.Event.seq)
        rows = list(session.scalars(query.limit(batch)))
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def _events_at(session: Session, seqs: Iterable[int]) -> dict[int, tuple[str, str]]:
    """seq → (chain, hash) of the events at `seqs` that exist."""
    wanted = sorted(set(seqs))
    found: dict[int, tuple[str, str]] = {}
    e = models.Event
    for i in range(0, len(wanted), 500):
        query = select(e.seq, e.chain, e.hash).where(e.seq.in_(wanted[i : i + 500]))
        found.update({row.seq: (row.chain, row.hash) for row in session.execute(query)})
    return found


def _heads(session: Session) -> Heads:
    return {h.chain: (h.seq, h.hash) for h in session.scalars(select(models.ChainHead))}


def verified_heads(session: Session) -> Heads:
    """How far each chain was last found intact."""
    return {v.chain: (v.seq, v.hash) for v in session.scalars(select(models.VerifiedHead))}


def _verified_still_there(
    session: Session, heads: Heads, verified: Heads
) -> tuple[int, str, str] | None:
    """(seq, chain, why) when the trail lost what an earlier check found intact."""
    found = _events_at(session, (seq for seq, _hash in verified.values()))
    for chain, (seq, digest) in sorted(verified.items(), key=lambda v: v[1][0]):
        if chain not in heads or heads[chain][0] < seq:
            return seq, chain, "the chain's head moved back below what was verified"
        if found.get(seq) != (chain, digest):
            return seq, chain, "the last verified event is missing or altered"
    return None


def verify(session: Session, incremental: bool = False) -> Verification:
    """Re-compute the chains (all of them, or only what follows the verified heads); name
    the first `seq` where one breaks.

    Run it in one snapshot (REPEATABLE READ on PostgreSQL; a SQLite read
    transaction is one), so the chain heads and the events agree.
    """
    heads = _heads(session)
    verified = verified_heads(session)
    total = session.scalar(select(func.count()).select_from(models.Event)) or 0
    broken = _verified_still_there(session, heads, verified)
    start: Heads = verified if incremental else {}
    walk = _Walk(heads, start)
    if broken is None:
        changed = [c for c, head in heads.items() if head != start.get(c)]
        floor = min(
            (start.get(c, (0, ""))[0] for c in changed),
            default=max((seq for seq, _h in heads.values()), default=0),
        )
        for row in _events_after(session, floor):
            if row.seq <= start.get(row.chain, (0, ""))[0]:
                continue  # verified before, and its chain's verified head is still there
            broken = walk.step(row)
            if broken is not None:
                break
        else:
            broken = walk.finish()
    if broken is not None:
        seq, chain, reason = broken
        return Verification(
            ok=False,
            events=total,
            checked=walk.checked,
            incremental=incremental,
            first_bad_seq=seq,
            reason=reason,
            chain=chain,
        )
    return Verification(
        ok=True,
        events=total,
        checked=walk.checked,
        incremental=incremental,
        head=walk.combined(),
        heads={chain: Head(seq, digest) for chain, (seq, digest) in heads.items()},
        moved={
            chain: Head(seq, digest)
            for chain, (seq, digest) in heads.items()
            if verified.get(chain) != (seq, digest)
        },
    )


def _snapshot(db: Database) -> Session:
    """A read session that sees one snapshot of the whole trail."""
    session = db.reads()
    if db.dialect == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return session


def verify_database(db: Database, now: datetime, incremental: bool = False) -> Verification:
    """`verify` in one snapshot; when the trail is intact, the verified heads move up to it."""
    with _snapshot(db) as session:
        result = verify(session, incremental)
    if result.ok and result.moved:
        advance(db, result.moved, now)  # no write transaction when nothing moved
    return result


def advance(db: Database, heads: Mapping[str, Head], now: datetime) -> None:
    """Record `heads` as verified (a chain's verified head only ever moves forward)."""
    rows: list[dict[str, Any]] = [
        {"chain": chain, "seq": head.seq, "hash": head.hash, "verified_at": now}
        for chain, head in sorted(heads.items())
        if head.seq > 0
    ]
    if not rows:
        return
    with db.writes() as session:
        for i in range(0, len(rows), 500):
            session.execute(_upsert(db.dialect, rows[i : i + 500]))
        session.commit()


def _upsert(dialect: str, rows: list[dict[str, Any]]) -> Executable:
    """Insert verified heads, or move existing ones forward (never back)."""
    table = table_of(models.VerifiedHead)
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(rows)
        return pg.on_conflict_do_update(
            index_elements=["chain"],
            set_={
                "seq": pg.excluded.seq,
                "hash": pg.excluded.hash,
                "verified_at": pg.excluded.verified_at,
            },
            where=table.c.seq < pg.excluded.seq,
        )
    lite = sqlite.insert(table).values(rows)
    return lite.on_conflict_do_update(
        index_elements=["chain"],
        set_={
            "seq": lite.excluded.seq,
            "hash": lite.excluded.hash,
            "verified_at": lite.excluded.verified_at,
        },
        where=table.c.seq < lite.excluded.seq,
    )


def verify_against(db: Database, checkpoint: Checkpoint, now: datetime) -> Verification:
    """A full check, and every head `checkpoint` saw must still be in the trail."""
    with _snapshot(db) as session:
        result = verify(session)
        if not result.ok:
            return result
        found = _events_at(session, (head.seq for head in checkpoint.chains.values()))
        chains = set(result.heads or ())
    missing = first_missing(checkpoint, found, chains)
    if missing is not None:
        return replace(
            result,
            ok=False,
            head=None,
            heads=None,
            first_bad_seq=missing.seq,
            reason=missing.reason,
            chain=missing.chain,
        )
    if result.moved:
        advance(db, result.moved, now)
    return result
