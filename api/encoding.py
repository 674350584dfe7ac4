"""JSON as the contract writes it: ISO dates, RFC 3339 UTC timestamps with `Z`.

orjson writes the same bytes as `json.dumps(..., ensure_ascii=False,
separators=(",", ":"))` for what ratify answers, in about half the time
(bench: a version view 83 → 42 µs); dates and timestamps still go through
`_default`, so their form is ours, not orjson's.
"""

from datetime import UTC, date, datetime
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """UTF-8 JSON bytes of `value`; with `sort_keys`, every object's keys in order (the
    canonical form an ETag hashes)."""
    options = _OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _OPTIONS
    return orjson.dumps(value, default=_default, option=options)
