"""Swedish calendar rules: business days, the appeal period and legal force.

A deadline that falls on a Saturday, Sunday, public holiday, midsommarafton,
julafton or nyårsafton moves to the next day that is none of those (lag
1930:173). Which days those are comes from the `holidays` package: its
Swedish public holidays and its "de facto" category, which is exactly the
three eves.
"""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from holidays.constants import DE_FACTO, PUBLIC

STOCKHOLM = ZoneInfo("Europe/Stockholm")
APPEAL_PERIOD = timedelta(days=21)
"""KL 13:5: an appeal must reach the court within three weeks of the announcement."""
ANNOUNCEMENT_DELAY = timedelta(days=2)
"""KL 8:12: the attestation of the minutes is announced at most two days after it."""


def today_in_stockholm(now: datetime) -> date:
    """The calendar date in Europe/Stockholm at the instant `now` (aware)."""
    return now.astimezone(STOCKHOLM).date()


@lru_cache(maxsize=64)
def _closed_days(year: int) -> frozenset[date]:
    closed = holidays.country_holidays(
        "SE", years=year, include_sundays=False, categories=(PUBLIC, DE_FACTO)
    )
    return frozenset(closed.keys())


def is_business_day(day: date) -> bool:
    """A weekday that is no public holiday, midsommarafton, julafton or nyårsafton."""
    return day.weekday() < 5 and day not in _closed_days(day.year)


def next_business_day(day: date) -> date:
    """`day` if it is a business day, else the first business day after it (lag 1930:173)."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def appeal_until(announced_on: date | None) -> date | None:
    """The last day to appeal a decision announced on `announced_on` (None until announced)."""
    if announced_on is None:
        return None
    return next_business_day(announced_on + APPEAL_PERIOD)


def final_on(announced_on: date | None) -> date | None:
    """The day a decision announced on `announced_on` gains legal force (laga kraft) when
    nobody appeals: the day after the last day to appeal (None until announced)."""
    last = appeal_until(announced_on)
    return None if last is None else last + timedelta(days=1)


def late_announcement(minutes_attested_on: date | None, announced_on: date | None) -> bool:
    """Whether the attestation was announced after the second day following it (KL 8:12),
    that day moved past a weekend or holiday like any deadline (lag 1930:173)."""
    if minutes_attested_on is None or announced_on is None:
        return False
    return announced_on > next_business_day(minutes_attested_on + ANNOUNCEMENT_DELAY)


def appeal_is_late(lodged_on: date, announced_on: date | None) -> bool:
    """Whether an appeal lodged on `lodged_on` came after the last day to appeal (one lodged
    before the announcement is in time)."""
    last = appeal_until(announced_on)
    return last is not None and lodged_on > last
