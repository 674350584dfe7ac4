"""The tables. Constraints here back the invariants of design.md.

The words a column may hold (states, outcomes, event types, delivery
statuses) are CHECK constraints derived from the enums of `workflow/`.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, UTCDateTime, in_words, one_of
from workflow.delivery import OPEN_DELIVERIES, DeliveryStatus, MailStatus, ReminderStatus
from workflow.events import EventType
from workflow.states import FINAL_OUTCOMES, AppealOutcome, DecisionStatus, Outcome, VersionState

FINAL = in_words("outcome", FINAL_OUTCOMES) + " AND status <> 'annulled'"
"""A decision that settles its board's answer (one per version and board)."""


class Board(Base):
    """A deciding body of one municipality, usually its kommunstyrelse."""

    __tablename__ = "boards"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    municipality: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    municipality_code: Mapped[str] = mapped_column(String(4))
    email: Mapped[str] = mapped_column(String(320))


class Program(Base):
    """A program drafted jointly; every version needs all its boards' approval."""

    __tablename__ = "programs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    public: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Shown on the public notice page (`/public/programs/{id}`) and its calendar."""


class ProgramBoard(Base):
    """Membership: a board whose approval a program's versions need."""

    __tablename__ = "program_boards"

    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class Version(Base):
    """One version of a program and where it stands."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("program_id", "label"),
        one_of("state", VersionState, name="state"),
        Index(
            "uq_versions_one_in_force",
            "program_id",
            unique=True,
            postgresql_where=text("state = 'in_force'"),
            sqlite_where=text("state = 'in_force'"),
        ),
        Index("uq_versions_superseded_by", "superseded_by", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    drafted_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    replaces: Mapped[str | None] = mapped_column(ForeignKey("versions.id"))
    superseded_by: Mapped[str | None] = mapped_column(ForeignKey("versions.id"))
    sent_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    respond_by: Mapped[date | None] = mapped_column(Date)
    in_force_from: Mapped[date | None] = mapped_column(Date)
    superseded_on: Mapped[date | None] = mapped_column(Date)
    document_title: Mapped[str | None] = mapped_column(String(500))
    document_url: Mapped[str | None] = mapped_column(String(2000))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    imported: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    final_on: Mapped[date | None] = mapped_column(Date)
    """When the version in force gains legal force (see `workflow.versions.Version`)."""
    entries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many times it entered into force."""
    final_noted_on: Mapped[date | None] = mapped_column(Date)
    """The `final_on` for which `version.final` was written (the clock's bookkeeping)."""


class Decision(Base):
    """One board's decision at one meeting, as recorded by its system; the current values
    after any corrections (each correction is a row of `corrections` and an event)."""

    __tablename__ = "decisions"
    __table_args__ = (
        one_of("outcome", Outcome, name="outcome"),
        one_of("status", DecisionStatus, name="status"),
        Index(
            "uq_decisions_one_final",
            "version_id",
            "board_id",
            unique=True,
            postgresql_where=text(FINAL),
            sqlite_where=text(FINAL),
        ),
        Index("ix_decisions_version_recorded", "version_id", "recorded_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id"))
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    decided_on: Mapped[date] = mapped_column(Date)
    paragraph: Mapped[str] = mapped_column(String(100))
    case_number: Mapped[str | None] = mapped_column(String(100))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    minutes_attested_on: Mapped[date | None] = mapped_column(Date)
    announced_on: Mapped[date | None] = mapped_column(Date)
    appeal_until: Mapped[date | None] = mapped_column(Date)
    final_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="standing", server_default="standing")
    corrected: Mapped[bool] = mapped_column(default=False, server_default=false())
    final_noted_on: Mapped[date | None] = mapped_column(Date)
    """The `final_on` for which `decision.final` was written (the clock's bookkeeping)."""
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_role: Mapped[str] = mapped_column(String(16))
    recorded_by_board: Mapped[str | None] = mapped_column(String(64))
    recorded_by_subject: Mapped[str | None] = mapped_column(String(255))
    recorded_by_email: Mapped[str | None] = mapped_column(String(320))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Appeal(Base):
    """An appeal of a decision to the administrative court, and its ruling once recorded."""

    __tablename__ = "appeals"
    __table_args__ = (
        one_of("outcome", AppealOutcome, name="outcome"),
        Index("ix_appeals_decision", "decision_id", "lodged_on"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"))
    lodged_on: Mapped[date] = mapped_column(Date)
    court: Mapped[str] = mapped_column(String(200))
    case_number: Mapped[str] = mapped_column(String(100))
    late: Mapped[bool] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(16))
    ruled_on: Mapped[date | None] = mapped_column(Date)
    ruling_final_on: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ruled_by: Mapped[str | None] = mapped_column(String(200))
    ruled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Correction(Base):
    """A slip in a decision's record put right (rättelse): what changed, why, by whom."""

    __tablename__ = "corrections"
    __table_args__ = (Index("ix_corrections_decision", "decision_id", "recorded_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_role: Mapped[str] = mapped_column(String(16))
    recorded_by_board: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Event(Base):
    """One entry of the append-only, hash-chained audit trail (one chain per program)."""

    __tablename__ = "events"
    __table_args__ = (
        one_of("type", EventType, name="type"),
        Index("ix_events_version_seq", "version_id", "seq"),
        Index("ix_events_program_seq", "program_id", "seq"),
        Index("ix_events_chain_seq", "chain", "seq"),
        Index("ix_events_board_seq", "board_id", "seq"),
        Index("ix_events_actor_seq", "actor_name", "seq"),
        Index("ix_events_type_seq", "type", "seq"),
        Index("ix_events_at", "at"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_board_id: Mapped[str | None] = mapped_column(String(64))
    actor_subject: Mapped[str | None] = mapped_column(String(255))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    program_id: Mapped[str | None] = mapped_column(String(64))
    version_id: Mapped[str | None] = mapped_column(String(36))
    board_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    chain: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class EventKey(Base):
    """The key of an event that may happen only once (`Event.once`): its uniqueness makes a
    concurrent second writer of, say, one entry into force fail instead of writing it twice."""

    __tablename__ = "event_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"))


class ChainHead(Base):
    """The last event of one audit chain; its row lock orders appends to the chain."""

    __tablename__ = "chain_heads"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId)
    hash: Mapped[str] = mapped_column(String(64))


class VerifiedHead(Base):
    """How far a chain was last found intact: the incremental check starts after it.

    Written by every verification that found the trail intact (full or
    incremental), only ever forwards. It is a cache of a check, not evidence:
    someone who can write the database can move it too (see the README).
    """

    __tablename__ = "verified_heads"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId)
    hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A bearer token, stored only as its SHA-256 hash."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    board_id: Mapped[str | None] = mapped_column(ForeignKey("boards.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CalendarFeed(Base):
    """A key's calendar feed URL: a separate secret (stored only as its SHA-256 hash) that
    a calendar client sends instead of the key's bearer token; revoked on its own."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyKey(Base):
    """The first response to a write sent with an `Idempotency-Key`, per caller."""

    __tablename__ = "idempotency_keys"

    actor_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # for expiry


# --- what is sent: reminders, e-mails, webhook deliveries ------------------------------


class ReminderSchedule(Base):
    """A board that still owes a decision on a version sent out: when to look next.

    Deleted when the board decides or the version leaves `sent_out`.
    """

    __tablename__ = "reminder_schedule"

    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id"), primary_key=True)
    handled_through: Mapped[int | None] = mapped_column(Integer)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Reminder(Base):
    """One reminder slot of one board on one version, and what became of it.

    The unique (version, board, slot) key makes the sweep idempotent.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("version_id", "board_id", "slot"),
        one_of("status", ReminderStatus, name="status"),
        Index("ix_reminders_version_scheduled", "version_id", "scheduled_for", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id"))
    board_id: Mapped[str] = mapped_column(ForeignKey("boards.id"))
    slot: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMail(Base):
    """One e-mail to send, written in the same transaction as the state that caused it.

    Due ⇔ `next_attempt_at <= now`; a claim is a lease that postpones
    `next_attempt_at`, so a crash between claim and send is a retry, never a loss.
    """

    __tablename__ = "outbox_mail"
    __table_args__ = (one_of("status", MailStatus, name="status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    program_id: Mapped[str | None] = mapped_column(String(64))
    version_id: Mapped[str | None] = mapped_column(ForeignKey("versions.id"))
    board_id: Mapped[str | None] = mapped_column(ForeignKey("boards.id"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    lease: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


OPEN_DELIVERY = in_words("status", OPEN_DELIVERIES)


class Webhook(Base):
    """A subscription: POST these event types to this URL, signed with this secret.

    The secrets are stored sealed (`db.sealing`): a copy of the database does
    not hold them.
    """

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    board_id: Mapped[str | None] = mapped_column(ForeignKey("boards.id"))
    sealed_secret: Mapped[str] = mapped_column(Text)
    sealed_previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delivery(Base):
    """One event to deliver to one subscription; claimed like an e-mail."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_seq"),
        one_of("status", DeliveryStatus, name="status"),
        Index(
            "ix_webhook_deliveries_open",
            "webhook_id",
            "event_seq",
            postgresql_where=text(OPEN_DELIVERY),
            sqlite_where=text(OPEN_DELIVERY),
        ),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(OPEN_DELIVERY),
            sqlite_where=text(OPEN_DELIVERY),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id"))
    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"))
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Attempt(Base):
    """One HTTP attempt at a delivery: when, what came back, the first 1 kB of it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    response: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


# --- people on the status page: sessions and sign-ins under way --------------------------


class UiSession(Base):
    """A signed-in session of the status page: a person's or an API key's.

    Only a keyed hash of the cookie's token is stored (`db/sessions.py`).
    A key's session takes its role from the key on every request; a
    person's carries what the identity provider's claims gave at sign-in.
    """

    __tablename__ = "ui_sessions"
    __table_args__ = (
        CheckConstraint("(key_id IS NULL) <> (subject IS NULL)", name="key_or_person"),
        Index("ix_ui_sessions_subject", "subject"),
        Index("ix_ui_sessions_key_id", "key_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    subject: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    board_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcLogin(Base):
    """An OpenID Connect sign-in under way: taken (deleted) by the one callback that ends it."""

    __tablename__ = "oidc_logins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
