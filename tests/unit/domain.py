"""Reading a domain `Version` in tests: its boards' statuses and approval dates as dicts."""

from datetime import date

from workflow.states import BoardStatus
from workflow.versions import Version


def statuses(version: Version) -> dict[str, BoardStatus]:
    """The status of every board that has decided something, by board id."""
    return {board_id: board.state for board_id, board in version.boards.items()}


def approved_on(version: Version) -> dict[str, date | None]:
    """The meeting date of every approval, by board id."""
    return {
        board_id: board.decided_on
        for board_id, board in version.boards.items()
        if board.state is BoardStatus.APPROVED
    }
