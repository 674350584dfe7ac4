"""Server-rendered forms that stand for REST writes: their fields, checks and messages.

A form's fields are named as the REST body's (a dotted name for a nested
object: `document.title` is `{"document": {"title": ...}}`). What a person
posts becomes that body, is checked by the very schema the REST route uses,
and any complaint is shown next to the field it is about, in the page's
language: the schema's (a missing field, a malformed date), and the
command's, by its problem `code` (`forbidden_board`, `already_decided`, ...).
The values posted are kept, so nothing has to be typed again.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from api.errors import DOMAIN_ERRORS, ApiError
from api.ui.i18n import Words
from workflow.errors import DomainError

Kind = Literal["text", "date", "select", "textarea"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Field:
    """One field of a form, named as in the REST body."""

    name: str
    kind: Kind = "text"
    required: bool = False
    hint: str | None = None
    """The words key of a hint shown under the label (dates get theirs by themselves)."""
    max_length: int | None = None

    @property
    def id(self) -> str:
        """The input's id (`f-` and the name, a dot as a dash)."""
        return "f-" + self.name.replace(".", "-").replace("_", "-")

    def hint_key(self) -> str | None:
        """The words key of the hint, if any."""
        return self.hint or ("hint_date" if self.kind == "date" else None)


@dataclass(frozen=True)
class Choice:
    """One option of a select: the value posted and the words shown."""

    value: str
    label: str


@dataclass
class FormState:
    """A form as shown: its values, the complaints about them, the options of its selects."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    """A complaint about the form as a whole (the version's state, a stale form)."""
    choices: dict[str, list[Choice]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether there is anything to complain about."""
        return bool(self.errors or self.problem)


def body_of(fields: Sequence[Field], posted: Mapping[str, str]) -> dict[str, Any]:
    """The REST body a form's fields stand for: blank fields left out, dotted names nested."""
    body: dict[str, Any] = {}
    for f in fields:
        value = posted.get(f.name, "")
        if f.kind != "textarea":
            value = value.strip()
        if not value.strip():
            continue
        head, _, rest = f.name.partition(".")
        if rest:
            body.setdefault(head, {})[rest] = value
        else:
            body[f.name] = value
    return body


def kept(fields: Sequence[Field], posted: Mapping[str, str]) -> dict[str, str]:
    """The values to show again: what was posted for the form's own fields."""
    return {f.name: posted.get(f.name, "")[:5000] for f in fields}


def _message(error: Mapping[str, Any], words: Words) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing" or kind == "string_too_short":
        return words("form_required")
    if kind.startswith("date") or "ISO 8601" in str(error.get("msg", "")):
        return words("form_date")
    if kind == "string_too_long":
        return words("form_too_long", n=error.get("ctx", {}).get("max_length", "?"))
    if kind in ("enum", "literal_error"):
        return words("form_choice")
    if kind == "string_pattern_mismatch":
        return words("form_pattern")
    return words("form_invalid")


def schema_errors(
    exc: ValidationError, fields: Sequence[Field], words: Words
) -> tuple[dict[str, str], str | None]:
    """The schema's complaints by field name (dotted), and any that name no field."""
    names = {f.name for f in fields}
    errors: dict[str, str] = {}
    rest: list[str] = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error.get("loc", ()))
        if name in names:
            errors.setdefault(name, _message(error, words))
        else:
            rest.append(_message(error, words))
    return errors, (rest[0] if rest else None)


def validated(
    schema: type[M], fields: Sequence[Field], posted: Mapping[str, str], words: Words
) -> tuple[M | None, FormState]:
    """The REST body checked by the REST schema, or the state that says what is wrong."""
    state = FormState(values=kept(fields, posted))
    try:
        return schema.model_validate(body_of(fields, posted)), state
    except ValidationError as exc:
        state.errors, state.problem = schema_errors(exc, fields, words)
        return None, state


FIELD_OF_CODE = {
    "forbidden_board": "board_id",
    "already_decided": "board_id",
    "not_a_member": "board_id",
    "document_mismatch": "document_sha256",
    "already_exists": "label",
}
"""The field a command's refusal is about, by its problem code (when the form has it)."""


def problem_code(exc: DomainError | ApiError) -> tuple[int, str, str]:
    """The HTTP status, problem code and detail of a command's refusal (as the API's)."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.detail
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERRORS:
            status, code, _title = DOMAIN_ERRORS[cls]
            return status, code, str(exc)
    return 409, "conflict", str(exc)


def refused(
    exc: DomainError | ApiError, fields: Sequence[Field], state: FormState, words: Words
) -> int:
    """Put a command's refusal next to its field (or on the form); the page's status."""
    status, code, detail = problem_code(exc)
    names = {f.name for f in fields}
    name = FIELD_OF_CODE.get(code)
    if code == "validation_error":
        first = detail.replace(":", " ").split(" ", 1)[0]
        name = first if first in names else None
    if code == "idempotency_key_reused":
        message = words("form_stale")
    elif words.has(f"problem_{detail}"):
        message = words(f"problem_{detail}")
    elif words.has(f"problem_{code}"):
        message = words(f"problem_{code}")
    else:
        message = detail
    if name in names:
        state.errors[name] = message
    else:
        state.problem = f"{message} ({detail})" if message != detail else message
    return status
