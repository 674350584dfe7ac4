"""The layout the README promises: layers by folder, small modules, SQL only in `db/`.

`lint-imports` (run by `make test`) holds the layers; this holds what it cannot
say: the web layer uses SQLAlchemy only for its exception classes and the
`Session` type, and no module of the service grows past 500 lines.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("workflow", "db", "api", "notifications")
ALLOWED_IN_API: dict[str, set[str] | None] = {"sqlalchemy.exc": None, "sqlalchemy.orm": {"Session"}}
"""SQLAlchemy modules `api/` may import from, and which names (None: any)."""


def modules(*packages: str) -> list[Path]:
    return sorted(
        path
        for package in packages
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


@pytest.mark.parametrize("path", modules("api"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_web_layer_uses_no_sql(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            assert not any(n == "sqlalchemy" or n.startswith("sqlalchemy.") for n in names), (
                f"{path.name}:{node.lineno} imports {names}"
            )
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            module = node.module or ""
            assert module in ALLOWED_IN_API, f"{path.name}:{node.lineno} imports from {module}"
            allowed = ALLOWED_IN_API[module]
            if allowed is not None:
                imported = {alias.name for alias in node.names}
                assert imported <= allowed, f"{path.name}:{node.lineno} imports {imported}"


@pytest.mark.parametrize("path", modules(*PACKAGES), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 500, f"{path.relative_to(ROOT)} has {lines} lines: split it by concern"
