"""The reminder policy: slots, the business-day 08:00 rule, coalescing, retry backoff."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.dates import STOCKHOLM, is_business_day
from workflow.reminders import (
    Plan,
    ReminderPolicy,
    Slot,
    offsets_after,
    plan,
    retry_delay,
    send_time,
    slot,
    slot_label,
)

DEFAULT = ReminderPolicy()
RESPOND_BY = date(2019, 6, 24)  # a Monday; three days before it is midsommarafton
SENT_OUT = datetime(2019, 5, 29, 9, 0, tzinfo=UTC)


def schedule(policy: ReminderPolicy, respond_by: date, until: datetime) -> list[Slot]:
    """Every slot that goes out at or before `until`."""
    slots: list[Slot] = []
    for offset in offsets_after(policy, None):
        candidate = slot(policy, respond_by, offset)
        if candidate.scheduled_for > until:
            break
        slots.append(candidate)
    return slots


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(day: date, hour: int = 8) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=STOCKHOLM).astimezone(UTC)


def test_the_default_policy_over_a_decision_period() -> None:
    slots = schedule(DEFAULT, RESPOND_BY, utc(2019, 7, 20))
    assert [(s.offset, s.scheduled_for) for s in slots] == [
        (-14, utc(2019, 6, 10, 6)),  # Monday 08:00 CEST
        (-3, utc(2019, 6, 24, 6)),  # midsommarafton (Fri) → Monday, the answer date itself
        (1, utc(2019, 6, 25, 6)),
        (8, utc(2019, 7, 2, 6)),
        (15, utc(2019, 7, 9, 6)),
        (22, utc(2019, 7, 16, 6)),
    ]
    assert [s.overdue for s in slots] == [False, False, True, True, True, True]


def test_christmas_and_new_year_move_to_the_next_business_day_at_eight_in_winter_time() -> None:
    respond_by = date(2019, 12, 27)  # Friday
    slots = {s.offset: s.scheduled_for for s in schedule(DEFAULT, respond_by, utc(2020, 1, 20))}
    assert slots[-14] == utc(2019, 12, 13, 7)  # Friday 08:00 CET
    assert slots[-3] == utc(2019, 12, 27, 7)  # julafton, juldagen, annandag jul → the 27th
    assert slots[1] == utc(2019, 12, 30, 7)  # Saturday → Monday
    assert slots[8] == utc(2020, 1, 7, 7)  # Saturday, Sunday, trettondedag jul → Tuesday


@pytest.mark.parametrize(
    ("nominal", "moved"),
    [
        (date(2019, 4, 19), date(2019, 4, 23)),  # långfredagen → after annandag påsk
        (date(2020, 12, 31), date(2021, 1, 4)),  # nyårsafton, nyårsdagen, weekend
        (date(2021, 6, 6), date(2021, 6, 7)),  # nationaldagen on a Sunday
        (date(2019, 5, 30), date(2019, 5, 31)),  # Kristi himmelsfärds dag
        (date(2019, 6, 11), date(2019, 6, 11)),  # a plain Tuesday stays
    ],
)
def test_closed_days_move_to_the_next_business_day(nominal: date, moved: date) -> None:
    assert send_time(nominal, 8) == local(moved)


def test_slots_before_the_send_out_are_not_reminders() -> None:
    sent_out = utc(2019, 6, 20, 12)  # after the −14 slot
    first = plan(DEFAULT, RESPOND_BY, sent_out, sent_out)
    assert first == Plan(send=None, coalesced=(), handled_through=-14, next=first.next)
    assert first.next == slot(DEFAULT, RESPOND_BY, -3)
    due = plan(DEFAULT, RESPOND_BY, sent_out, utc(2019, 6, 24, 6), first.handled_through)
    assert due.send == slot(DEFAULT, RESPOND_BY, -3)
    assert due.coalesced == ()


def test_missed_slots_coalesce_into_the_latest() -> None:
    after_downtime = plan(DEFAULT, RESPOND_BY, SENT_OUT, utc(2019, 7, 20, 12), handled_through=-14)
    assert after_downtime.send == slot(DEFAULT, RESPOND_BY, 22)
    assert [s.offset for s in after_downtime.coalesced] == [-3, 1, 8, 15]
    assert after_downtime.handled_through == 22
    assert after_downtime.next == slot(DEFAULT, RESPOND_BY, 29)


def test_a_sweep_that_is_early_or_repeated_does_nothing() -> None:
    early = plan(DEFAULT, RESPOND_BY, SENT_OUT, utc(2019, 6, 10, 5, 59), handled_through=None)
    assert (early.send, early.coalesced) == (None, ())
    assert early.next == slot(DEFAULT, RESPOND_BY, -14)
    done = plan(DEFAULT, RESPOND_BY, SENT_OUT, utc(2019, 6, 10, 6, 1), handled_through=-14)
    assert (done.send, done.coalesced) == (None, ())


def test_two_slots_moved_to_the_same_morning_send_one() -> None:
    policy = ReminderPolicy(offsets=(-3, 0), repeat_days=0)
    due = plan(policy, RESPOND_BY, SENT_OUT, utc(2019, 6, 24, 6))
    assert due.send is not None
    assert due.send.offset == 0
    assert [s.offset for s in due.coalesced] == [-3]
    assert due.next is None  # no repeats: nothing after the last offset


def test_policy_parsing() -> None:
    assert ReminderPolicy.parse(" 1, -14,-3 ") == DEFAULT
    assert ReminderPolicy.parse("-7", repeat_days=0, hour=9) == ReminderPolicy((-7,), 0, 9)
    for bad in ("", "x", "-3,,a"):
        with pytest.raises(ValueError, match="offset"):
            ReminderPolicy.parse(bad)
    with pytest.raises(ValueError, match="increasing"):
        ReminderPolicy((1, -3))
    with pytest.raises(ValueError, match="hour"):
        ReminderPolicy(hour=24)
    with pytest.raises(ValueError, match="repeat_days"):
        ReminderPolicy(repeat_days=-1)


def test_offsets_continue_every_repeat_interval() -> None:
    gen = offsets_after(DEFAULT, None)
    assert [next(gen) for _ in range(6)] == [-14, -3, 1, 8, 15, 22]
    gen = offsets_after(DEFAULT, 10)
    assert [next(gen) for _ in range(3)] == [15, 22, 29]
    assert list(offsets_after(ReminderPolicy((-3, 1), repeat_days=0), -3)) == [1]


def test_retry_backoff_doubles_up_to_the_cap() -> None:
    delays = [retry_delay(n, timedelta(minutes=30)) for n in range(1, 9)]
    assert [d.total_seconds() / 60 for d in delays] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert retry_delay(200) == timedelta(hours=1)
    with pytest.raises(ValueError, match="attempts"):
        retry_delay(0)


def test_slot_labels() -> None:
    assert [slot_label(o) for o in (-14, 0, 1)] == ["d-14", "d+0", "d+1"]


days = st.dates(min_value=date(2019, 1, 1), max_value=date(2035, 12, 31))
policies = st.builds(
    lambda offsets, repeat, hour: ReminderPolicy(tuple(sorted(offsets)), repeat, hour),
    st.sets(st.integers(-40, 20), min_size=1, max_size=5),
    st.integers(0, 14),
    st.integers(0, 23),
)


@given(days, st.integers(-60, 120), st.integers(0, 23))
def test_every_slot_goes_out_on_a_business_day_at_the_hour(
    respond_by: date, offset: int, hour: int
) -> None:
    at = slot(ReminderPolicy(hour=hour), respond_by, offset).scheduled_for.astimezone(STOCKHOLM)
    nominal = respond_by + timedelta(days=offset)
    assert is_business_day(at.date())
    assert (at.hour, at.minute) == (hour, 0)
    assert nominal <= at.date() <= nominal + timedelta(days=5)
    if is_business_day(nominal):
        assert at.date() == nominal


@given(policies, days)
def test_slots_never_go_backwards(policy: ReminderPolicy, respond_by: date) -> None:
    slots = schedule(policy, respond_by, local(respond_by + timedelta(days=120)))
    assert [s.offset for s in slots] == sorted({s.offset for s in slots})
    assert [s.scheduled_for for s in slots] == sorted(s.scheduled_for for s in slots)


@settings(max_examples=150, deadline=None)
@given(
    policies,
    days,
    st.integers(0, 50),
    st.lists(st.integers(1, 60 * 24 * 21), min_size=1, max_size=25),
)
def test_sweeping_at_any_times_sends_each_slot_at_most_once_and_loses_none(
    policy: ReminderPolicy, respond_by: date, lead_days: int, gaps_minutes: list[int]
) -> None:
    """Sweeps as the service runs them: only when the schedule says a slot is due."""
    sent_out = local(respond_by - timedelta(days=lead_days), 10)
    first = plan(policy, respond_by, sent_out, sent_out)
    cursor, next_due = first.handled_through, first.next
    sent: list[Slot] = []
    coalesced: list[Slot] = []
    now = sent_out
    for gap in gaps_minutes:
        now += timedelta(minutes=gap)
        if next_due is None or next_due.scheduled_for > now:
            continue
        step = plan(policy, respond_by, sent_out, now, cursor)
        assert step.send is not None  # the schedule said something was due
        assert sent_out < step.send.scheduled_for <= now
        assert all(c < step.send for c in step.coalesced)
        sent.append(step.send)
        coalesced.extend(step.coalesced)
        cursor, next_due = step.handled_through, step.next
        assert next_due is None or next_due.scheduled_for > now

    handled = [s.offset for s in sent + coalesced]
    assert len(handled) == len(set(handled)), "a slot was handled twice"
    assert [s.offset for s in sent] == sorted({s.offset for s in sent})
    if next_due is None or next_due.scheduled_for > now:
        expected = {
            s.offset for s in schedule(policy, respond_by, now) if s.scheduled_for > sent_out
        }
        assert set(handled) == expected, "a due slot was lost"


@settings(max_examples=100, deadline=None)
@given(policies, days, st.integers(0, 50))
def test_without_downtime_only_slots_sharing_a_morning_coalesce(
    policy: ReminderPolicy, respond_by: date, lead_days: int
) -> None:
    sent_out = local(respond_by - timedelta(days=lead_days), 10)
    step = plan(policy, respond_by, sent_out, sent_out)
    for _ in range(12):
        if step.next is None:
            break
        at = step.next.scheduled_for  # the sweep runs the minute the slot is due
        step = plan(policy, respond_by, sent_out, at, step.handled_through)
        assert step.send is not None
        assert step.send.scheduled_for == at
        assert all(c.scheduled_for == at for c in step.coalesced)
