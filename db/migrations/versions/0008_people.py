"""People on the status page: sessions kept by the server, OIDC sign-ins, persons as actors.

- `ui_sessions`: one row per signed-in session (a person's, or an API key's),
  holding a keyed hash of the cookie's token, never the token; sign-out
  ends the row, so the cookie is refused by every process at once.
- `oidc_logins`: OpenID Connect sign-ins under way (state, nonce, PKCE
  verifier), each taken by the one callback that completes it.
- `events.actor_subject`, `events.actor_email`, and the same on decisions
  (`recorded_by_subject`, `recorded_by_email`): the person behind an action
  in the browser. NULL for API keys and the service itself, and for every
  event written before this revision, so their hashes still verify (the
  canonical form includes the two only when a subject is present).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Adding a NULL column rewrites no row, so the events' refusal of UPDATE is not involved.
    op.add_column("events", sa.Column("actor_subject", sa.String(length=255), nullable=True))
    op.add_column("events", sa.Column("actor_email", sa.String(length=320), nullable=True))
    op.add_column(
        "decisions", sa.Column("recorded_by_subject", sa.String(length=255), nullable=True)
    )
    op.add_column("decisions", sa.Column("recorded_by_email", sa.String(length=320), nullable=True))
    op.create_table(
        "ui_sessions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", BIG_ID, nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("board_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(key_id IS NULL) <> (subject IS NULL)", name=op.f("ck_ui_sessions_key_or_person")
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_ui_sessions_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ui_sessions_token_hash")),
    )
    op.create_index("ix_ui_sessions_subject", "ui_sessions", ["subject"])
    op.create_index("ix_ui_sessions_key_id", "ui_sessions", ["key_id"])
    op.create_index(op.f("ix_ui_sessions_expires_at"), "ui_sessions", ["expires_at"])
    op.create_table(
        "oidc_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_path", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oidc_logins")),
    )
    op.create_index(op.f("ix_oidc_logins_expires_at"), "oidc_logins", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_oidc_logins_expires_at"), table_name="oidc_logins")
    op.drop_table("oidc_logins")
    op.drop_index(op.f("ix_ui_sessions_expires_at"), table_name="ui_sessions")
    op.drop_index("ix_ui_sessions_key_id", table_name="ui_sessions")
    op.drop_index("ix_ui_sessions_subject", table_name="ui_sessions")
    op.drop_table("ui_sessions")
    # Plain ALTER TABLE … DROP COLUMN (SQLite has it since 3.35): no table rebuild, so
    # nothing copies the events, which refuse UPDATE and DELETE.
    for table, column in (
        ("decisions", "recorded_by_email"),
        ("decisions", "recorded_by_subject"),
        ("events", "actor_email"),
        ("events", "actor_subject"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
