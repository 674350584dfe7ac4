"""Swedish calendar rules: business days and when a decision gains legal force."""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = ZoneInfo("Europe/Stockholm")
APPEAL_PERIOD = timedelta(days=21)
"""KL 13:5: an appeal must reach the court within three weeks of the announcement."""


def today_in_stockholm(now: datetime) -> date:
    """The calendar date in Europe/Stockholm at the instant `now` (aware)."""
    return now.astimezone(STOCKHOLM).date()


@lru_cache(maxsize=64)
def _closed_days(year: int) -> frozenset[date]:
    public = holidays.country_holidays("SE", years=year, include_sundays=False)
    midsummer_eve = next(date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4)
    eves = {midsummer_eve, date(year, 12, 24), date(year, 12, 31)}
    return frozenset(public.keys()) | eves


def is_business_day(day: date) -> bool:
    """A weekday that is no public holiday, midsommarafton, julafton or nyårsafton."""
    return day.weekday() < 5 and day not in _closed_days(day.year)


def next_business_day(day: date) -> date:
    """`day` if it is a business day, else the first business day after it (lag 1930:173)."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def final_on(announced_on: date | None) -> date | None:
    """When a decision announced on `announced_on` gains legal force (laga kraft), or None."""
    if announced_on is None:
        return None
    return next_business_day(announced_on + APPEAL_PERIOD)
