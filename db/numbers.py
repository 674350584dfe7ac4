"""Integers as the databases hold them: signed 64-bit (SQLite's INTEGER, PostgreSQL's bigint).

A number a client sends (a path parameter, a cursor, a cookie field) is used
only when it fits: SQLite raises OverflowError for a larger Python int, which
would surface as a 500. And only ASCII digits count as digits: `str.isdigit()`
is true for '²' and `int()` accepts '٣', neither of which any ratify number is
written with.
"""

import re

INT63_MAX = 2**63 - 1
"""The largest value of a signed 64-bit column."""

_DIGITS = re.compile(r"[0-9]{1,19}")


def ascii_int(text: str) -> int | None:
    """`text` as a non-negative integer when it is ASCII digits that fit a bigint; else None."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= INT63_MAX else None


def fits(value: int) -> bool:
    """Whether `value` fits a signed 64-bit column."""
    return -INT63_MAX - 1 <= value <= INT63_MAX
