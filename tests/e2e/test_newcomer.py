"""A newcomer's first command (issue 13, item 14): never a traceback, one line and exit 2.

Every command runs as a real `ratify` process in an empty folder (the CLI's
default database, `sqlite:///var/ratify.db`, under it), in a database
without the schema, against a PostgreSQL nobody listens for, with a
malformed `RATIFY_DATABASE_URL` and with a `./var` that cannot be made.
`keys create` (like `seed`, `db upgrade` and `serve`) brings the schema to
head itself; `keys list`, `keys revoke`, `audit verify`, `reminders run` and
`worker` never change the schema and say what to run.
"""

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Ratify, free_port, last_line

Factory = Callable[[str | None], Ratify]

READERS = [
    ["keys", "list"],
    ["keys", "revoke", "x"],
    ["audit", "verify"],
    ["reminders", "run"],
    ["worker"],
]
"""Commands that never change the schema."""
WRITERS = [["keys", "create", "--role", "admin", "--name", "x"], ["seed"], ["db", "upgrade"]]
"""Commands that bring the schema to head themselves."""


def one_line(result: "subprocess.CompletedProcess[str]", *fragments: str) -> str:
    """Exit 2, no traceback, one `ratify: error:` line on stderr naming `fragments`."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.args, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ratify: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_in_an_empty_folder_the_readers_say_what_to_run_and_create_nothing(
    ratify_factory: Factory,
) -> None:
    ratify = ratify_factory(None)
    running = [(args, ratify.start_cli(*args)) for args in READERS]
    for args, process in running:
        result = Ratify.finish(process)
        one_line(result, "var/ratify.db", "ratify db upgrade")
        assert result.stdout == "", args
    assert list(ratify.workdir.iterdir()) == [], "nothing made"


def test_in_an_empty_folder_keys_create_brings_the_schema_to_head_and_then_all_work(
    ratify_factory: Factory,
) -> None:
    ratify = ratify_factory(None)
    token = ratify.create_key("x", "admin")
    assert (ratify.workdir / "var" / "ratify.db").is_file()
    listing = ratify.cli("keys", "list").stdout
    assert [line.split()[:2] for line in listing.splitlines()[1:]] == [["x", "admin"]]
    assert token not in listing
    assert last_line(ratify.cli("audit", "verify").stdout).startswith("ok: ")
    assert last_line(ratify.cli("seed").stdout) == "seeded"
    assert last_line(ratify.cli("reminders", "run").stdout).startswith("delivered: ")
    assert last_line(ratify.cli("keys", "revoke", "x").stdout) == "revoked 'x'"

    worker = ratify.start_cli("worker")
    time.sleep(3)
    assert worker.poll() is None, worker.communicate()
    worker.send_signal(signal.SIGTERM)
    result = Ratify.finish(worker)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_without_the_schema(empty_database_url: str, ratify_factory: Factory) -> None:
    """SQLite: no file yet; PostgreSQL: a database with nothing in it."""
    ratify = ratify_factory(empty_database_url)
    for args in READERS:
        one_line(ratify.cli(*args, check=False), "ratify db upgrade")
    ratify.create_key("x", "admin")
    assert "x" in ratify.cli("keys", "list").stdout


@pytest.mark.slow
def test_a_postgresql_nobody_listens_for_is_one_line_without_the_password(
    ratify_factory: Factory,
) -> None:
    url = f"postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:{free_port()}/ratify"
    ratify = ratify_factory(url)
    commands = [*READERS, *WRITERS, ["serve", "--port", str(free_port())]]
    for args in commands:
        result = ratify.cli(*args, check=False)
        line = one_line(result, "cannot use the database", "Connection refused")
        assert "s3cret-pw" not in result.stderr + result.stdout, line


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RATIFY_DATABASE_URL", "nonsense", "is not a database URL"),
        ("RATIFY_DATABASE_URL", "mysql://u@localhost/ratify", "(mysql)"),
        ("RATIFY_DATABASE_URL", "", "is not a database URL"),
        ("RATIFY_MAX_BODY_BYTES", "a lot", "RATIFY_MAX_BODY_BYTES"),
    ],
)
def test_a_malformed_setting_is_one_line(
    ratify_factory: Factory, variable: str, value: str, says: str
) -> None:
    ratify = ratify_factory(None)
    ratify.extra_env[variable] = value
    for args in [["keys", "list"], ["keys", "create", "--role", "admin", "--name", "x"]]:
        one_line(ratify.cli(*args, check=False), variable, says)


def test_a_var_that_cannot_be_made_or_written_is_one_line(ratify_factory: Factory) -> None:
    ratify = ratify_factory(None)
    (ratify.workdir / "var").write_text("a file where the folder should be\n")
    for args in [*WRITERS, ["serve", "--port", str(free_port())]]:
        one_line(ratify.cli(*args, check=False), "cannot make the folder var")

    (ratify.workdir / "var").unlink()
    Path(ratify.workdir / "var" / "ratify.db").mkdir(parents=True)  # not a file: cannot open
    for args in [*READERS[:1], *WRITERS[:1]]:
        one_line(ratify.cli(*args, check=False), "unable to open database file", "write to var/")
