"""JSON as the contract writes it: ISO dates, RFC 3339 UTC timestamps with `Z`."""

import json
from datetime import UTC, date, datetime
from typing import Any


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """UTF-8 JSON bytes of `value`."""
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":")).encode()
