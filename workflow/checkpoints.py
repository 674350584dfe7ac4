"""Audit checkpoints: what the trail held at a moment, to keep outside the database.

A checkpoint's statement names every chain's head, its `seq` and `hash`, at a
time. Signed (`workflow.signatures`) and kept elsewhere (the registrar's
mailbox), it lets an auditor show later that the trail still contains what
it contained then: a hash commits to every event before it in its chain, so
if the event at that `seq` is still there with that hash and the chain still
verifies, nothing up to it was removed or changed. Deleting a chain's last
events and moving its head back, which the chain alone cannot show, breaks
that.

Pure: the caller reads the trail and hands the facts in.
"""

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workflow.errors import InvalidValue

KIND = "ratify.audit-checkpoint"
VERSION = 1
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Head:
    """A chain's last event: its `seq` and `hash` (seq 0: the chain had no events)."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed checkpoint statement."""

    at: str
    chains: Mapping[str, Head]


@dataclass(frozen=True, slots=True)
class Finding:
    """Where the trail no longer holds what a checkpoint saw."""

    chain: str
    seq: int
    reason: str


def statement(at: datetime, heads: Mapping[str, Head]) -> dict[str, Any]:
    """The statement to sign: every chain's head at `at` (UTC)."""
    return {
        "kind": KIND,
        "version": VERSION,
        "at": at.isoformat().replace("+00:00", "Z"),
        "chains": {
            chain: {"seq": head.seq, "hash": head.hash} for chain, head in sorted(heads.items())
        },
    }


def parse(value: Mapping[str, Any]) -> Checkpoint:
    """A checkpoint from a (verified) statement; `InvalidValue` when it is not one."""
    if value.get("kind") != KIND or value.get("version") != VERSION:
        raise InvalidValue(f"not a {KIND} statement of version {VERSION}")
    chains = value.get("chains")
    at = value.get("at")
    if not isinstance(chains, Mapping) or not isinstance(at, str):
        raise InvalidValue("a checkpoint has `at` and `chains`")
    heads = {}
    for chain, head in chains.items():
        seq = head.get("seq") if isinstance(head, Mapping) else None
        digest = head.get("hash") if isinstance(head, Mapping) else None
        if (
            not isinstance(seq, int)
            or isinstance(seq, bool)
            or seq < 0
            or not isinstance(digest, str)
            or not _HASH.fullmatch(digest)
        ):
            raise InvalidValue(f"chain {chain!r}: a head is a seq ≥ 0 and a SHA-256 hash")
        heads[str(chain)] = Head(seq, digest)
    return Checkpoint(at, heads)


def first_missing(
    checkpoint: Checkpoint, found: Mapping[int, tuple[str, str]], chains: Collection[str]
) -> Finding | None:
    """The first (lowest `seq`) head of `checkpoint` the trail no longer holds, or None.

    `found` maps each `seq` the checkpoint names to the (chain, hash) of the
    event the trail has at that `seq` now (a `seq` it lacks has no event);
    `chains` are the chains the trail has now.
    """
    for chain, head in sorted(checkpoint.chains.items(), key=lambda item: item[1].seq):
        if head.seq == 0:
            continue  # the chain had no events then: nothing to lose
        if chain not in chains:
            return Finding(chain, head.seq, "the chain is missing")
        there = found.get(head.seq)
        if there is None:
            return Finding(chain, head.seq, "the event the checkpoint saw is missing")
        if there != (chain, head.hash):
            return Finding(chain, head.seq, "the event the checkpoint saw has another hash")
    return None
