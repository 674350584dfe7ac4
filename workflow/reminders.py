"""When to remind a board that has not decided: the reminder policy, as pure functions.

A policy is a list of offsets in days from the answer date (`respond_by`),
e.g. −14, −3, +1, then one more slot every `repeat_days` after the last
offset for as long as the board is overdue. Each slot is named by its
nominal offset (`slot` −14, −3, 1, 8, 15, …): that name is the reminder's
key, so it stays the same however often the sweep looks at it.

A slot goes out at `hour` o'clock Europe/Stockholm on its day, or, when that
day is a Saturday, Sunday, public holiday, midsommarafton, julafton or
nyårsafton, at the same hour on the next business day.

Coalescing: a sweep that finds several slots due at once (the service was
down, or two slots moved to the same business day) sends only the latest
one; the older ones are recorded as coalesced and never sent. Slots that fell
before the version was sent out are not reminders at all (the send-out
e-mail was the message).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from workflow.dates import STOCKHOLM, next_business_day


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    """Offsets (days from `respond_by`), the overdue repeat interval and the hour of day."""

    offsets: tuple[int, ...] = (-14, -3, 1)
    repeat_days: int = 7
    hour: int = 8

    def __post_init__(self) -> None:
        if not self.offsets:
            raise ValueError("a reminder policy needs at least one offset")
        if list(self.offsets) != sorted(set(self.offsets)):
            raise ValueError("reminder offsets must be distinct and in increasing order")
        if self.repeat_days < 0:
            raise ValueError("repeat_days must be 0 (no repeats) or more")
        if not 0 <= self.hour <= 23:
            raise ValueError("hour must be 0 to 23")

    @classmethod
    def parse(cls, offsets: str, repeat_days: int = 7, hour: int = 8) -> "ReminderPolicy":
        """A policy from a comma-separated offset list such as `"-14,-3,1"` (any order)."""
        try:
            values = sorted({int(part) for part in offsets.split(",") if part.strip()})
        except ValueError:
            raise ValueError(f"reminder offsets must be whole days, not {offsets!r}") from None
        return cls(tuple(values), repeat_days, hour)


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One reminder slot: its nominal offset (the key) and the instant it goes out (UTC)."""

    offset: int
    scheduled_for: datetime

    @property
    def overdue(self) -> bool:
        """True for slots after the answer date."""
        return self.offset > 0


@dataclass(frozen=True, slots=True)
class Plan:
    """What one sweep does for one board on one version.

    `send` is the single reminder to queue (or None), `coalesced` the older
    due slots passed over, `handled_through` the last slot offset this plan
    accounts for (the cursor for the next sweep) and `next` the first slot
    still to come, when the sweep should look again (None: never).
    """

    send: Slot | None
    coalesced: tuple[Slot, ...]
    handled_through: int | None
    next: Slot | None


def send_time(day: date, hour: int) -> datetime:
    """`hour`:00 Europe/Stockholm on the first business day on or after `day`, in UTC."""
    local = datetime.combine(next_business_day(day), time(hour), tzinfo=STOCKHOLM)
    return local.astimezone(UTC)


def offsets_after(policy: ReminderPolicy, after: int | None) -> Iterator[int]:
    """Every slot offset greater than `after` (all of them when None), ascending.

    Without repeats the sequence ends with the last offset; with repeats it
    never ends, so callers stop when the slots pass the instant they care about.
    """
    for offset in policy.offsets:
        if after is None or offset > after:
            yield offset
    if policy.repeat_days == 0:
        return
    last = policy.offsets[-1]
    k = 1 if after is None or after < last else (after - last) // policy.repeat_days + 1
    while True:
        yield last + k * policy.repeat_days
        k += 1


def slot(policy: ReminderPolicy, respond_by: date, offset: int) -> Slot:
    """The slot at `offset` days from `respond_by`, moved to a business day."""
    return Slot(offset, send_time(respond_by + timedelta(days=offset), policy.hour))


def plan(
    policy: ReminderPolicy,
    respond_by: date,
    sent_out_at: datetime,
    now: datetime,
    handled_through: int | None = None,
) -> Plan:
    """What is due at `now` for a board still to decide, given the slots already handled.

    Slots at or before `sent_out_at` are passed over silently; of the slots
    after it, due by `now` and after `handled_through`, the latest is sent
    and the others are coalesced.
    """
    due: list[Slot] = []
    last = handled_through
    upcoming = None
    for offset in offsets_after(policy, handled_through):
        candidate = slot(policy, respond_by, offset)
        if candidate.scheduled_for > now:
            upcoming = candidate
            break
        last = offset
        if candidate.scheduled_for > sent_out_at:
            due.append(candidate)
    return Plan(
        send=due[-1] if due else None,
        coalesced=tuple(due[:-1]),
        handled_through=last,
        next=upcoming,
    )


def retry_delay(attempts: int, cap: timedelta = timedelta(hours=1)) -> timedelta:
    """How long to wait after the `attempts`-th failed delivery: 1, 2, 4 … minutes, capped."""
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    return min(timedelta(minutes=2 ** min(attempts - 1, 30)), cap)


def slot_label(offset: int) -> str:
    """A slot's name in keys and Message-IDs: `d-14`, `d+1`."""
    return f"d{offset:+d}"
