"""One path for every event: whoever causes it, it reaches the audit trail and the webhooks.

A subscription to `*` is made on an empty database; then the seed, the CLI's
key commands, the API (decisions, and their life after the meeting), the
clock (legal force, the reminder sweep, mail delivery that fails, then
succeeds) each cause their events, and the subscriber receives every type of
the closed vocabulary `EventType`: none is written by a side door.
"""

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api import cli, evidence_cli
from api.app import create_app
from api.settings import Settings, notifications_config
from db import seed
from db.engine import Database
from db.mail_queue import Retry
from notifications import scheduler
from notifications.config import Config
from notifications.senders import Connection
from tests.conftest import BOARD_IDS, SUP_2035, Api, decision, make_key
from tests.receiver import receiver
from workflow.actors import Role
from workflow.dates import STOCKHOLM, today_in_stockholm
from workflow.events import EventType


class Refusing:
    """A sender whose relay is down: every e-mail fails (`Sender`)."""

    @contextmanager
    def open(self) -> Iterator[Connection]:
        raise ConnectionRefusedError("the relay is down")
        yield  # pragma: no cover  (a generator, so this is a context manager)


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=STOCKHOLM).astimezone(UTC)


def cli_args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**values)


def after_meeting(api: Api, ids: dict[str, str]) -> None:
    """Corrections, an appeal ruled annulled (the version is reopened and its predecessor
    reinstated), and a new approval that puts it back in force."""
    r = api.post(
        f"/v1/decisions/{ids['salem']}/corrections",
        {"changes": {"paragraph": "§ 61"}, "reason": "the minutes say § 61"},
        as_="salem",
    )
    assert r.status_code == 201, r.text
    appeal = api.post(
        f"/v1/decisions/{ids['haninge']}/appeals",
        {"lodged_on": "2019-06-20", "court": "Förvaltningsrätten", "case_number": "1-19"},
        as_="haninge",
    ).json()
    r = api.post(
        f"/v1/appeals/{appeal['id']}/ruling",
        {"outcome": "annulled", "ruled_on": "2019-09-02", "ruling_final_on": "2019-09-24"},
    )
    assert r.status_code == 200, r.text
    again = decision("haninge", decided_on="2019-10-07")
    r = api.post(f"/v1/versions/{SUP_2035}/decisions", again, as_="haninge")
    assert r.json()["version_state"] == "in_force", r.text
    r = api.post(  # the last approval's meeting date moves the day of entry into force
        f"/v1/decisions/{r.json()['id']}/corrections",
        {"changes": {"decided_on": "2019-10-08"}, "reason": "the meeting was on Tuesday"},
        as_="haninge",
    )
    assert r.status_code == 201, r.text


def test_every_event_type_reaches_a_subscriber_to_all(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url, webhook_allowed_hosts="127.0.0.1", maildir=tmp_path / "mail"
    )
    config: Config = notifications_config(settings)
    failing = replace(config, retry=Retry(max_attempts=1))
    tokens = {"admin": make_key(db, "admin", Role.ADMIN)}
    now = datetime.now(UTC)
    respond_by = today_in_stockholm(now) + timedelta(days=20)
    with (
        receiver() as rx,
        TestClient(create_app(db, settings), raise_server_exceptions=False) as client,
    ):
        api = Api(client, tokens)
        hook = api.post("/v1/webhooks", {"url": rx.url, "events": ["*"]}, as_="admin").json()
        seed.seed(db, now)  # boards, program, the imported SUP 2013, SUP 2035 drafted
        assert (
            cli.cmd_keys_create(cli_args(name="kansliet", role="secretariat", board=None), settings)
            == 0
        )
        assert cli.cmd_keys_revoke(cli_args(name="kansliet"), settings) == 0
        assert evidence_cli.cmd_feeds_create(cli_args(key="admin"), settings) == 0
        assert evidence_cli.cmd_feeds_revoke(cli_args(key="admin"), settings) == 0
        tokens["secretariat"] = make_key(db, "secretariat", Role.SECRETARIAT)
        for board_id in BOARD_IDS:
            tokens[board_id] = make_key(db, f"{board_id}-system", Role.BOARD, board_id)

        api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by.isoformat()})
        scheduler.tick(db, failing, now + timedelta(minutes=1), sender=Refusing())  # mail.failed
        scheduler.tick(db, config, noon(respond_by + timedelta(days=2)))  # reminder.sent
        scheduler.tick(db, failing, noon(respond_by + timedelta(days=9)), sender=Refusing())
        ids = {}
        dates = {"minutes_attested_on": "2019-06-11", "announced_on": "2019-06-12"}
        for board_id in BOARD_IDS:
            body = decision(board_id, **(dates if board_id != "tyreso" else {}))
            r = api.post(f"/v1/versions/{SUP_2035}/decisions", body, as_=board_id)
            assert r.status_code == 201, r.text
            ids[board_id] = r.json()["id"]
        r = api.post(f"/v1/decisions/{ids['tyreso']}/announcement", dates, as_="tyreso")
        assert r.status_code == 200, r.text
        scheduler.tick(db, config, noon(respond_by + timedelta(days=10)))  # mail.sent, *.final
        after_meeting(api, ids)

        for label, outcome in (("SUP 2040", "rejected"), ("SUP 2041", None)):
            body = {"label": label, "drafted_on": "2024-01-01", "valid_from": "2024-01-01"}
            version = api.post("/v1/programs/sup/versions", {**body, "replaces": SUP_2035}).json()
            if outcome is None:
                api.post(f"/v1/versions/{version['id']}/withdraw", {"reason": "rewritten"})
                continue
            api.post(
                f"/v1/versions/{version['id']}/send-out", {"respond_by": respond_by.isoformat()}
            )
            api.post(
                f"/v1/versions/{version['id']}/decisions", decision("salem", outcome), as_="salem"
            )

        for public in (True, False):  # program.published, program.unpublished
            r = api.client.patch(
                "/v1/programs/sup",
                json={"public": public},
                headers={"Authorization": f"Bearer {tokens['admin']}"},
            )
            assert r.status_code == 200, r.text
        api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", as_="admin")
        other = api.post("/v1/webhooks", {"url": rx.url, "events": ["key.created"]}, as_="admin")
        api.client.delete(
            f"/v1/webhooks/{other.json()['id']}",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )

        delivered = 0
        later = noon(respond_by + timedelta(days=30))  # after the ticks' clocks: all due
        while sent := scheduler.deliver_webhooks(db, config.webhooks, later):
            delivered += sent

    received = [json.loads(r.body)["type"] for r in rx.received]
    assert delivered == len(received)
    assert set(received) == {t.value for t in EventType}
