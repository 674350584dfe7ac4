"""Request and response bodies. Unknown fields are refused (422).

Request dates are ISO 8601 calendar dates (`2019-06-10`) and nothing else: no
numbers, no timestamps. Request text may not contain NUL (PostgreSQL cannot
store it), and no text is longer than its column. Single-line text (every
field but a decision's `note` and a withdrawal's `reason`) holds no control
character and no line or paragraph separator; multi-line text holds line
breaks but no other control character (`api/lines.py`).
"""

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from api.lines import CONTROLS, MULTI_LINE, SINGLE_LINE
from workflow.states import (
    AppealOutcome,
    BoardStatus,
    DecisionStatus,
    Outcome,
    VersionState,
)

SingleLine = Annotated[str, SINGLE_LINE]
"""One line of text: no control character, no line or paragraph separator (put length
constraints before the marker: `Annotated[str, StringConstraints(...), SINGLE_LINE]`)."""
MultiLine = Annotated[str, MULTI_LINE]
"""Text that may hold line breaks (LF, CR) but no other control character."""

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), SINGLE_LINE
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SINGLE_LINE
]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_NOT_IN_ADDRESS = rf"@\s{CONTROLS}"
Email = Annotated[
    str,
    StringConstraints(
        pattern=rf"^[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+\.[^{_NOT_IN_ADDRESS}]+$",
        max_length=320,
    ),
    SINGLE_LINE,
]
Url = Annotated[
    str, StringConstraints(pattern=rf"^https?://[^\s{CONTROLS}]+$", max_length=2000), SINGLE_LINE
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SINGLE_LINE
]
"""One line stored in a 200-character column."""
Ref = Annotated[str, StringConstraints(max_length=64), SINGLE_LINE]
"""The id of another resource (it must exist; the command says so when it does not)."""

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: Any) -> Any:
    """Let through `YYYY-MM-DD` strings (and dates, for Python callers) only."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be an ISO 8601 calendar date, YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _has_nul(value: Any) -> bool:
    """Whether any string in a JSON value, keys included, holds NUL (no recursion: any depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            stack += item
    return False


class In(BaseModel):
    """Base of request bodies: strict about unknown fields."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("text may not contain NUL (U+0000)")
        return data


class BoardIn(In):
    id: Slug
    municipality: Name
    name: Name
    municipality_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    email: Email


class Board(BoardIn):
    pass


class ProgramIn(In):
    id: Slug
    title: Text
    owner: Text
    boards: Annotated[list[Slug], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _no_duplicates(self) -> "ProgramIn":
        if len(set(self.boards)) != len(self.boards):
            raise ValueError("boards has duplicates")
        return self


class Program(BaseModel):
    id: str
    title: str
    owner: str
    boards: list[str]
    in_force_version_id: str | None
    public: bool = Field(description="shown on the public notice page `/public/programs/{id}`")


class Document(In):
    title: Text
    url: Url
    sha256: Sha256


class VersionIn(In):
    label: Name
    drafted_on: IsoDate
    valid_from: IsoDate
    valid_until: IsoDate | None = None
    replaces: Ref | None = None
    document: Document | None = None


class BoardStatusOut(BaseModel):
    board_id: str
    status: BoardStatus
    decided_on: date | None
    paragraph: str | None
    case_number: str | None
    recorded_by: str | None
    recorded_by_subject: str | None = None
    recorded_by_email: str | None = None
    recorded_at: datetime | None
    decision_id: str | None
    appeal_until: date | None
    final_on: date | None
    decision_status: DecisionStatus | None
    corrected: bool | None


class Version(BaseModel):
    id: str
    program_id: str
    label: str
    state: VersionState
    drafted_on: date
    valid_from: date
    valid_until: date | None
    replaces: str | None
    superseded_by: str | None
    sent_out_at: datetime | None
    respond_by: date | None
    in_force_from: date | None
    superseded_on: date | None
    final_on: date | None
    imported: bool
    document: Document | None
    boards: list[BoardStatusOut]


class SendOutIn(In):
    respond_by: IsoDate


class WithdrawIn(In):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), MULTI_LINE
    ]


class DecisionIn(In):
    board_id: Slug
    outcome: Outcome
    decided_on: IsoDate
    paragraph: ShortText
    case_number: ShortText
    document_sha256: Sha256 | None = None
    minutes_attested_on: IsoDate | None = None
    announced_on: IsoDate | None = None
    note: Annotated[str, StringConstraints(max_length=5000), MULTI_LINE] | None = None


class Appeal(BaseModel):
    id: str
    decision_id: str
    lodged_on: date
    court: str
    case_number: str
    late: bool
    outcome: AppealOutcome | None
    ruled_on: date | None
    ruling_final_on: date | None
    recorded_by: str
    recorded_at: datetime


class Correction(BaseModel):
    id: str
    decision_id: str
    changes: dict[str, dict[str, Any]]
    reason: str
    recorded_by: str
    recorded_at: datetime


class Decision(BaseModel):
    id: str
    version_id: str
    board_id: str
    outcome: Outcome
    decided_on: date
    paragraph: str
    case_number: str | None
    document_sha256: str | None
    minutes_attested_on: date | None
    announced_on: date | None
    note: str | None
    recorded_by: str
    recorded_by_subject: str | None = None
    recorded_by_email: str | None = None
    recorded_at: datetime
    appeal_until: date | None
    final_on: date | None
    status: DecisionStatus
    corrected: bool
    late_announcement: bool
    appeals: list[Appeal]
    corrections: list[Correction]
    version_state: VersionState


class AnnouncementIn(In):
    minutes_attested_on: IsoDate
    announced_on: IsoDate


class AppealIn(In):
    lodged_on: IsoDate
    court: Name
    case_number: ShortText


class RulingIn(In):
    outcome: AppealOutcome
    ruled_on: IsoDate
    ruling_final_on: IsoDate | None = None


class CorrectionIn(In):
    changes: Annotated[dict[str, Any], Field(min_length=1, max_length=20)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Correctable(In):
    """The values a correction may give (each optional; `changes` names those it gives)."""

    paragraph: ShortText | None = None
    case_number: ShortText | None = None
    decided_on: IsoDate | None = None
    minutes_attested_on: IsoDate | None = None
    announced_on: IsoDate | None = None
    note: Annotated[str, StringConstraints(max_length=5000)] | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
