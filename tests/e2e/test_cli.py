"""The `ratify` command line, run as a real process, on SQLite and PostgreSQL.

The contract: `ratify db upgrade`, `ratify seed` (idempotent), `ratify keys
create|list|revoke` (the token is the last line of stdout, refusals are a
non-zero exit with `ratify: error: …` on stderr) and `ratify serve`, which
upgrades and seeds an empty database before it answers.
"""

import json
import subprocess
from collections.abc import Callable

from sqlalchemy import inspect, select, text

from db import keys, migrate, models, seed
from db.engine import Database, open_database
from tests.e2e.conftest import Ratify, last_line

Snapshot = dict[str, list[str]]

SCHEMA_TABLES = {
    "boards",
    "programs",
    "program_boards",
    "versions",
    "decisions",
    "events",
    "chain_heads",
    "api_keys",
    "idempotency_keys",
}


def snapshot(db: Database) -> Snapshot:
    """Every row of every table, as sorted text, to tell whether anything was written."""
    with db.engine.connect() as connection:
        tables = sorted(inspect(connection).get_table_names())
        return {
            table: sorted(
                repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"'))
            )
            for table in tables
        }


def refused(result: "subprocess.CompletedProcess[str]", *fragments: str) -> None:
    """A CLI refusal: non-zero exit, nothing on stdout, one clear `ratify: error:` line."""
    assert result.returncode != 0, result.stdout
    assert result.stdout == ""
    message = last_line(result.stderr)
    assert message.startswith("ratify: error: "), result.stderr
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in result.stderr


def test_db_upgrade_creates_the_schema_on_an_empty_database(
    empty_database_url: str, ratify_factory: Callable[[str | None], Ratify]
) -> None:
    ratify = ratify_factory(empty_database_url)
    head = migrate.head_revision()
    assert last_line(ratify.cli("db", "upgrade").stdout) == f"schema at {head}"

    db = open_database(empty_database_url)
    try:
        assert migrate.current_revision(db.engine) == head
        assert set(inspect(db.engine).get_table_names()) >= SCHEMA_TABLES
        before = snapshot(db)
        assert not before["boards"], "db upgrade only migrates; it does not seed"

        again = ratify.cli("db", "upgrade")
        assert last_line(again.stdout) == f"schema at {head}"
        assert snapshot(db) == before
    finally:
        db.dispose()


def test_seed_twice_adds_the_seed_data_once(ratify: Ratify, database_url: str) -> None:
    assert last_line(ratify.cli("seed").stdout) == "seeded"
    db = open_database(database_url)
    try:
        before = snapshot(db)
        second = ratify.cli("seed")
        assert last_line(second.stdout) == "already seeded"
        assert snapshot(db) == before

        with db.reads() as session:
            boards = session.scalars(select(models.Board.id).order_by(models.Board.id)).all()
            versions = {
                v.label: v.state
                for v in session.scalars(
                    select(models.Version).where(models.Version.program_id == "sup")
                )
            }
        assert list(boards) == sorted(b[0] for b in seed.BOARDS)
        assert versions == {"SUP 2013": "in_force", "SUP 2035": "drafted"}
    finally:
        db.dispose()


def test_keys_create_prints_the_token_as_the_last_line(ratify: Ratify, seeded: Database) -> None:
    result = ratify.cli("keys", "create", "--role", "board", "--board", "tyreso", "--name", "X")
    token = last_line(result.stdout)
    assert token.startswith("rat_")
    assert len(token) > 40

    with seeded.reads() as session:
        key = session.scalars(select(models.ApiKey).where(models.ApiKey.name == "X")).one()
    assert (key.role, key.board_id, key.revoked_at) == ("board", "tyreso", None)
    assert key.token_hash == keys.hash_token(token)
    assert token not in json.dumps(snapshot(seeded)), "only the token's hash is stored"


def test_keys_create_refuses_a_bad_request_and_writes_nothing(
    ratify: Ratify, seeded: Database
) -> None:
    ratify.create_key("X", "board", "tyreso")
    before = snapshot(seeded)

    cases = [
        (["--role", "board", "--name", "no-board"], ["--board"]),
        (["--role", "board", "--board", "atlantis", "--name", "atlantis"], ["atlantis"]),
        (["--role", "admin", "--board", "tyreso", "--name", "admin-on-a-board"], ["--board"]),
        (["--role", "board", "--board", "tyreso", "--name", "X"], ["'X'", "exists"]),
        (["--role", "auditor", "--name", "X"], ["'X'", "exists"]),
    ]
    running = [(ratify.start_cli("keys", "create", *args), want) for args, want in cases]
    results = [(Ratify.finish(process), want) for process, want in running]
    for result, want in results:
        refused(result, *want)

    assert snapshot(seeded) == before


def test_keys_list_shows_name_role_and_board_but_never_a_token(
    ratify: Ratify, seeded: Database
) -> None:
    tokens = ratify.create_keys(
        {"ops-admin": ("admin", None), "tyreso-system": ("board", "tyreso")}
    )
    ratify.cli("keys", "revoke", "ops-admin")
    listing = ratify.cli("keys", "list")

    header, *lines = listing.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "ROLE", "BOARD"]
    assert "REVOKED" in header
    rows = {line.split()[0]: line.split() for line in lines}
    assert set(rows) == {"ops-admin", "tyreso-system"}
    assert rows["ops-admin"][1:3] == ["admin", "-"]
    assert rows["ops-admin"][-1] != "-", "the revoked key shows when it was revoked"
    assert rows["tyreso-system"][1:3] == ["board", "tyreso"]
    assert rows["tyreso-system"][-1] == "-"
    output = listing.stdout + listing.stderr
    assert "rat_" not in output
    for token in tokens.values():
        assert token not in output
        assert keys.hash_token(token) not in output


def test_a_revoked_key_is_refused_at_once_by_every_server(ratify: Ratify) -> None:
    servers = ratify.serve(2)  # they upgrade and seed the database
    tokens = ratify.create_keys({"X": ("board", "tyreso"), "reader": ("auditor", None)})
    revoked = [ratify.client(server, tokens["X"]) for server in servers]
    readers = [ratify.client(server, tokens["reader"]) for server in servers]
    for client in revoked + readers:
        assert client.get("/v1/programs/sup").status_code == 200

    assert last_line(ratify.cli("keys", "revoke", "X").stdout) == "revoked 'X'"

    decision = {
        "board_id": "tyreso",
        "outcome": "approved",
        "decided_on": "2019-06-10",
        "paragraph": "§ 60",
        "case_number": "2019/KS 0260 005",
    }
    for client in revoked:
        for response in (
            client.get("/v1/programs/sup"),
            client.post(f"/v1/versions/{seed.SUP_2035}/decisions", json=decision),
        ):
            assert response.status_code == 401, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == "unauthenticated"
    for client in readers:
        assert client.get("/v1/programs/sup").status_code == 200

    revoking = [ratify.start_cli("keys", "revoke", name) for name in ("X", "nobody")]
    again, unknown = [Ratify.finish(process) for process in revoking]
    refused(again, "'X'")
    refused(unknown, "'nobody'")
    assert ratify.problems() == []


def test_serve_on_an_empty_database_upgrades_seeds_and_serves(
    empty_database_url: str, ratify_factory: Callable[[str | None], Ratify]
) -> None:
    ratify = ratify_factory(empty_database_url)
    [server] = ratify.serve()
    token = ratify.create_key("reader", "auditor")

    public = ratify.client(server)
    assert public.get("/readyz").json() == {"status": "ok"}
    assert public.get("/healthz").status_code == 200
    assert public.get("/v1/programs/sup/versions").status_code == 401

    r = ratify.client(server, token).get("/v1/programs/sup/versions")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(v["label"], v["state"]) for v in items] == [
        ("SUP 2013", "in_force"),
        ("SUP 2035", "drafted"),
    ]
    sup_2013, sup_2035 = items
    assert sup_2013["in_force_from"] == "2013-04-29"
    assert (sup_2035["drafted_on"], sup_2035["valid_from"], sup_2035["valid_until"]) == (
        "2019-05-28",
        "2019-01-01",
        "2022-12-31",
    )
    assert sup_2035["replaces"] == sup_2013["id"]

    assert_json_logs(server.stderr())
    assert ratify.problems() == []


def test_servers_started_at_once_on_an_empty_database_all_upgrade_seed_and_serve(
    empty_database_url: str, ratify_factory: Callable[[str | None], Ratify]
) -> None:
    """Scale-out: any number of `ratify serve` processes may start together on one database."""
    ratify = ratify_factory(empty_database_url)
    servers = ratify.serve(3)
    token = ratify.create_key("reader", "auditor")
    for server in servers:
        r = ratify.client(server, token).get("/v1/programs/sup/versions")
        assert r.status_code == 200, r.text
        assert [v["label"] for v in r.json()["items"]] == ["SUP 2013", "SUP 2035"]
    assert ratify.problems() == []


def test_serve_without_a_database_url_uses_a_sqlite_file_under_var(
    ratify_factory: Callable[[str | None], Ratify],
) -> None:
    ratify = ratify_factory(None)
    [server] = ratify.serve()
    assert (ratify.workdir / "var" / "ratify.db").is_file()
    token = ratify.create_key("reader", "auditor")
    r = ratify.client(server, token).get("/v1/programs/sup")
    assert r.status_code == 200, r.text
    assert r.json()["in_force_version_id"] == seed.SUP_2013


def assert_json_logs(log: str) -> None:
    """With RATIFY_LOG_FORMAT=json every log line is one JSON object with event and level."""
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"event", "level", "timestamp"} <= set(record), line
