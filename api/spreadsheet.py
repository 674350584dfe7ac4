"""CSV cells a spreadsheet cannot mistake for a formula (OWASP's rule on CSV injection).

Registrars open ratify's CSV files in Excel or LibreOffice, which evaluate a
cell that starts with `=`, `+`, `-` or `@` (and, after a tab or carriage
return, what follows) as a formula: `=HYPERLINK(...)` leaks data,
`+1+cmd|' /C calc'!A0` runs a program. Every CSV ratify writes builds its
cells with `csv_cell`, which puts a single quote before such text: the
spreadsheet shows the text as typed (the quote is a text marker there), and
a program reading the file sees the quote and can strip it.

Numbers stay numbers: `seq` and the other integers of the exports are never
text, so a negative one (there are none today) would be written as is. Text
that merely looks like a negative number ("-3") is a text cell and gets the
quote, as OWASP advises; ratify has no numeric text fields, so nothing real
is lost.
"""

import json
from datetime import date, datetime

from api.encoding import dumps

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP's list)."""


def text_cell(text: str) -> str:
    """`text` as a CSV cell: quoted with `'` when a spreadsheet would evaluate it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: object) -> str | int:
    """Any value as a CSV cell: empty for null, JSON for structures, the contract's dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return text_cell(value)
    if isinstance(value, dict | list):
        return text_cell(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, datetime | date):
        return dumps(value).decode().strip('"')
    return text_cell(str(value))
