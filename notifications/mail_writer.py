"""The mail outbox writer: turns a transaction's events into e-mails and reminder schedules.

Installed by the composition root (`api.bootstrap`), it runs inside the unit
of work, before commit, so an e-mail exists exactly when the state change
that caused it does:

    version.sent_out      a notice to every member board; each board is put on
                          the reminder schedule
    decision.recorded     approved / rejected / amended: that board's
                          reminders stop
    decision.annulled     the board decides again: it is put back on the
                          schedule while the version is out for decision
    version.reopened      a notice to every member board; every board that
                          still owes a decision is put back on the schedule
    version.in_force      a notice to every member board; all reminders stop
    version.rejected      likewise
    version.withdrawn     all reminders stop
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from db import models, queries, reminders
from db.mail_queue import insert_mail, mail_row
from db.repositories import standing_decisions
from notifications import mail
from notifications.config import Config
from workflow.events import NOTIFY_MEMBERS, START_REMINDERS, STOP_REMINDERS, EventType
from workflow.reminders import plan
from workflow.states import FINAL_OUTCOMES, UNDECIDED, BoardStatus, VersionState


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


def addressee(board: models.Board) -> mail.Addressee:
    """A member board as the e-mails address it."""
    return mail.Addressee(board.id, board.name, board.municipality, board.email)


class MailWriter:
    """The outbox writer (an `OutboxWriter`): e-mails and schedules for a transaction's events."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def __call__(self, session: Session, rows: Sequence[models.Event]) -> None:
        for row in rows:
            if row.version_id is None:
                continue
            kind = EventType(row.type)
            if kind in START_REMINDERS:
                self._schedule(session, row.version_id, row.at)
            elif kind is EventType.DECISION_ANNULLED and row.board_id is not None:
                self._schedule(session, row.version_id, row.at, [row.board_id])
            elif kind is EventType.DECISION_RECORDED:
                if row.data.get("outcome") in FINAL_OUTCOMES:
                    reminders.stop_reminders(session, row.version_id, row.board_id)
            elif kind in STOP_REMINDERS:
                reminders.stop_reminders(session, row.version_id)
            if kind in NOTIFY_MEMBERS:
                self._notify(session, row, kind)

    def _schedule(
        self, session: Session, version_id: str, at: datetime, boards: list[str] | None = None
    ) -> None:
        """Put `boards` (by default every member board that still owes a decision) on the
        reminder schedule of a version out for decision, from the next slot after `at`."""
        version, _title = queries.version_and_title(session, version_id)
        if version.state != VersionState.SENT_OUT:
            return
        if version.respond_by is None or version.sent_out_at is None:
            return
        first = plan(self.config.policy, version.respond_by, version.sent_out_at, at)
        if first.next is None:
            return
        if boards is None:
            standing = standing_decisions(session, version.id, version.program_id)
            boards = [
                board_id
                for board_id, decision in standing.items()
                if queries.board_status(decision, BoardStatus.PENDING) in UNDECIDED
            ]
        reminders.schedule(
            session, version.id, boards, first.handled_through, first.next.scheduled_for
        )

    def _notify(self, session: Session, row: models.Event, kind: EventType) -> None:
        """The notice of `row` to every member board."""
        assert row.version_id is not None
        subject = about_version(*queries.version_and_title(session, row.version_id))
        boards = [
            addressee(b)
            for b in queries.member_boards(session, [subject.program_id]).get(
                subject.program_id, []
            )
        ]
        data: dict[str, object] = dict(row.data)
        deciding = next((b for b in boards if b.board_id == row.board_id), None)
        if deciding is not None:
            data["board"] = f"{deciding.name}, {deciding.municipality}"
        occurrence = queries.occurrence(session, row)
        mails = []
        for to in boards:
            key = mail.notice_key(kind, subject.version_id, to.board_id, occurrence)
            message = mail.compose(
                *mail.notice_parts(
                    kind,
                    subject,
                    to,
                    key=key,
                    sender=self.config.mail_from,
                    at=row.at,
                    data=data,
                    public_url=self.config.public_url,
                )
            )
            mails.append(
                mail_row(
                    key=key,
                    kind=kind.value,
                    program_id=subject.program_id,
                    version_id=subject.version_id,
                    board_id=to.board_id,
                    recipient=to.email,
                    message_id=mail.message_id(key),
                    message=message,
                    now=row.at,
                )
            )
        insert_mail(session, mails)
