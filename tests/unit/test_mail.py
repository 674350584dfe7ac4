"""The e-mails composed directly are the very text the `EmailMessage` gives."""

import dataclasses
import email
import email.policy
import string
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from notifications import mail
from workflow.events import EventType
from workflow.reminders import Slot

BOARD = mail.Addressee(
    "sodertalje", "Kommunstyrelsen", "Södertälje kommun", "kommunstyrelsen@sodertalje.example"
)
ABOUT = mail.About(
    program_id="sup",
    program_title="Gemensamt program för Södertörn med en ganska lång titel",
    version_id="a5d6e1f0-2035-4000-8000-000000002035",
    label="Version 2",
    respond_by=date(2031, 9, 15),
    document_url="https://example.org/program.pdf",
)
AT = datetime(2031, 9, 1, 6, 1, tzinfo=UTC)

# Swedish letters, punctuation the header parsers treat specially, quoted-printable's
# own "=", trailing blanks, and characters far outside Latin-1.
CHARS = string.ascii_letters + string.digits + " åäöÅÄÖé§=?_,;:.()<>\"'@\t\\-/€✓😀"
text = st.text(alphabet=CHARS, max_size=120)
ids = st.text(alphabet=string.ascii_lowercase + string.digits + "-_.", min_size=1, max_size=60)
addresses = st.builds(
    "{}@{}.example".format,
    st.text(alphabet=string.ascii_lowercase + string.digits + "._-", min_size=1, max_size=40),
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=20),
)
abouts = st.builds(
    mail.About,
    program_id=ids,
    program_title=text,
    version_id=ids,
    label=text,
    respond_by=st.dates(date(2020, 1, 1), date(2040, 12, 31)),
    document_url=st.none() | text,
)
addressees = st.builds(mail.Addressee, ids, text, text, addresses)
slots = st.builds(
    Slot,
    st.sampled_from([-14, -3, -1, 0, 1, 8, 15, 400]),
    st.datetimes(datetime(2020, 1, 1), datetime(2040, 12, 31), timezones=st.just(UTC)),
)


Parts = tuple[list[tuple[str, mail.HeaderValue]], str]


def _both(parts: Callable[[], Parts]) -> None:
    """`compose` gives what `wire(message(...))` gives for the same parts, or fails as it
    does."""
    try:
        expected = mail.wire(mail.message(*parts()))
    except Exception as exc:
        with pytest.raises(type(exc)):
            mail.compose(*parts())
        return
    assert mail.compose(*parts()) == expected


def test_a_reminder_composed_directly_is_the_email_message() -> None:
    slot = Slot(-14, datetime(2031, 9, 1, 6, tzinfo=UTC))
    expected = mail.wire(
        mail.message(*mail.reminder_parts(ABOUT, BOARD, slot, sender="ratify@localhost", at=AT))
    )
    for _ in range(2):  # and again, from what the first call remembered
        assert (
            mail.compose(*mail.reminder_parts(ABOUT, BOARD, slot, sender="ratify@localhost", at=AT))
            == expected
        )
    parsed = email.message_from_string(expected, policy=email.policy.default)
    assert str(parsed["Message-ID"]).strip() == (
        "<reminder-a5d6e1f0-2035-4000-8000-000000002035-sodertalje-d-14@ratify>"
    )
    assert "Södertälje" in str(parsed["To"])
    content = parsed.get_content()
    assert "nyckel för sodertalje" in content


def test_the_boards_of_one_version_get_their_own_message() -> None:
    slot = Slot(1, datetime(2031, 9, 16, 6, tzinfo=UTC))
    other = mail.Addressee("tyreso", "Kommunstyrelsen", "Tyresö kommun", "ks@tyreso.example")
    for to in (BOARD, other, BOARD):
        expected = mail.wire(
            mail.message(*mail.reminder_parts(ABOUT, to, slot, sender="r@example.org", at=AT))
        )
        assert (
            mail.compose(*mail.reminder_parts(ABOUT, to, slot, sender="r@example.org", at=AT))
            == expected
        )


@settings(max_examples=300, deadline=None)
@given(
    about=abouts,
    to=addressees,
    slot=slots,
    sender=addresses,
    at=st.datetimes(datetime(2020, 1, 1), datetime(2040, 12, 31), timezones=st.just(UTC)),
    public_url=st.none() | text,
)
@example(
    about=ABOUT,
    to=BOARD,
    slot=Slot(8, datetime(2031, 9, 23, 6, tzinfo=UTC)),
    sender="ratify@localhost",
    at=AT,
    public_url="https://ratify.example/" + "x" * 70,
)
@example(
    about=ABOUT,
    to=mail.Addressee("b", "Nämnd", "Kommun", "a@b.example"),
    slot=Slot(-3, AT + timedelta(days=11)),
    sender="ratify@localhost",
    at=AT,
    public_url="line one\nline two ",
)
def test_any_reminder_composed_directly_is_the_email_message(
    about: mail.About,
    to: mail.Addressee,
    slot: Slot,
    sender: str,
    at: datetime,
    public_url: str | None,
) -> None:
    _both(lambda: mail.reminder_parts(about, to, slot, sender=sender, at=at, public_url=public_url))


@pytest.mark.parametrize("length", range(1, 120))
def test_a_message_id_of_any_length_is_folded_as_email_folds_it(length: int) -> None:
    for key in ("r" * length, ("reminder-" + "ab.c-" * 30)[:length].strip(".")):
        value = mail.message_id(key)
        expected = mail._fold("Message-ID", value)
        assert mail._fold_message_id(value) == expected
        assert expected.endswith(f"{value}\r\n")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + '._+-@<> "', max_size=90))
def test_any_message_id_is_folded_as_email_folds_it(key: str) -> None:
    try:
        expected = mail._fold("Message-ID", mail.message_id(key))
    except Exception as exc:
        with pytest.raises(type(exc)):
            mail._fold_message_id(mail.message_id(key))
        return
    assert mail._fold_message_id(mail.message_id(key)) == expected


NOTICES = [
    EventType.VERSION_SENT_OUT,
    EventType.VERSION_IN_FORCE,
    EventType.VERSION_REOPENED,
    EventType.VERSION_REJECTED,
]
notice_data = st.fixed_dictionaries(
    {
        "in_force_from": st.dates(date(2020, 1, 1), date(2040, 12, 31)).map(date.isoformat),
        "replaces": st.none() | ids,
        "outcome": st.sampled_from(["rejected", "amended", "something new"]),
    },
    optional={"board": text},
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(NOTICES),
    about=abouts | st.builds(dataclasses.replace, abouts, respond_by=st.none()),
    to=addressees,
    key=ids,
    sender=addresses,
    at=st.datetimes(datetime(2020, 1, 1), datetime(2040, 12, 31), timezones=st.just(UTC)),
    data=notice_data,
    public_url=st.none() | text,
)
def test_any_notice_composed_directly_is_the_email_message(
    kind: EventType,
    about: mail.About,
    to: mail.Addressee,
    key: str,
    sender: str,
    at: datetime,
    data: dict[str, object],
    public_url: str | None,
) -> None:
    _both(
        lambda: mail.notice_parts(
            kind, about, to, key=key, sender=sender, at=at, data=data, public_url=public_url
        )
    )


def test_the_notice_of_entry_into_force_reads_as_one() -> None:
    data: dict[str, object] = {"in_force_from": "2031-10-01", "replaces": "old"}
    parts = mail.notice_parts(
        EventType.VERSION_IN_FORCE,
        ABOUT,
        BOARD,
        key="in-force-v-sodertalje",
        sender="ratify@localhost",
        at=AT,
        data=data,
    )
    parsed = email.message_from_string(mail.compose(*parts), policy=email.policy.default)
    assert str(parsed["Message-ID"]).strip() == "<in-force-v-sodertalje@ratify>"
    assert "gäller från" in str(parsed["Subject"])
    assert "ersätter den tidigare versionen" in parsed.get_content()
