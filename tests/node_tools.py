"""The tests' tools from npm (package-lock.json): where they are, or a clear failure.

`make test` installs them with `npm ci`; a test that needs one and finds it
missing fails, saying so, rather than being skipped.
"""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
HOW = "run `make test`, which runs npm ci"


def node_module(relative: str) -> Path:
    """The file `node_modules/RELATIVE`; fails the test when it is not there."""
    path = NODE_MODULES / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: {HOW}")
    return path


def node() -> str:
    """The `node` executable; fails the test when there is none."""
    found = shutil.which("node")
    if found is None:
        pytest.fail(f"node is not on PATH: install Node.js 20 or later, then {HOW}")
    return found
