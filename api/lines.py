"""Text fields that hold one line, or lines, and never control characters.

A version label or a program title becomes part of an e-mail's Subject; a
CR, LF or U+2028 there once made every send-out of that version fail. Such
text is refused where it enters, at the schema (422 `validation_error`):

- `SINGLE_LINE` (labels, titles, names, §, diarienummer, …): no C0 or C1
  control character (tab, CR and LF included), no U+2028 LINE SEPARATOR or
  U+2029 PARAGRAPH SEPARATOR;
- `MULTI_LINE` (a decision's `note`, a withdrawal's `reason`): the same,
  except that LF and CR are allowed.

Both are `Annotated` metadata: put them after any `StringConstraints`, so
the value is checked after its whitespace is stripped. The OpenAPI schema
shows the rule as a `pattern` (unless the field has its own pattern, which
then excludes the same characters itself).
"""

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
"""Every C0 and C1 control character and the two Unicode line/paragraph separators."""
CONTROLS_BUT_NEWLINES = r"\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029"
"""The same, except LF (U+000A) and CR (U+000D)."""


@dataclass(frozen=True)
class NoControls:
    """Pydantic metadata: refuse the characters of `excluded` (a regex character range)."""

    excluded: str
    what: str

    def check(self, value: str) -> str:
        """`value` unchanged, or a validation error naming the first character refused."""
        found = re.search(f"[{self.excluded}]", value)  # compiled once, by re's cache
        if found is not None:
            raise PydanticCustomError(
                "control_character",
                "must be {what} without control characters (found U+{code})",
                {"what": self.what, "code": f"{ord(found.group()):04X}"},
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """The inner schema, then `check`."""
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The inner JSON schema with the rule as a `pattern` (a field's own pattern wins)."""
        json_schema = handler(schema)
        json_schema.setdefault("pattern", f"^[^{self.excluded}]*$")
        return json_schema


SINGLE_LINE = NoControls(CONTROLS, "one line")
MULTI_LINE = NoControls(CONTROLS_BUT_NEWLINES, "text")
