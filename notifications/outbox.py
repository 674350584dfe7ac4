"""The outbox writer: turns a transaction's audit events into e-mails and reminder schedules.

Registered in `Database.outbox_writers` by the composition root, it runs
inside the unit of work, before commit, so an e-mail exists exactly when the
state change that caused it does:

    version.sent_out      a notice to every member board; each board is put on
                          the reminder schedule
    decision.recorded     approved / rejected / amended: that board's
                          reminders stop
    version.in_force      a notice to every member board; all reminders stop
    version.rejected      likewise
    version.withdrawn     all reminders stop
"""

from collections.abc import Collection, Sequence
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from db.outbox import OutboxMail, ReminderSchedule, insert_once, stop_reminders
from notifications import mail
from notifications.config import Config
from workflow.reminders import plan
from workflow.states import FINAL_OUTCOMES

STOPPING = frozenset({"version.in_force", "version.rejected", "version.withdrawn"})


def about(session: Session, version_id: str) -> mail.About:
    """What the e-mails say about a version."""
    version = session.get_one(models.Version, version_id)
    program = session.get_one(models.Program, version.program_id)
    return about_version(version, program.title)


def about_version(version: models.Version, program_title: str) -> mail.About:
    """What the e-mails say about `version`, a version of the program titled `program_title`."""
    return mail.About(
        program_id=version.program_id,
        program_title=program_title,
        version_id=version.id,
        label=version.label,
        respond_by=version.respond_by,
        document_url=version.document_url,
    )


def addressees(session: Session, program_id: str) -> list[mail.Addressee]:
    """The program's member boards, in the program's order, with their addresses."""
    return members(session, [program_id]).get(program_id, [])


def members(session: Session, program_ids: Collection[str]) -> dict[str, list[mail.Addressee]]:
    """Several programs' member boards (one statement), each program's in its order."""
    rows = session.execute(
        select(models.ProgramBoard.program_id, models.Board)
        .join(models.Board, models.ProgramBoard.board_id == models.Board.id)
        .where(models.ProgramBoard.program_id.in_(list(program_ids)))
        .order_by(models.ProgramBoard.program_id, models.ProgramBoard.position)
    )
    out: dict[str, list[mail.Addressee]] = {}
    for program_id, b in rows:
        out.setdefault(program_id, []).append(mail.Addressee(b.id, b.name, b.municipality, b.email))
    return out


def enqueue(
    session: Session,
    message: EmailMessage,
    *,
    kind: str,
    key: str,
    about: mail.About,
    to: mail.Addressee,
    now: datetime,
    reminder_id: int | None = None,
) -> bool:
    """Put one e-mail in the outbox, due at once; False when its key is already there."""
    return insert_once(
        session,
        OutboxMail(
            key=key,
            kind=kind,
            program_id=about.program_id,
            version_id=about.version_id,
            board_id=to.board_id,
            reminder_id=reminder_id,
            recipient=to.email,
            message_id=str(message["Message-ID"]),
            message=mail.wire(message),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ),
    )


class MailOutbox:
    """The outbox writer (an `OutboxWriter`): e-mails and schedules for a transaction's events."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def __call__(self, session: Session, rows: Sequence[models.Event]) -> None:
        for row in rows:
            if row.version_id is None:
                continue
            if row.type == "version.sent_out":
                self._sent_out(session, row)
            elif row.type == "decision.recorded":
                if row.data.get("outcome") in FINAL_OUTCOMES:
                    stop_reminders(session, row.version_id, row.board_id)
            elif row.type in STOPPING:
                stop_reminders(session, row.version_id)
            if row.type in mail.NOTICE_KINDS:
                self._notify(session, row)

    def _sent_out(self, session: Session, row: models.Event) -> None:
        version = session.get_one(models.Version, row.version_id)
        if version.respond_by is None or version.sent_out_at is None:
            return
        first = plan(self.config.policy, version.respond_by, version.sent_out_at, row.at)
        if first.next is None:
            return
        for to in addressees(session, version.program_id):
            insert_once(
                session,
                ReminderSchedule(
                    version_id=version.id,
                    board_id=to.board_id,
                    handled_through=first.handled_through,
                    next_due_at=first.next.scheduled_for,
                ),
            )

    def _notify(self, session: Session, row: models.Event) -> None:
        assert row.version_id is not None
        subject = about(session, row.version_id)
        boards = addressees(session, subject.program_id)
        data: dict[str, object] = dict(row.data)
        deciding = next((b for b in boards if b.board_id == row.board_id), None)
        if deciding is not None:
            data["board"] = f"{deciding.name}, {deciding.municipality}"
        for to in boards:
            message = mail.notice(
                row.type,
                subject,
                to,
                sender=self.config.mail_from,
                at=row.at,
                data=data,
                public_url=self.config.public_url,
            )
            enqueue(
                session,
                message,
                kind=row.type,
                key=mail.notice_key(row.type, subject.version_id, to.board_id),
                about=subject,
                to=to,
                now=row.at,
            )


def install(db: Database, config: Config) -> None:
    """Register the outbox writer on `db` once (a second call replaces the first)."""
    db.outbox_writers[:] = [w for w in db.outbox_writers if not isinstance(w, MailOutbox)]
    db.outbox_writers.append(MailOutbox(config))
