"""Idempotency-Key (a retry replays the first answer and writes nothing) and ETag / If-Match."""

from typing import Any

from httpx2 import Response

from db.engine import Database
from tests.conftest import SUP_2013, SUP_2035, Api, decision, respond_by
from tests.integration.test_rules import assert_problem, get_decisions, get_version, row_counts

KEY = "Idempotency-Key"


def post(api: Api, path: str, body: Any, as_: str, **headers: str) -> Response:
    r: Response = api.post(path, body, as_=as_, headers=headers)
    return r


def keyed(key: str, if_match: str | None = None) -> dict[str, str]:
    headers = {KEY: key}
    if if_match is not None:
        headers["If-Match"] = if_match
    return headers


def etag(api: Api, version_id: str) -> str:
    r = api.get(f"/v1/versions/{version_id}")
    assert r.status_code == 200, r.text
    tag: str = r.headers["etag"]
    return tag


def snapshot(api: Api, db: Database, *version_ids: str) -> Any:
    return (
        row_counts(db),
        [(get_version(api, v), get_decisions(api, v)) for v in version_ids],
    )


def assert_replayed(first: Response, retry: Response) -> None:
    assert retry.status_code == first.status_code
    assert retry.content == first.content
    assert retry.headers.get("location") == first.headers.get("location")
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_a_retried_decision_is_replayed_and_writes_nothing(api: Api, seeded: Database) -> None:
    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    path = f"/v1/versions/{SUP_2035}/decisions"
    body = decision("tyreso", paragraph="§ 60", case_number="2019/KS 0260 005")
    first = api.post(path, body, as_="tyreso", headers=keyed("ks-2019-06-10-60"))
    assert first.status_code == 201, first.text
    assert len(get_decisions(api, SUP_2035)) == 1
    before = snapshot(api, seeded, SUP_2035)

    retry = api.post(path, body, as_="tyreso", headers=keyed("ks-2019-06-10-60"))
    assert_replayed(first, retry)
    # The same body spelt differently (key order, whitespace, explicit nulls) is the same body.
    respelt = {**dict(reversed(body.items())), "note": None, "paragraph": " § 60 "}
    retry = api.post(path, respelt, as_="tyreso", headers=keyed("ks-2019-06-10-60"))
    assert_replayed(first, retry)
    assert snapshot(api, seeded, SUP_2035) == before

    # Another body under the same key, or the same body sent to another path, is refused.
    for other_path, other in (
        (path, {**body, "paragraph": "§ 61"}),
        (path, {**body, "outcome": "rejected"}),
        (f"/v1/versions/{SUP_2013}/decisions", body),
    ):
        r = api.post(other_path, other, as_="tyreso", headers=keyed("ks-2019-06-10-60"))
        assert_problem(r, 422, "idempotency_key_reused")
        assert "idempotent-replayed" not in r.headers
    assert snapshot(api, seeded, SUP_2035) == before

    # A new key is a new request: this one is refused by the rules, not replayed.
    r = api.post(path, body, as_="tyreso", headers=keyed("ks-2019-06-10-60-again"))
    assert_problem(r, 409, "already_decided")
    assert snapshot(api, seeded, SUP_2035) == before


def test_retried_creates_and_transitions_replay_their_first_answer(
    api: Api, seeded: Database
) -> None:
    check_a_retried_create_is_replayed_not_duplicated(api, seeded)
    check_the_first_answer_is_replayed_even_after_the_version_moved_on(api, seeded)


def check_a_retried_create_is_replayed_not_duplicated(api: Api, seeded: Database) -> None:
    program = {"id": "pair", "title": "Pair", "owner": "Samråd", "boards": ["botkyrka", "haninge"]}
    first = api.post("/v1/programs", program, headers=keyed("program-pair"))
    assert first.status_code == 201, first.text
    retry = api.post("/v1/programs", program, headers=keyed("program-pair"))
    assert_replayed(first, retry)

    body = {"label": "Pair 2019", "drafted_on": "2019-05-28", "valid_from": "2019-01-01"}
    first = api.post("/v1/programs/pair/versions", body, headers=keyed("pair-2019"))
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/versions/{first.json()['id']}"
    before = snapshot(api, seeded, first.json()["id"])
    for _ in range(2):
        retry = api.post("/v1/programs/pair/versions", body, headers=keyed("pair-2019"))
        assert_replayed(first, retry)
    assert snapshot(api, seeded, first.json()["id"]) == before
    versions = api.get("/v1/programs/pair/versions").json()["items"]
    assert [v["id"] for v in versions] == [first.json()["id"]]
    # Without the key, the same request is a new one, and the label is taken.
    r = api.post("/v1/programs/pair/versions", body)
    assert_problem(r, 409, "already_exists")
    assert snapshot(api, seeded, first.json()["id"]) == before


def check_the_first_answer_is_replayed_even_after_the_version_moved_on(
    api: Api, seeded: Database
) -> None:
    path = f"/v1/versions/{SUP_2035}/send-out"
    body = {"respond_by": respond_by()}
    first = api.post(path, body, headers=keyed("send-sup-2035"))
    assert first.status_code == 200, first.text
    r = api.post(f"/v1/versions/{SUP_2035}/withdraw", {"reason": "fel bilaga"})
    assert r.status_code == 200, r.text
    before = snapshot(api, seeded, SUP_2035)

    retry = api.post(path, body, headers=keyed("send-sup-2035"))
    assert_replayed(first, retry)
    assert retry.json()["state"] == "sent_out"  # the first answer, not today's state
    assert snapshot(api, seeded, SUP_2035) == before
    assert get_version(api, SUP_2035)["state"] == "withdrawn"


def test_keys_belong_to_their_caller(api: Api, seeded: Database) -> None:
    key = "shared-key-1"
    bodies = {
        "secretariat": {
            "label": "SUP 2040",
            "drafted_on": "2019-05-28",
            "valid_from": "2020-01-01",
        },
        "admin": {"label": "SUP 2045", "drafted_on": "2019-05-28", "valid_from": "2021-01-01"},
    }
    created = {}
    for who, body in bodies.items():
        r = api.post("/v1/programs/sup/versions", body, as_=who, headers=keyed(key))
        assert r.status_code == 201, r.text
        assert "idempotent-replayed" not in r.headers
        assert r.json()["label"] == body["label"]
        created[who] = r
    assert created["secretariat"].json()["id"] != created["admin"].json()["id"]

    assert api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}).is_success
    decided = {}
    for board_id in ("tyreso", "haninge"):
        r = api.post(
            f"/v1/versions/{SUP_2035}/decisions",
            decision(board_id),
            as_=board_id,
            headers=keyed(key),
        )
        assert r.status_code == 201, r.text
        assert r.json()["board_id"] == board_id
        decided[board_id] = r
    assert len(get_decisions(api, SUP_2035)) == 2

    # Each caller's retry replays its own first answer.
    before = snapshot(api, seeded, SUP_2035)
    for who, body in bodies.items():
        retry = api.post("/v1/programs/sup/versions", body, as_=who, headers=keyed(key))
        assert_replayed(created[who], retry)
    for board_id, first in decided.items():
        retry = api.post(
            f"/v1/versions/{SUP_2035}/decisions",
            decision(board_id),
            as_=board_id,
            headers=keyed(key),
        )
        assert_replayed(first, retry)
    assert snapshot(api, seeded, SUP_2035) == before
    labels = [v["label"] for v in api.get("/v1/programs/sup/versions").json()["items"]]
    assert sorted(labels) == ["SUP 2013", "SUP 2035", "SUP 2040", "SUP 2045"]


def new_version(api: Api, label: str) -> str:
    body = {"label": label, "drafted_on": "2019-05-28", "valid_from": "2020-01-01"}
    r = api.post("/v1/programs/sup/versions", body)
    assert r.status_code == 201, r.text
    version_id: str = r.json()["id"]
    return version_id


def test_etag_and_if_match(api: Api, seeded: Database) -> None:
    check_get_version_has_an_etag_that_follows_the_version(api)
    check_if_match_guards_every_transition(api, seeded, new_version(api, "SUP 2040"))
    check_a_keyed_retry_with_a_now_stale_if_match_is_replayed(
        api, seeded, new_version(api, "SUP 2045")
    )


def check_get_version_has_an_etag_that_follows_the_version(api: Api) -> None:
    r = api.get(f"/v1/versions/{SUP_2035}")
    tag = r.headers["etag"]
    assert tag.startswith('"')
    assert tag.endswith('"')
    assert etag(api, SUP_2035) == tag  # stable while nothing changes
    assert etag(api, SUP_2013) != tag

    r = post(api, f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()}, "secretariat")
    assert r.status_code == 200, r.text
    sent = etag(api, SUP_2035)
    assert sent != tag
    assert r.headers["etag"] == sent  # the transition answers with the new ETag

    r = post(api, f"/v1/versions/{SUP_2035}/decisions", decision("tyreso"), "tyreso")
    assert r.status_code == 201, r.text
    assert etag(api, SUP_2035) not in {tag, sent}


def check_if_match_guards_every_transition(api: Api, seeded: Database, version_id: str) -> None:
    path = f"/v1/versions/{version_id}"
    drafted = etag(api, version_id)
    body = {"respond_by": respond_by()}

    # send-out: a tag that is not this version's current one is refused.
    for stale in (etag(api, SUP_2013), '"0123456789abcdef0123456789abcdef"', f"W/{drafted}"):
        before = snapshot(api, seeded, version_id)
        r = post(api, f"{path}/send-out", body, "secretariat", **{"If-Match": stale})
        assert_problem(r, 412, "precondition_failed")
        assert snapshot(api, seeded, version_id) == before
    r = post(api, f"{path}/send-out", body, "secretariat", **{"If-Match": drafted})
    assert r.status_code == 200, r.text
    sent = etag(api, version_id)

    # decisions: the first with the current tag passes; the second, with the same (now stale)
    # tag, is refused; with the fresh tag it passes.
    r = post(api, f"{path}/decisions", decision("tyreso"), "tyreso", **{"If-Match": sent})
    assert r.status_code == 201, r.text
    one_decision = etag(api, version_id)
    before = snapshot(api, seeded, version_id)
    r = post(api, f"{path}/decisions", decision("haninge"), "haninge", **{"If-Match": sent})
    assert_problem(r, 412, "precondition_failed")
    assert snapshot(api, seeded, version_id) == before
    r = post(api, f"{path}/decisions", decision("haninge"), "haninge", **{"If-Match": one_decision})
    assert r.status_code == 201, r.text

    # withdraw: stale refused; a list naming the current tag, or `*`, passes.
    current = etag(api, version_id)
    before = snapshot(api, seeded, version_id)
    for stale in (sent, one_decision):
        r = post(api, f"{path}/withdraw", {"reason": "x"}, "secretariat", **{"If-Match": stale})
        assert_problem(r, 412, "precondition_failed")
    assert snapshot(api, seeded, version_id) == before
    r = post(
        api,
        f"{path}/withdraw",
        {"reason": "x"},
        "secretariat",
        **{"If-Match": f"{sent}, {current}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "withdrawn"

    # `*` matches any current version, so the state machine has the last word.
    r = post(api, f"{path}/withdraw", {"reason": "x"}, "secretariat", **{"If-Match": "*"})
    assert_problem(r, 409, "invalid_transition")


def check_a_keyed_retry_with_a_now_stale_if_match_is_replayed(
    api: Api, seeded: Database, version_id: str
) -> None:
    """The first attempt succeeded and changed the ETag; its retry must not turn into a 412."""
    sent = api.post(f"/v1/versions/{version_id}/send-out", {"respond_by": respond_by()})
    assert sent.status_code == 200, sent.text
    tag = sent.headers["etag"]
    path = f"/v1/versions/{version_id}/decisions"
    first = api.post(path, decision("salem"), as_="salem", headers=keyed("salem-60", tag))
    assert first.status_code == 201, first.text
    assert etag(api, version_id) != tag
    before = snapshot(api, seeded, version_id)
    retry = api.post(path, decision("salem"), as_="salem", headers=keyed("salem-60", tag))
    assert_replayed(first, retry)
    assert snapshot(api, seeded, version_id) == before
