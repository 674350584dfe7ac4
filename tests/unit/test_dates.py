"""Swedish business days, the last day to appeal, and when a decision gains legal force.

The last day to appeal (KL 13:5) is the 21st day after the announcement,
moved past a Saturday, Sunday, public holiday, midsommarafton, julafton or
nyårsafton (lag 1930:173); legal force (laga kraft) is the day after it. The
property tests check the implementation against the `holidays` package read
directly, day by day.
"""

from datetime import UTC, date, datetime, timedelta, timezone

import holidays
import pytest
from holidays.constants import DE_FACTO, PUBLIC
from hypothesis import given
from hypothesis import strategies as st

from workflow.dates import (
    APPEAL_PERIOD,
    appeal_is_late,
    appeal_until,
    final_on,
    is_business_day,
    late_announcement,
    next_business_day,
    today_in_stockholm,
)
from workflow.decisions import Decision
from workflow.states import Outcome

DAYS = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@pytest.mark.parametrize(
    ("announced_on", "expected"),
    [
        # an ordinary Monday three weeks on
        (date(2026, 11, 2), date(2026, 11, 23)),
        # lands on a Saturday / a Sunday: the Monday after
        (date(2026, 11, 7), date(2026, 11, 30)),
        (date(2026, 11, 8), date(2026, 11, 30)),
        # SUP 2035: lands on midsommarafton (Fri 2019-06-21), then the weekend
        (date(2019, 5, 31), date(2019, 6, 24)),
        (date(2026, 5, 29), date(2026, 6, 22)),
        # Easter 2024: långfredag, påskafton, påskdagen, annandag påsk
        (date(2024, 3, 8), date(2024, 4, 2)),
        # lands on annandag påsk 2025
        (date(2025, 3, 31), date(2025, 4, 22)),
        # julafton (Wed), juldagen (Thu), annandag jul (Fri) 2025, then the weekend
        (date(2025, 12, 3), date(2025, 12, 29)),
        (date(2025, 12, 4), date(2025, 12, 29)),
        (date(2025, 12, 5), date(2025, 12, 29)),
        # julafton on a Thursday (2026): Fri, Sat, Sun closed as well
        (date(2026, 12, 3), date(2026, 12, 28)),
        # julafton on a Monday (2029): closed until Thursday
        (date(2029, 12, 3), date(2029, 12, 27)),
        # nyårsafton (Wed) and nyårsdagen (Thu) 2025: into the next year
        (date(2025, 12, 10), date(2026, 1, 2)),
        (date(2025, 12, 11), date(2026, 1, 2)),
        # nyårsafton on a Thursday (2026): nyårsdagen Friday, then the weekend
        (date(2026, 12, 10), date(2027, 1, 4)),
        # trettondedag jul 2026 (Tue)
        (date(2025, 12, 16), date(2026, 1, 7)),
        # Sveriges nationaldag 2025 (Fri)
        (date(2025, 5, 16), date(2025, 6, 9)),
        # Kristi himmelfärdsdag 2026 (Thu)
        (date(2026, 4, 23), date(2026, 5, 15)),
        # första maj 2026 (Fri)
        (date(2026, 4, 10), date(2026, 5, 4)),
    ],
)
def test_appeal_until_examples(announced_on: date, expected: date) -> None:
    assert appeal_until(announced_on) == expected
    assert final_on(announced_on) == expected + timedelta(days=1)


@pytest.mark.parametrize(
    ("announced_on", "day_21", "last_day"),
    [
        # the 21st day is nyårsafton 2019 (Tue): nyårsdagen follows, so Thursday 2 January
        (date(2019, 12, 10), date(2019, 12, 31), date(2020, 1, 2)),
        # the 21st day is midsommarafton 2024 (Fri): then midsommardagen, Sunday: Monday
        (date(2024, 5, 31), date(2024, 6, 21), date(2024, 6, 24)),
        # the 21st day is a Saturday before a Monday holiday (annandag påsk 2026)
        (date(2026, 3, 14), date(2026, 4, 4), date(2026, 4, 7)),
        # the 21st day is långfredag 2025, Easter follows: Tuesday after annandag påsk
        (date(2025, 3, 28), date(2025, 4, 18), date(2025, 4, 22)),
        # the 21st day is julafton 2027 (Fri): juldagen Sat, Sunday: Monday 27 December
        (date(2027, 12, 3), date(2027, 12, 24), date(2027, 12, 27)),
    ],
)
def test_the_years_hard_cases(announced_on: date, day_21: date, last_day: date) -> None:
    assert announced_on + APPEAL_PERIOD == day_21
    assert not is_business_day(day_21)
    assert appeal_until(announced_on) == last_day
    assert final_on(announced_on) == last_day + timedelta(days=1)


def test_nothing_is_known_until_announced() -> None:
    assert appeal_until(None) is None
    assert final_on(None) is None


@pytest.mark.parametrize(
    ("attested", "announced", "late"),
    [
        (date(2019, 6, 12), date(2019, 6, 12), False),
        (date(2019, 6, 12), date(2019, 6, 14), False),  # two days after: in time (KL 8:12)
        (date(2019, 6, 11), date(2019, 6, 14), True),  # Tuesday's, on Friday
        (date(2019, 6, 14), date(2019, 6, 17), False),  # Friday's: Sunday moves to Monday
        (date(2019, 6, 14), date(2019, 6, 18), True),
        (None, date(2019, 6, 15), False),
        (date(2019, 6, 12), None, False),
    ],
)
def test_late_announcement(attested: date | None, announced: date | None, late: bool) -> None:
    assert late_announcement(attested, announced) is late


def test_an_appeal_is_late_after_the_last_day_and_never_before_the_announcement() -> None:
    announced = date(2019, 6, 17)
    last = appeal_until(announced)
    assert last == date(2019, 7, 8)
    assert not appeal_is_late(last, announced)
    assert appeal_is_late(last + timedelta(days=1), announced)
    assert not appeal_is_late(date(2030, 1, 1), None)  # the period has not begun


def test_appeal_period_is_three_weeks() -> None:
    assert timedelta(days=21) == APPEAL_PERIOD


def test_decision_final_on_follows_its_announcement() -> None:
    unannounced = Decision(
        id="d1",
        board_id="tyreso",
        outcome=Outcome.APPROVED,
        decided_on=date(2019, 5, 27),
        paragraph="§ 60",
        case_number="2019/KS 0260 005",
    )
    announced = Decision(
        id="d2",
        board_id="tyreso",
        outcome=Outcome.APPROVED,
        decided_on=date(2019, 5, 27),
        paragraph="§ 60",
        case_number="2019/KS 0260 005",
        announced_on=date(2019, 5, 31),
    )
    assert unannounced.final_on is None
    assert announced.appeal_until == date(2019, 6, 24)
    assert announced.final_on == date(2019, 6, 25)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 27), True),  # a Friday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2019, 6, 20), True),  # the Thursday before midsommarafton
        (date(2019, 6, 21), False),  # midsommarafton
        (date(2019, 6, 22), False),  # midsommardagen
        (date(2019, 6, 24), True),  # the Monday after
        (date(2024, 3, 28), True),  # skärtorsdag is a working day
        (date(2024, 3, 29), False),  # långfredag
        (date(2024, 4, 1), False),  # annandag påsk
        (date(2024, 4, 30), True),  # valborgsmässoafton is a working day
        (date(2024, 5, 1), False),  # första maj
        (date(2024, 5, 9), False),  # Kristi himmelfärdsdag
        (date(2024, 6, 6), False),  # nationaldagen
        (date(2024, 12, 23), True),
        (date(2024, 12, 24), False),  # julafton
        (date(2024, 12, 25), False),  # juldagen
        (date(2024, 12, 26), False),  # annandag jul
        (date(2024, 12, 27), True),
        (date(2024, 12, 30), True),
        (date(2024, 12, 31), False),  # nyårsafton
        (date(2025, 1, 1), False),  # nyårsdagen
        (date(2025, 1, 2), True),
        (date(2026, 1, 5), True),  # trettondagsafton is a working day
        (date(2026, 1, 6), False),  # trettondedag jul
    ],
)
def test_is_business_day(day: date, expected: bool) -> None:
    assert is_business_day(day) is expected


@pytest.mark.parametrize("year", range(2000, 2041))
def test_midsommarafton_julafton_and_nyarsafton_are_closed_every_year(year: int) -> None:
    fridays = [date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4]
    assert len(fridays) == 1
    midsommarafton = fridays[0]
    assert not is_business_day(midsommarafton)
    assert is_business_day(midsommarafton - timedelta(days=1))
    assert is_business_day(midsommarafton + timedelta(days=3))
    assert not is_business_day(date(year, 12, 24))
    assert not is_business_day(date(year, 12, 31))
    assert not is_business_day(date(year, 1, 1))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 27), date(2026, 11, 27)),  # a business day is its own answer
        (date(2026, 11, 28), date(2026, 11, 30)),
        (date(2026, 11, 29), date(2026, 11, 30)),
        (date(2019, 6, 21), date(2019, 6, 24)),
        (date(2024, 3, 29), date(2024, 4, 2)),
        (date(2024, 12, 24), date(2024, 12, 27)),
        (date(2024, 12, 31), date(2025, 1, 2)),
        (date(2029, 12, 22), date(2029, 12, 27)),
    ],
)
def test_next_business_day(day: date, expected: date) -> None:
    assert next_business_day(day) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 27, 9, 0, tzinfo=UTC), date(2026, 11, 27)),
        # 23:30 UTC is already tomorrow in Stockholm (CET, UTC+1) ...
        (datetime(2026, 11, 27, 23, 30, tzinfo=UTC), date(2026, 11, 28)),
        (datetime(2026, 11, 27, 22, 59, tzinfo=UTC), date(2026, 11, 27)),
        # ... and 22:30 UTC in summer (CEST, UTC+2)
        (datetime(2026, 6, 10, 22, 30, tzinfo=UTC), date(2026, 6, 11)),
        (datetime(2026, 6, 10, 21, 59, tzinfo=UTC), date(2026, 6, 10)),
        # any aware datetime, not only UTC
        (datetime(2026, 11, 27, 20, 0, tzinfo=timezone(timedelta(hours=-5))), date(2026, 11, 28)),
    ],
)
def test_today_in_stockholm(now: datetime, expected: date) -> None:
    assert today_in_stockholm(now) == expected


def _closed_by_the_holidays_package(day: date) -> bool:
    """Read straight from `holidays`: a weekend day, a public holiday or one of the eves."""
    closed = holidays.country_holidays("SE", years=day.year, categories=(PUBLIC, DE_FACTO))
    return day.weekday() >= 5 or day in closed


@given(DAYS)
def test_appeal_until_is_the_first_open_day_three_weeks_on(announced_on: date) -> None:
    result = appeal_until(announced_on)
    assert result is not None
    earliest = announced_on + timedelta(days=21)
    assert not _closed_by_the_holidays_package(result)
    assert earliest <= result < earliest + timedelta(days=7)
    day = earliest
    while day < result:
        assert _closed_by_the_holidays_package(day)
        day += timedelta(days=1)
    assert final_on(announced_on) == result + timedelta(days=1)


@given(DAYS)
def test_next_business_day_is_the_first_business_day_from(day: date) -> None:
    result = next_business_day(day)
    assert is_business_day(result)
    assert day <= result < day + timedelta(days=7)
    assert next_business_day(result) == result
    skipped = day
    while skipped < result:
        assert not is_business_day(skipped)
        skipped += timedelta(days=1)


@given(DAYS, st.sampled_from([5, 6]))
def test_weekends_are_never_business_days(day: date, weekday: int) -> None:
    weekend_day = day + timedelta(days=weekday - day.weekday())
    assert weekend_day.weekday() == weekday
    assert not is_business_day(weekend_day)
