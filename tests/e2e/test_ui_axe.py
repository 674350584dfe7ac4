"""axe-core finds no WCAG 2.1 A/AA violation on any page of the status page.

One `ratify serve` on a fresh SQLite file and one headless Chromium serve
the module. SUP 2035 is sent out and a few boards have decided, so the grid
shows several statuses; each test opens one page and runs axe on it.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from db import seed
from tests.e2e.axe import assert_accessible, axe_source
from tests.e2e.browser import (
    chromium,
    element,
    require_chromium,
    seen,
    viewport,
    wait_for_url,
)
from tests.e2e.conftest import Ratify
from workflow.dates import today_in_stockholm

SUP_2035 = seed.SUP_2035
DECISIONS = [  # (board, outcome, meeting): approved, referred back, tabled; the rest pending
    ("botkyrka", "approved", "2019-06-03"),
    ("huddinge", "approved", "2019-06-10"),
    ("haninge", "referred_back", "2019-06-04"),
    ("nykvarn", "tabled", "2019-06-10"),
]


@dataclass
class Site:
    """The server's address, an administrator's token, and the browser."""

    base_url: str
    token: str
    driver: webdriver.Chrome

    def open(self, path: str) -> None:
        """Show `path` of the server."""
        self.driver.get(self.base_url + path)

    def sign_out(self) -> None:
        """Forget the session (and the language chosen)."""
        self.open("/ui/login")
        self.driver.delete_all_cookies()

    def sign_in(self) -> None:
        """Sign in with the token through the login form, unless signed in already."""
        self.open("/ui/login")
        if "ratify_session" in {c["name"] for c in self.driver.get_cookies()}:
            return
        element(self.driver, "#token").send_keys(self.token, Keys.ENTER)
        wait_for_url(self.driver, self.base_url + "/ui/programs")


def send_out_and_decide(server_url: str, tokens: dict[str, str]) -> None:
    """SUP 2035 out for decision; four boards' decisions registered by the administrator."""
    respond_by = today_in_stockholm(datetime.now(UTC)) + timedelta(days=30)
    with httpx.Client(base_url=server_url, trust_env=False, timeout=60) as api:
        r = api.post(
            f"/v1/versions/{SUP_2035}/send-out",
            json={"respond_by": respond_by.isoformat()},
            headers={"Authorization": f"Bearer {tokens['kansliet']}"},
        )
        assert r.status_code == 200, r.text
        for board_id, outcome, decided_on in DECISIONS:
            body = {
                "board_id": board_id,
                "outcome": outcome,
                "decided_on": decided_on,
                "paragraph": "§ 42",
                "case_number": f"KS 2019/{board_id}",
            }
            r = api.post(
                f"/v1/versions/{SUP_2035}/decisions",
                json=body,
                headers={"Authorization": f"Bearer {tokens['registrator']}"},
            )
            assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with SUP 2035 under decision, and a browser; stopped when the module is done."""
    require_chromium()
    axe_source()  # fail at once, before a server starts, when node_modules is missing
    workdir = tmp_path_factory.mktemp("axe")
    ratify = Ratify(workdir, f"sqlite:///{workdir / 'ratify.db'}")
    try:
        (server,) = ratify.serve()
        tokens = ratify.create_keys(
            {"kansliet": ("secretariat", None), "registrator": ("admin", None)}
        )
        send_out_and_decide(server.base_url, tokens)
        with chromium() as driver:
            yield Site(server.base_url, tokens["registrator"], driver)
        assert ratify.problems() == []
    finally:
        ratify.close()


def test_login_page(site: Site) -> None:
    site.sign_out()
    site.open("/ui/login?next=/ui/programs/sup")
    assert_accessible(site.driver, "the login page")


def test_login_page_with_an_error(site: Site) -> None:
    site.sign_out()
    site.open("/ui/login")
    element(site.driver, "#token").send_keys("rat_wrong", Keys.ENTER)
    element(site.driver, "#login-error")
    assert_accessible(site.driver, "the login page showing an error")


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("the programs list", "/ui/programs"),
        ("the program page", "/ui/programs/sup?lang=sv"),
        ("the program page in English", "/ui/programs/sup?lang=en"),
        ("the version's events", f"/ui/versions/{SUP_2035}/audit?lang=sv"),
        ("the 404 page", "/ui/programs/no-such-program?lang=sv"),
        ("the decision form", f"/ui/versions/{SUP_2035}/decisions"),
        ("the send-out form", f"/ui/versions/{SUP_2035}/send-out"),
        ("the withdraw form in English", f"/ui/versions/{SUP_2035}/withdraw?lang=en"),
        ("the new version form", "/ui/programs/sup/versions?lang=sv"),
    ],
)
def test_signed_in_page(site: Site, name: str, path: str) -> None:
    site.sign_in()
    site.open(path)
    assert_accessible(site.driver, name)


def test_a_form_showing_errors(site: Site) -> None:
    site.sign_in()
    site.open("/ui/programs/sup/versions?lang=sv")
    for name, value in (
        ("label", "SUP 2040"),
        ("drafted_on", "28 maj 2022"),
        ("valid_from", "2023-01-01"),
        ("document.title", "Södertörns utvecklingsprogram 2040"),
    ):
        site.driver.find_element(By.NAME, name).send_keys(value)
    element(site.driver, "#submit").click()
    assert "ÅÅÅÅ-MM-DD" in seen(site.driver, "#f-drafted-on-error")
    assert element(site.driver, "#f-document-url").get_attribute("aria-invalid") == "true"
    assert_accessible(site.driver, "a form showing errors")


def test_the_program_page_on_a_phone(site: Site) -> None:
    site.sign_in()
    viewport(site.driver, 390, 844, mobile=True)  # the grid's rows become cards
    try:
        site.open("/ui/programs/sup?lang=sv")
        assert_accessible(site.driver, "the program page on a phone")
    finally:
        viewport(site.driver, 1280, 900, mobile=False)


def test_axe_reports_what_is_wrong(site: Site) -> None:
    site.sign_in()
    site.open("/ui/programs")
    # An input nobody labelled, as a careless template change would leave it.
    site.driver.execute_script(
        "document.querySelector('main').append(Object.assign("
        "document.createElement('input'), {id: 'unlabelled'}))"
    )
    with pytest.raises(pytest.fail.Exception, match=r"- label \(critical\): .* at #unlabelled"):
        assert_accessible(site.driver, "a broken page")
