"""The seed data of the contract: the Södertörn boards, program `sup`, SUP 2013 and SUP 2035."""

from datetime import date, datetime

from sqlalchemy.exc import IntegrityError

from db import commands, models
from db.engine import Database
from db.uow import UnitOfWork
from workflow.actors import SYSTEM
from workflow.dates import final_on
from workflow.errors import AlreadyExists
from workflow.events import Event, EventType

BOARDS = [
    ("botkyrka", "0127", "Botkyrka kommun"),
    ("haninge", "0136", "Haninge kommun"),
    ("huddinge", "0126", "Huddinge kommun"),
    ("nykvarn", "0140", "Nykvarns kommun"),
    ("nynashamn", "0192", "Nynäshamns kommun"),
    ("salem", "0128", "Salems kommun"),
    ("sodertalje", "0181", "Södertälje kommun"),
    ("tyreso", "0138", "Tyresö kommun"),
]
PROGRAM_ID = "sup"
SUP_2013 = "a5d6e1f0-2013-4000-8000-000000002013"
SUP_2035 = "a5d6e1f0-2035-4000-8000-000000002035"


def seed(db: Database, now: datetime) -> bool:
    """Add whatever of the seed data is missing; True if anything was added."""
    try:
        return _seed(db, now)
    except (AlreadyExists, IntegrityError):
        return False  # another process seeded at the same moment


def _seed(db: Database, now: datetime) -> bool:
    with UnitOfWork(db, SYSTEM, now) as uow:
        if uow.session.get(models.Program, PROGRAM_ID) is not None:
            return False
        for board_id, code, municipality in BOARDS:
            if uow.session.get(models.Board, board_id) is None:
                commands.create_board(
                    uow,
                    board_id,
                    municipality=municipality,
                    name="Kommunstyrelsen",
                    municipality_code=code,
                    email=f"kommunstyrelsen@{board_id}.example",
                )
        commands.create_program(
            uow,
            PROGRAM_ID,
            "Södertörns utvecklingsprogram",
            "Södertörns samarbetskommitté",
            [b[0] for b in BOARDS],
        )
        _seed_versions(uow)
        uow.commit()
    return True


def _seed_versions(uow: UnitOfWork) -> None:
    commands.import_in_force(
        uow,
        PROGRAM_ID,
        commands.Draft(
            label="SUP 2013",
            drafted_on=date(2013, 4, 29),
            valid_from=date(2013, 4, 29),
            valid_until=None,
            replaces=None,
        ),
        in_force_from=date(2013, 4, 29),
        note="historical record: approved before ratify; only Tyresö's decision is known",
        version_id=SUP_2013,
    )
    uow.flush()
    uow.session.add(
        models.Decision(
            id="a5d6e1f0-2013-4000-8000-000000000078",
            version_id=SUP_2013,
            board_id="tyreso",
            outcome="approved",
            decided_on=date(2013, 4, 29),
            paragraph="§ 78",
            case_number=None,
            final_on=final_on(None),
            note="imported from Tyresö's 2019 decision § 60, which cites it",
            recorded_by=SYSTEM.name,
            recorded_by_role=SYSTEM.role.value,
            recorded_at=uow.now,
        )
    )
    uow.record(
        Event(
            EventType.DECISION_IMPORTED,
            PROGRAM_ID,
            SUP_2013,
            "tyreso",
            {"outcome": "approved", "decided_on": "2013-04-29", "paragraph": "§ 78"},
        )
    )
    commands.create_version(
        uow,
        PROGRAM_ID,
        commands.Draft(
            label="SUP 2035",
            drafted_on=date(2019, 5, 28),
            valid_from=date(2019, 1, 1),
            valid_until=date(2022, 12, 31),
            replaces=SUP_2013,
        ),
        version_id=SUP_2035,
    )
