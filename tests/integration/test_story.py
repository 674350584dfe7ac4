"""The SUP 2035 story end to end over HTTP."""

from tests.conftest import BOARD_IDS, SUP_2013, SUP_2035, Api, decision, respond_by


def test_sup_2035_enters_into_force_when_the_eighth_board_approves(api: Api) -> None:
    r = api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "sent_out"

    dates = [
        "2019-06-03",
        "2019-06-04",
        "2019-06-10",
        "2019-06-10",
        "2019-06-11",
        "2019-06-12",
        "2019-06-17",
    ]
    for board_id, day in zip(BOARD_IDS[:7], dates, strict=True):
        r = api.post(
            f"/v1/versions/{SUP_2035}/decisions", decision(board_id, decided_on=day), as_=board_id
        )
        assert r.status_code == 201, r.text
        assert r.json()["version_state"] == "sent_out"
        assert r.json()["recorded_by"] == f"{board_id}-system"

    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision(
            "tyreso",
            decided_on="2019-06-10",
            paragraph="§ 60",
            case_number="2019/KS 0260 005",
            announced_on="2019-06-13",
        ),
        as_="tyreso",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version_state"] == "in_force"
    assert body["appeal_until"] == "2019-07-04"  # 13 June + 21 days, a Thursday
    assert body["final_on"] == "2019-07-05"  # legal force: the day after

    new = api.get(f"/v1/versions/{SUP_2035}").json()
    old = api.get(f"/v1/versions/{SUP_2013}").json()
    assert new["state"] == "in_force"
    assert new["in_force_from"] == "2019-06-17"
    assert old["state"] == "superseded"
    assert old["superseded_on"] == "2019-06-17"
    assert old["superseded_by"] == SUP_2035
    assert {b["status"] for b in new["boards"]} == {"approved"}

    assert api.get("/v1/programs/sup/in-force?on=2015-01-01").json()["id"] == SUP_2013
    assert api.get("/v1/programs/sup/in-force?on=2019-06-16").json()["id"] == SUP_2013
    assert api.get("/v1/programs/sup/in-force?on=2019-06-17").json()["id"] == SUP_2035
    assert api.get("/v1/programs/sup/in-force").json()["id"] == SUP_2035
    r = api.get("/v1/programs/sup/in-force?on=2010-01-01")
    assert r.status_code == 404
    assert r.json()["code"] == "none_in_force"
    assert api.get("/v1/programs/sup").json()["in_force_version_id"] == SUP_2035


def test_the_versions_list_shows_each_version_as_its_own_read_does(api: Api) -> None:
    """The list reads every version's decisions at once, a read one version's in one
    statement, a command after the version's lock: all three agree."""
    api.post(f"/v1/versions/{SUP_2035}/send-out", {"respond_by": respond_by()})
    for board_id in BOARD_IDS[:3]:
        r = api.post(f"/v1/versions/{SUP_2035}/decisions", decision(board_id), as_=board_id)
        assert r.status_code == 201, r.text
    r = api.post(
        f"/v1/versions/{SUP_2035}/decisions",
        decision(BOARD_IDS[3], outcome="referred_back"),
        as_=BOARD_IDS[3],
    )
    assert r.status_code == 201, r.text

    listed = api.get("/v1/programs/sup/versions").json()["items"]
    assert [v["id"] for v in listed] == [SUP_2013, SUP_2035]
    assert listed == [api.get(f"/v1/versions/{v['id']}").json() for v in listed]
    statuses = [b["status"] for b in listed[1]["boards"]]
    assert statuses == ["approved"] * 3 + ["referred_back"] + ["pending"] * 4

    paged, cursor = [], None
    while True:
        query = "?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/v1/programs/sup/versions{query}").json()
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == listed
