"""The e-mails, in Swedish: reminders to boards that have not decided, and notices.

Every message is a real `EmailMessage` with a stable `Message-ID` built from
its outbox key (`<reminder-{version}-{board}-d+1@ratify>`), so a retry sends
the very same message and the receiving side can tell duplicates apart.
Messages are stored in the outbox in wire form (CRLF, ASCII: headers
RFC 2047-encoded, the body quoted-printable).

The sweep queues thousands of reminders at once, and a version's entry into
force queues a notice to each member board inside the deciding request, so
`compose` writes that wire form from a message's parts without building an
`EmailMessage`: the same headers, each folded by the `email` package's own
header classes, and the body encoded by its own quoted-printable encoder,
line by line. Both are remembered (a header by its name and value, a body
line by its bytes), and the boards of one version share all but a few of
them, so a message mostly costs dictionary look-ups. The result is the very
text `wire(message(...))` gives for the same parts (tests/unit/test_mail.py
compares the two).
"""

import email.policy
import re
from dataclasses import dataclass
from datetime import date, datetime
from email import quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache

from workflow.dates import STOCKHOLM, today_in_stockholm
from workflow.events import EventType
from workflow.reminders import Slot, slot_label

MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)
WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MESSAGE_ID_DOMAIN = "ratify"

OUTCOMES_SV = {
    "approved": "godkänt",
    "rejected": "avslagit",
    "amended": "antagit med ändring",
    "referred_back": "återremitterat",
    "tabled": "bordlagt",
}


@dataclass(frozen=True, slots=True)
class About:
    """The version a message is about."""

    program_id: str
    program_title: str
    version_id: str
    label: str
    respond_by: date | None
    document_url: str | None = None


@dataclass(frozen=True, slots=True)
class Addressee:
    """A board and the address its secretary reads."""

    board_id: str
    name: str
    municipality: str
    email: str


def swedish_date(day: date) -> str:
    """`måndag 24 juni 2019`."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def reminder_key(version_id: str, board_id: str, offset: int) -> str:
    """The outbox key of one reminder slot."""
    return f"reminder-{version_id}-{board_id}-{slot_label(offset)}"


def notice_key(event_type: EventType, version_id: str, board_id: str, occurrence: int = 1) -> str:
    """The outbox key of the notice a version's event sends one board (`in-force-…`); an
    event that happens again to the version (a second entry into force) is numbered."""
    what = event_type.value.split(".", 1)[1].replace("_", "-")
    return f"{what}-{version_id}-{board_id}" + (f"-{occurrence}" if occurrence > 1 else "")


def message_id(key: str) -> str:
    """The stable Message-ID of the e-mail with outbox key `key`."""
    return f"<{key}@{MESSAGE_ID_DOMAIN}>"


def wire(message: EmailMessage) -> str:
    """The message as it goes over SMTP: CRLF line ends, ASCII only."""
    return message.as_bytes(policy=email.policy.SMTP).decode("ascii")


def _how_to_record(about: About, to: Addressee, public_url: str | None) -> str:
    base = (public_url or "").rstrip("/")
    return (
        "Så registrerar ni beslutet\n"
        "Kommunens ärendehanteringssystem registrerar nämndens beslut i ratify med en\n"
        f"nyckel för {to.board_id}:\n\n"
        f"    POST {base}/v1/versions/{about.version_id}/decisions\n\n"
        f'med board_id "{to.board_id}", outcome (approved, rejected, amended,\n'
        "referred_back eller tabled), decided_on (sammanträdesdatum), paragraph (§)\n"
        "och case_number (diarienummer). Vid återremiss (referred_back) eller\n"
        "bordläggning (tabled) fortsätter påminnelserna tills nämnden har beslutat.\n"
    )


def _footer(about: About, extra: str) -> str:
    lines = ["", "--", extra, f"Program: {about.program_id}", f"Version-id: {about.version_id}"]
    if about.document_url:
        lines.append(f"Dokument: {about.document_url}")
    return "\n".join(lines) + "\n"


HeaderValue = str | tuple[str, str]
"""A header's value: text, or an address as (display name, address)."""

BODY_CHARSET = "utf-8"
BODY_CTE = "quoted-printable"
SET_CONTENT_HEADERS: tuple[tuple[str, HeaderValue], ...] = (
    ("Content-Type", f'text/plain; charset="{BODY_CHARSET}"'),
    ("Content-Transfer-Encoding", BODY_CTE),
    ("MIME-Version", "1.0"),
)
"""What `EmailMessage.set_content(body, charset=BODY_CHARSET, cte=BODY_CTE)` adds, in order."""
LANGUAGE = ("Content-Language", "sv")


def _headers(
    *, key: str, kind: str, subject: str, about: About, to: Addressee, sender: str, at: datetime
) -> list[tuple[str, HeaderValue]]:
    """A message's own headers, in order (the content headers follow them)."""
    return [
        ("From", ("ratify", sender)),
        ("To", (one_line(f"{to.name}, {to.municipality}"), to.email)),
        ("Subject", one_line(subject)),
        ("Date", _date(at)),
        ("Message-ID", message_id(key)),
        ("Auto-Submitted", "auto-generated"),
        ("X-Ratify-Kind", kind),
        ("X-Ratify-Version", about.version_id),
        ("X-Ratify-Board", to.board_id),
    ]


_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` with any run of control characters or line separators made one space.

    The API refuses them in labels, titles and names; this keeps a row stored
    before it did from making every e-mail about it fail (a header may not
    hold a line break).
    """
    return _LINE_BREAKING.sub(" ", text)


@lru_cache(maxsize=256)
def _date(at: datetime) -> str:
    """The Date header's value: `at` in Stockholm time (the sweep's messages share one)."""
    return format_datetime(at.astimezone(STOCKHOLM))


def _header_object(value: HeaderValue) -> str | Address:
    if isinstance(value, tuple):
        return Address(value[0], addr_spec=value[1])
    return value


def message(headers: list[tuple[str, HeaderValue]], body: str) -> EmailMessage:
    """An `EmailMessage` of `headers` (in order) and a quoted-printable UTF-8 `body`."""
    message = EmailMessage()
    for name, value in headers:
        message[name] = _header_object(value)
    message.set_content(body, charset=BODY_CHARSET, cte=BODY_CTE)
    message[LANGUAGE[0]] = LANGUAGE[1]  # after set_content, which drops Content-* headers
    return message


def _fold(name: str, value: HeaderValue) -> str:
    """One header as `wire` writes it: `email.policy.SMTP` folding, CRLF.

    The header object is the one `EmailMessage` stores (the default policy's,
    which also refuses a value with a line break), folded as `as_bytes` does.
    """
    _, header = email.policy.default.header_store_parse(name, _header_object(value))
    folded: str = header.fold(policy=email.policy.SMTP)
    return folded


_fold_shared = lru_cache(maxsize=2048)(_fold)
"""`_fold` for the headers that repeat from one message to the next."""


@lru_cache(maxsize=8192)
def _body_line(line: bytes) -> str:
    """One line of the body, quoted-printable as `set_content` encodes it, with CRLFs.

    The encoder works line by line (a line's soft breaks depend on that line
    alone), so the body is the concatenation of its lines' encodings.
    """
    width = email.policy.default.max_line_length
    assert width is not None  # 78
    return quoprimime.body_encode(line.decode("latin-1") + "\n", width, "\r\n")


_PLAIN_MESSAGE_ID = re.compile(
    rf"<[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@{re.escape(MESSAGE_ID_DOMAIN)}>"
)
"""A Message-ID as `message_id` makes them from ratify's keys: a dot-atom, no quoting."""


def _fold_message_id(value: HeaderValue) -> str:
    """The Message-ID header, which differs in every message.

    A plain one (the sweep's, always) is folded here as `email` folds it:
    after `Message-ID: ` when it fits in a line of 78, else alone on the
    continuation line (the `email` package moves the blank there); any
    other goes through `_fold`.
    """
    if isinstance(value, str) and _PLAIN_MESSAGE_ID.fullmatch(value):
        if len(value) <= 78 - len("Message-ID: "):
            return f"Message-ID: {value}\r\n"
        if len(value) <= 78 - len(" "):
            return f"Message-ID:\r\n {value}\r\n"
    return _fold("Message-ID", value)


def compose(headers: list[tuple[str, HeaderValue]], body: str) -> str:
    """`wire(message(headers, body))`, without building the message (see the module's
    docstring): `compose(*reminder_parts(...))`, `compose(*notice_parts(...))`."""
    parts = [
        _fold_message_id(value) if name == "Message-ID" else _fold_shared(name, value)
        for name, value in (*headers, *SET_CONTENT_HEADERS, LANGUAGE)
    ]
    parts.append("\r\n")
    parts.extend(_body_line(line) for line in body.encode(BODY_CHARSET).splitlines())
    return "".join(parts)


def reminder_parts(
    about: About,
    to: Addressee,
    slot: Slot,
    *,
    sender: str,
    at: datetime,
    public_url: str | None = None,
) -> tuple[list[tuple[str, HeaderValue]], str]:
    """The headers and body of the reminder for one slot to a board that has not decided."""
    if about.respond_by is None:
        raise ValueError("a reminder needs the version's answer date")
    answer = swedish_date(about.respond_by)
    what = f"{about.label} ({about.program_title})"
    if slot.overdue:
        subject = f"Påminnelse: beslut om {what} saknas, svarsdatum var {answer}"
        when = (
            f"Svarsdatumet var {answer} och vi har ännu inte fått något beslut från\n"
            f"{to.name}, {to.municipality}. Registrera beslutet så snart nämnden har beslutat."
        )
    else:
        days = (about.respond_by - today_in_stockholm(slot.scheduled_for)).days
        left = "i dag" if days == 0 else ("i morgon" if days == 1 else f"om {days} dagar")
        subject = f"Påminnelse: beslut om {what} senast {answer}"
        when = (
            f"Svar begärs senast {answer}, {left}. Vi har ännu inte fått något beslut från\n"
            f"{to.name}, {to.municipality}."
        )
    body = (
        f"Till {to.name}, {to.municipality}\n\n"
        f"{about.program_title}, version {about.label}, är utskickad för beslut till\n"
        "nämnderna i programmets alla medlemskommuner. Versionen gäller först när\n"
        "samtliga har godkänt den.\n\n"
        f"{when}\n\n"
        f"{_how_to_record(about, to, public_url)}"
        + _footer(
            about,
            "Detta är en automatisk påminnelse från ratify till nämnder som ännu inte\n"
            f"har beslutat. Påminnelse {slot_label(slot.offset)} i förhållande till svarsdatumet.",
        )
    )
    headers = _headers(
        key=reminder_key(about.version_id, to.board_id, slot.offset),
        kind="reminder",
        subject=subject,
        about=about,
        to=to,
        sender=sender,
        at=at,
    )
    return headers, body


def notice_parts(
    event_type: EventType,
    about: About,
    to: Addressee,
    *,
    key: str,
    sender: str,
    at: datetime,
    data: dict[str, object],
    public_url: str | None = None,
) -> tuple[list[tuple[str, HeaderValue]], str]:
    """The headers and body of the e-mail to a member board when a version is sent out (or
    out again after a court annulled a decision), enters into force or falls; `key` is its
    outbox key."""
    what = f"{about.label} ({about.program_title})"
    if event_type is EventType.VERSION_SENT_OUT:
        answer = swedish_date(about.respond_by) if about.respond_by else "snarast"
        subject = f"För beslut: {what}, svar senast {answer}"
        text = (
            f"{about.program_title}, version {about.label}, är nu utskickad för beslut till\n"
            "nämnderna i programmets alla medlemskommuner. Versionen gäller först när\n"
            f"samtliga har godkänt den. Svar begärs senast {answer}.\n\n"
            f"{_how_to_record(about, to, public_url)}"
        )
    elif event_type is EventType.VERSION_IN_FORCE:
        start = date.fromisoformat(str(data["in_force_from"]))
        subject = f"{what} gäller från {swedish_date(start)}"
        text = (
            f"Samtliga medlemskommuners nämnder har godkänt {about.program_title},\n"
            f"version {about.label}. Versionen gäller från {swedish_date(start)}"
            + (" och ersätter den tidigare versionen.\n" if data.get("replaces") else ".\n")
        )
    elif event_type is EventType.VERSION_REOPENED:
        board = data.get("board") or "en medlemskommuns nämnd"
        answer = swedish_date(about.respond_by) if about.respond_by else "snarast"
        subject = f"Åter för beslut: {what}"
        text = (
            f"{about.program_title}, version {about.label}, är åter utskickad för beslut:\n"
            f"domstolen har upphävt beslutet från {board}. Versionen gäller\n"
            "först när samtliga medlemskommuners nämnder har godkänt den. Nämnder som\n"
            f"redan har beslutat behöver inte besluta igen. Svar begärdes senast {answer}.\n\n"
            f"{_how_to_record(about, to, public_url)}"
        )
    elif event_type is EventType.VERSION_REJECTED:
        outcome = OUTCOMES_SV.get(str(data.get("outcome")), str(data.get("outcome")))
        board = data.get("board") or "en medlemskommuns nämnd"
        subject = f"{what} kan inte träda i kraft"
        text = (
            f"{about.program_title}, version {about.label}, kan inte träda i kraft:\n"
            f"{board} har {outcome} den. Ett beslut som inte godkänner\n"
            "samma text räknas som avslag. Inga fler beslut behövs om denna version.\n"
        )
    else:
        raise ValueError(f"no notice for {event_type}")
    body = (
        f"Till {to.name}, {to.municipality}\n\n"
        + text
        + _footer(about, "Detta är ett automatiskt meddelande från ratify.")
    )
    headers = _headers(
        key=key,
        kind=event_type,
        subject=subject,
        about=about,
        to=to,
        sender=sender,
        at=at,
    )
    return headers, body
