"""Spectral's OpenAPI rules (`.spectral.yaml`: spectral:oas) and `openapi-spec-validator` on the
service's `/openapi.json`: no errors, and no warnings either.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from api.app import create_app
from db.engine import open_database
from tests import databases
from tests.node_tools import ROOT, node, node_module

ERROR, WARNING = 0, 1  # Spectral's severities (then 2 info, 3 hint)


@pytest.fixture(scope="module")
def schema(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The schema that `create_app` serves."""
    folder = tmp_path_factory.mktemp("served")
    db = open_database(databases.fresh_sqlite(sqlite_template, folder))
    try:
        served: dict[str, Any] = create_app(db).openapi()
    finally:
        db.dispose()
    return served


@pytest.fixture(scope="module")
def findings(
    schema: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """What Spectral says about the schema that `create_app` serves."""
    node()  # the spectral script runs under node
    spectral = node_module(".bin/spectral")
    folder = tmp_path_factory.mktemp("spectral")
    path = folder / "openapi.json"
    # Indented, so the line numbers Spectral reports point somewhere readable.
    path.write_text(json.dumps(schema, indent=2), encoding="utf-8")
    lint = ["lint", "--ruleset", ".spectral.yaml", "--format", "json", "--quiet"]
    run = subprocess.run(
        [str(spectral), *lint, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # 0: nothing at error level, 1: errors found; anything else is Spectral failing.
    assert run.returncode in (0, 1), f"spectral exited {run.returncode}:\n{run.stderr}"
    found: list[dict[str, Any]] = json.loads(run.stdout)
    return found


def listing(findings: list[dict[str, Any]]) -> str:
    """One finding a line: rule, where in the schema, and what it says."""
    return "\n".join(
        f"- {f['code']} at {'.'.join(map(str, f['path'])) or '(root)'}"
        f" (line {f['range']['start']['line'] + 1}): {f['message']}"
        for f in findings
    )


def test_spectral_finds_no_errors(findings: list[dict[str, Any]]) -> None:
    errors = [f for f in findings if f["severity"] == ERROR]
    assert not errors, f"Spectral errors in /openapi.json:\n{listing(errors)}"


def test_spectral_no_warnings(findings: list[dict[str, Any]]) -> None:
    warnings = [f for f in findings if f["severity"] <= WARNING]
    assert not warnings, f"{len(warnings)} Spectral warnings in /openapi.json:\n{listing(warnings)}"


def test_openapi_spec_validator_passes(schema: dict[str, Any]) -> None:
    validate(schema)  # raises, naming the first place the schema breaks the specification
