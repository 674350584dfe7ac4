"""A program's deadlines as an RFC 5545 calendar (the `icalendar` package writes it).

One all-day entry per deadline (`workflow.deadlines`): the dates are
Europe/Stockholm calendar dates, written as DATE values (an all-day entry
has no time zone; `X-WR-TIMEZONE` names the one they belong to). Entries
carry stable UIDs, a SEQUENCE that only grows and a DTSTAMP taken from the
audit trail, so the same state of the program gives the same bytes.
Summaries are Swedish with the English in brackets: a calendar has no
language switch.
"""

from datetime import timedelta

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from workflow.deadlines import Deadline, DeadlineKind

MEDIA_TYPE = "text/calendar; charset=utf-8"

_WHAT = {
    DeadlineKind.RESPOND_BY: ("sista dag för kommunernas beslut", "answers due"),
    DeadlineKind.APPEAL_UNTIL: ("sista dag att överklaga", "last day to appeal"),
    DeadlineKind.DECISION_FINAL: ("beslutet vinner laga kraft", "the decision gains legal force"),
    DeadlineKind.VERSION_FINAL: ("programmet vinner laga kraft", "the program gains legal force"),
}


def summary(deadline: Deadline) -> str:
    """The entry's title, e.g. `Tyresö kommun § 60, SUP 2035: sista dag att överklaga
    (last day to appeal)`."""
    sv, en = _WHAT[deadline.kind]
    about = deadline.version_label
    if deadline.decision is not None:
        about = f"{deadline.decision.municipality} {deadline.decision.paragraph}, {about}"
    return f"{about}: {sv} ({en})"


def description(deadline: Deadline, program_title: str) -> str:
    """The entry's details: the program, and the decision's diarienummer."""
    lines = [f"{program_title}: {deadline.version_label}"]
    decision = deadline.decision
    if decision is not None:
        lines.append(f"{decision.municipality}, {decision.paragraph}")
        if decision.case_number:
            lines.append(f"Diarienummer (case number): {decision.case_number}")
    return "\n".join(lines)


def calendar(program_id: str, program_title: str, deadlines: list[Deadline]) -> bytes:
    """The deadlines as an iCalendar document."""
    cal = Calendar()
    cal.add("prodid", "-//ratify//deadlines//SV")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{program_title} – ratify")
    cal.add("x-wr-timezone", "Europe/Stockholm")
    for deadline in deadlines:
        entry = CalendarEvent()
        entry.add("uid", deadline.uid)
        entry.add("dtstamp", deadline.stamp)
        entry.add("last-modified", deadline.stamp)
        entry.add("sequence", deadline.sequence)
        entry.add("dtstart", deadline.day)
        entry.add("dtend", deadline.day + timedelta(days=1))
        entry.add("summary", summary(deadline))
        entry.add("description", description(deadline, program_title))
        entry.add("categories", [deadline.kind.value, program_id])
        entry.add("transp", "TRANSPARENT")
        cal.add_component(entry)
    return bytes(cal.to_ical())
