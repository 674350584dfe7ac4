"""`api.encoding.dumps` (orjson) writes exactly what the standard library would."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.encoding import _default, dumps


def stdlib(value: Any) -> bytes:
    """The encoder ratify used before orjson, byte for byte."""
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


offsets = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.text()
    | st.dates()
    | st.datetimes(timezones=offsets)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_the_same_bytes_as_the_standard_library(value: Any) -> None:
    assert dumps(value) == stdlib(value)


@given(values)
def test_sorted_keys_as_the_standard_library_sorts_them(value: Any) -> None:
    """The canonical form an ETag hashes: every object's keys in order."""
    expected = json.dumps(
        value, default=_default, ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )
    assert dumps(value, sort_keys=True) == expected.encode()


def test_timestamps_are_utc_with_z_and_dates_iso() -> None:
    moment = datetime(2019, 6, 10, 12, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    assert dumps({"at": moment, "on": date(2019, 6, 10)}) == (
        b'{"at":"2019-06-10T10:00:01Z","on":"2019-06-10"}'
    )


def test_what_json_cannot_say_is_refused() -> None:
    with pytest.raises(TypeError, match="set"):
        dumps({"x": {1}})
