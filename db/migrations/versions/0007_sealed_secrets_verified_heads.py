"""Webhook secrets sealed at rest, replays without them, and the verified chain heads.

- `webhooks.secret` / `previous_secret` (clear) become `sealed_secret` /
  `sealed_previous_secret`: each existing secret is sealed here, in the same
  transaction as the schema change, with the sealing key the caller hands
  over (`ratify db upgrade`, `ratify serve` and every command that upgrades
  load it from the settings the service uses: `db.migrate.upgrade(engine,
  sealer)`). A previous secret whose 24 hours have ended is dropped, not
  sealed. With webhooks to carry and no key handed over (a bare `alembic
  upgrade head`), the migration stops and changes nothing.
- Answers kept for `Idempotency-Key` replays lose any webhook secret they
  hold (`"secret": null` and a note, as replays answer from now on).
- `verified_heads`: how far each chain was last found intact, where the
  incremental check starts.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30 10:00:00.000000
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITHHELD = (
    "the signing secret is shown once, in the first answer, and is not kept for replays;"
    " POST /v1/webhooks/{id}/rotate-secret for a new one"
)

_webhooks = sa.table(
    "webhooks",
    sa.column("id", sa.String()),
    sa.column("secret", sa.String()),
    sa.column("previous_secret", sa.String()),
    sa.column("previous_secret_until", sa.DateTime(timezone=True)),
    sa.column("sealed_secret", sa.Text()),
    sa.column("sealed_previous_secret", sa.Text()),
)
_replays = sa.table(
    "idempotency_keys",
    sa.column("actor_name", sa.String()),
    sa.column("key", sa.String()),
    sa.column("body", sa.Text()),
)


def _sealer(what: str) -> Any:
    """The sealer handed over by `db.migrate.upgrade`; stop when it is needed and missing."""
    sealer = context.config.attributes.get("sealer")
    if sealer is None:
        raise RuntimeError(
            f"{what} needs the sealing key: run `ratify db upgrade`, which loads it from"
            " RATIFY_SEALING_KEYS or RATIFY_SEALING_KEY_FILE"
        )
    return sealer


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def upgrade() -> None:
    op.create_table(
        "verified_heads",
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_verified_heads")),
    )
    _seal_webhook_secrets()
    _withhold_secrets_in_replays()


def _seal_webhook_secrets() -> None:
    bind = op.get_bind()
    # NOT NULL with a default: the one way SQLite adds such a column in place.
    op.add_column(
        "webhooks", sa.Column("sealed_secret", sa.Text(), nullable=False, server_default="")
    )
    op.add_column("webhooks", sa.Column("sealed_previous_secret", sa.Text(), nullable=True))
    rows = bind.execute(
        sa.select(
            _webhooks.c.id,
            _webhooks.c.secret,
            _webhooks.c.previous_secret,
            _webhooks.c.previous_secret_until,
        )
    ).all()
    if rows:
        sealer = _sealer("sealing the existing webhook secrets")
        now = datetime.now(UTC)
        for row in rows:
            until = _aware(row.previous_secret_until)
            overlapping = row.previous_secret is not None and until is not None and until > now
            bind.execute(
                _webhooks.update()
                .where(_webhooks.c.id == row.id)
                .values(
                    sealed_secret=sealer.seal(row.secret),
                    sealed_previous_secret=sealer.seal(row.previous_secret)
                    if overlapping
                    else None,
                    previous_secret_until=until if overlapping else None,
                )
            )
    if bind.dialect.name == "postgresql":
        op.alter_column("webhooks", "sealed_secret", server_default=None)
    op.drop_column("webhooks", "previous_secret")
    op.drop_column("webhooks", "secret")


def _withhold_secrets_in_replays() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_replays.c.actor_name, _replays.c.key, _replays.c.body).where(
            _replays.c.body.like('%"secret":"whsec_%')
        )
    ).all()
    for row in rows:
        try:
            body = json.loads(row.body)
        except ValueError:
            continue
        if not isinstance(body, dict) or not isinstance(body.get("secret"), str):
            continue
        body["secret"], body["secret_withheld"] = None, WITHHELD
        bind.execute(
            _replays.update()
            .where(_replays.c.actor_name == row.actor_name, _replays.c.key == row.key)
            .values(body=json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        )


def downgrade() -> None:
    bind = op.get_bind()
    op.add_column(
        "webhooks",
        sa.Column("secret", sa.String(length=100), nullable=False, server_default=""),
    )
    op.add_column("webhooks", sa.Column("previous_secret", sa.String(length=100), nullable=True))
    rows = bind.execute(
        sa.select(_webhooks.c.id, _webhooks.c.sealed_secret, _webhooks.c.sealed_previous_secret)
    ).all()
    if rows:
        sealer = _sealer("opening the sealed webhook secrets")
        for row in rows:
            previous = row.sealed_previous_secret
            bind.execute(
                _webhooks.update()
                .where(_webhooks.c.id == row.id)
                .values(
                    secret=sealer.unseal(row.sealed_secret),
                    previous_secret=sealer.unseal(previous) if previous else None,
                )
            )
    if bind.dialect.name == "postgresql":
        op.alter_column("webhooks", "secret", server_default=None)
    op.drop_column("webhooks", "sealed_previous_secret")
    op.drop_column("webhooks", "sealed_secret")
    op.drop_table("verified_heads")
