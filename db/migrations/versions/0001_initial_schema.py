"""Initial schema: boards, programs, versions, decisions, the audit trail, keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 08:55:06.519373
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

GENESIS = "0" * 64


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "boards",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=4), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boards")),
    )
    op.create_table(
        "chain_heads",
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_chain_heads")),
    )
    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_board_id", sa.String(length=64), nullable=True),
        sa.Column("program_id", sa.String(length=64), nullable=True),
        sa.Column("version_id", sa.String(length=36), nullable=True),
        sa.Column("board_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_chain_seq", ["chain", "seq"], unique=False)
        batch_op.create_index("ix_events_board_seq", ["board_id", "seq"], unique=False)
        batch_op.create_index("ix_events_actor_seq", ["actor_name", "seq"], unique=False)
        batch_op.create_index("ix_events_type_seq", ["type", "seq"], unique=False)
        batch_op.create_index("ix_events_at", ["at"], unique=False)
        batch_op.create_index("ix_events_program_seq", ["program_id", "seq"], unique=False)
        batch_op.create_index("ix_events_version_seq", ["version_id", "seq"], unique=False)
        batch_op.create_index(
            "uq_events_one_in_force",
            ["version_id"],
            unique=True,
            postgresql_where=sa.text("type = 'version.in_force'"),
            sqlite_where=sa.text("type = 'version.in_force'"),
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("location", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor_name", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "programs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("owner", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
    )
    op.create_table(
        "api_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("board_id", sa.String(length=64), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_api_keys_board_id_boards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    op.create_table(
        "program_boards",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("board_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_program_boards_board_id_boards")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_program_boards_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("program_id", "board_id", name=op.f("pk_program_boards")),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("drafted_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("replaces", sa.String(length=36), nullable=True),
        sa.Column("superseded_by", sa.String(length=36), nullable=True),
        sa.Column("sent_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("respond_by", sa.Date(), nullable=True),
        sa.Column("in_force_from", sa.Date(), nullable=True),
        sa.Column("superseded_on", sa.Date(), nullable=True),
        sa.Column("document_title", sa.String(length=500), nullable=True),
        sa.Column("document_url", sa.String(length=2000), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "state IN ('drafted','sent_out','in_force','rejected','withdrawn','superseded')",
            name=op.f("ck_versions_state"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_versions_program_id_programs")
        ),
        sa.ForeignKeyConstraint(
            ["replaces"], ["versions.id"], name=op.f("fk_versions_replaces_versions")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["versions.id"], name=op.f("fk_versions_superseded_by_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("program_id", "label", name=op.f("uq_versions_program_id")),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_versions_program_id"), ["program_id"], unique=False)
        batch_op.create_index(
            "uq_versions_one_in_force",
            ["program_id"],
            unique=True,
            postgresql_where=sa.text("state = 'in_force'"),
            sqlite_where=sa.text("state = 'in_force'"),
        )
        batch_op.create_index("uq_versions_superseded_by", ["superseded_by"], unique=True)

    op.create_table(
        "decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("board_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("paragraph", sa.String(length=100), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.Column("minutes_attested_on", sa.Date(), nullable=True),
        sa.Column("announced_on", sa.Date(), nullable=True),
        sa.Column("final_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_role", sa.String(length=16), nullable=False),
        sa.Column("recorded_by_board", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('approved','rejected','amended','referred_back','tabled')",
            name=op.f("ck_decisions_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_decisions_board_id_boards")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_decisions_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decisions_version_recorded", ["version_id", "recorded_at"], unique=False
        )
        batch_op.create_index(
            "uq_decisions_one_final",
            ["version_id", "board_id"],
            unique=True,
            postgresql_where=sa.text("outcome IN ('approved','rejected','amended')"),
            sqlite_where=sa.text("outcome IN ('approved','rejected','amended')"),
        )

    op.execute(
        sa.text(
            "INSERT INTO chain_heads (chain, seq, hash) VALUES ('_global', 0, :genesis)"
        ).bindparams(genesis=GENESIS)
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    """UPDATE and DELETE on the audit trail are refused by the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER events_append_only ON events")
        op.execute("DROP FUNCTION events_append_only()")
    else:
        op.execute("DROP TRIGGER events_no_update")
        op.execute("DROP TRIGGER events_no_delete")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_decisions_one_final",
            postgresql_where=sa.text("outcome IN ('approved','rejected','amended')"),
            sqlite_where=sa.text("outcome IN ('approved','rejected','amended')"),
        )
        batch_op.drop_index("ix_decisions_version_recorded")

    op.drop_table("decisions")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index("uq_versions_superseded_by")
        batch_op.drop_index(
            "uq_versions_one_in_force",
            postgresql_where=sa.text("state = 'in_force'"),
            sqlite_where=sa.text("state = 'in_force'"),
        )
        batch_op.drop_index(batch_op.f("ix_versions_program_id"))

    op.drop_table("versions")
    op.drop_table("program_boards")
    op.drop_table("api_keys")
    op.drop_table("programs")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_events_one_in_force",
            postgresql_where=sa.text("type = 'version.in_force'"),
            sqlite_where=sa.text("type = 'version.in_force'"),
        )
        batch_op.drop_index("ix_events_version_seq")
        batch_op.drop_index("ix_events_program_seq")
        batch_op.drop_index("ix_events_chain_seq")
        batch_op.drop_index("ix_events_board_seq")
        batch_op.drop_index("ix_events_actor_seq")
        batch_op.drop_index("ix_events_type_seq")
        batch_op.drop_index("ix_events_at")

    op.drop_table("events")
    op.drop_table("chain_heads")
    op.drop_table("boards")
