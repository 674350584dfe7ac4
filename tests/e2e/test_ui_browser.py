"""The status page in a real browser while the SUP 2035 story happens through the API.

A `ratify serve` process on a fresh SQLite file; keys from `ratify keys
create`; the secretariat sends SUP 2035 out, Tyresö's case-management
system records its decision and an administrator registers the other
boards' (all with httpx), while headless Chromium shows the program page to
that administrator as a person would see it: signing in with the keyboard,
reading the grid, switching language, reading the events, and on a phone.
A screenshot of the grid is taken at each step (under the test's tmp_path,
`screenshots/`).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from db import seed
from tests.e2e.browser import (
    chromium,
    element,
    focused_id,
    require_chromium,
    screenshot,
    scrolls_sideways,
    seen,
    viewport,
    wait_for_url,
)
from tests.e2e.conftest import Ratify, Server
from workflow.dates import today_in_stockholm

SUP_2035 = seed.SUP_2035
APPROVALS = [  # the seven boards before Tyresö, with their meeting dates
    ("botkyrka", "2019-06-03"),
    ("haninge", "2019-06-04"),
    ("huddinge", "2019-06-10"),
    ("nykvarn", "2019-06-10"),
    ("nynashamn", "2019-06-11"),
    ("salem", "2019-06-12"),
    ("sodertalje", "2019-06-17"),
]


@dataclass
class Story:
    """The server, the API clients, the browser."""

    server: Server
    secretariat: httpx.Client
    tyreso: httpx.Client
    registrar: httpx.Client
    person_token: str
    driver: webdriver.Chrome
    shots: Path
    taken: list[Path]

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def open(self, path: str) -> None:
        self.driver.get(self.url(path))

    def shoot(self, name: str, css: str | None = None, whole_page: bool = False) -> Path:
        """A screenshot of the element `css`, of the whole page, or of what is in view."""
        path = self.shots / f"{len(self.taken):02d}-{name}.png"
        if css is None and not whole_page:
            assert self.driver.save_screenshot(str(path))
        else:
            screenshot(self.driver, path, css)
        self.taken.append(path)
        return path

    def decide(self, board_id: str, outcome: str, decided_on: str, **extra: Any) -> dict[str, Any]:
        """Tyresö's system records its decision; an administrator registers the others'."""
        body = {
            "board_id": board_id,
            "outcome": outcome,
            "decided_on": decided_on,
            "paragraph": extra.pop("paragraph", "§ 42"),
            "case_number": extra.pop("case_number", f"KS 2019/{len(board_id)}{board_id[:3]}"),
            **extra,
        }
        client = self.tyreso if board_id == "tyreso" else self.registrar
        r = client.post(f"/v1/versions/{SUP_2035}/decisions", json=body)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result


@pytest.fixture
def story(ratify_factory: Callable[[str | None], Ratify], tmp_path: Path) -> Iterator[Story]:
    """A server on a fresh SQLite file, the keys of the story, and a browser."""
    require_chromium()
    ratify = ratify_factory(f"sqlite:///{tmp_path / 'ratify.db'}")
    (server,) = ratify.serve()
    tokens = ratify.create_keys(
        {
            "kansliet": ("secretariat", None),
            "tyreso-w3d3": ("board", "tyreso"),
            "registrator": ("admin", None),
        }
    )
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with chromium() as driver:
        yield Story(
            server=server,
            secretariat=ratify.client(server, tokens["kansliet"]),
            tyreso=ratify.client(server, tokens["tyreso-w3d3"]),
            registrar=ratify.client(server, tokens["registrator"]),
            person_token=tokens["registrator"],
            driver=driver,
            shots=shots,
            taken=[],
        )
    assert ratify.problems() == []


def test_the_status_page_follows_sup_2035_into_force(story: Story) -> None:
    driver = story.driver

    # Signing in, by keyboard: the page sends the browser to the login form.
    story.open("/ui/programs/sup")
    assert driver.current_url == story.url("/ui/login?next=/ui/programs/sup")
    assert seen(driver, "label[for=token]") == "API-nyckel"
    token_field = element(driver, "#token")
    token_field.send_keys("rat_wrong")
    token_field.send_keys(Keys.ENTER)
    assert "Nyckeln är okänd eller återkallad." in seen(driver, "#login-error")
    story.shoot("login-refused")
    element(driver, "#token").send_keys(story.person_token, Keys.ENTER)
    wait_for_url(driver, story.url("/ui/programs/sup"))
    assert "ratify_session" in {c["name"] for c in driver.get_cookies()}
    assert story.person_token not in str(driver.get_cookies())

    # Before the send-out: SUP 2013 is in force; SUP 2035 a draft.
    assert seen(driver, "#in-force") == "SUP 2013 ✓ Gällande gällande sedan 2013-04-29"
    assert "SUP 2035 ○ Utkast" in seen(driver, "section.round h2")
    story.shoot("drafted", "section.round")

    respond_by = today_in_stockholm(datetime.now(UTC)) + timedelta(days=30)
    r = story.secretariat.post(
        f"/v1/versions/{SUP_2035}/send-out", json={"respond_by": respond_by.isoformat()}
    )
    assert r.status_code == 200, r.text
    driver.refresh()
    assert seen(driver, "section.round h2") == "Ute för beslut: SUP 2035 → Utskickad"
    assert "0 av 8 har godkänt" in seen(driver, "section.round .summary")
    tyreso = "tr[data-board=tyreso]"
    assert (
        seen(driver, tyreso)
        == "Tyresö kommun Kommunstyrelsen ○ Ej beslutat – – – 30 dagar kvar – –"
    )
    story.shoot("sent-out", "section.round")

    # Haninge's board refers the matter back first, then approves at its next meeting.
    story.decide("haninge", "referred_back", "2019-06-03", paragraph="§ 88")
    driver.refresh()
    assert "↻ Återremitterad 2019-06-03 § 88" in seen(driver, "tr[data-board=haninge]")
    assert "30 dagar kvar" in seen(driver, "tr[data-board=haninge]")
    story.shoot("haninge-referred-back", "section.round")

    for n, (board_id, decided_on) in enumerate(APPROVALS, start=1):
        assert story.decide(board_id, "approved", decided_on)["version_state"] == "sent_out"
        if n in (3, 7):
            driver.refresh()
            assert f"{n} av 8 har godkänt" in seen(driver, "section.round .summary")
            story.shoot(f"{n}-approved", "section.round")
    row = seen(driver, "tr[data-board=sodertalje]")
    assert row.startswith("Södertälje kommun Kommunstyrelsen ✓ Godkänd 2019-06-17 § 42")
    assert row.endswith("Besvarad – –")
    assert (
        seen(driver, tyreso)
        == "Tyresö kommun Kommunstyrelsen ○ Ej beslutat – – – 30 dagar kvar – –"
    )
    assert seen(driver, "#in-force").startswith("SUP 2013 ✓ Gällande")

    # Tyresö's § 60: the eighth approval puts SUP 2035 in force.
    decision = story.decide(
        "tyreso",
        "approved",
        "2019-06-10",
        paragraph="§ 60",
        case_number="2019/KS 0260 005",
        announced_on="2019-06-13",
    )
    assert decision["version_state"] == "in_force"
    driver.refresh()
    assert seen(driver, "#in-force") == "SUP 2035 ✓ Gällande gällande sedan 2019-06-17"
    assert seen(driver, "section.round h2") == "Senaste versionen: SUP 2035 ✓ Gällande"
    assert "8 av 8 har godkänt" in seen(driver, "section.round .summary")
    assert seen(driver, tyreso) == (
        "Tyresö kommun Kommunstyrelsen ✓ Godkänd 2019-06-10 § 60 2019/KS 0260 005 Besvarad"
        " 2019-07-04 2019-07-05"
    )
    assert "SUP 2013 – Ersatt 2013-04-29" in seen(driver, "#versions")
    story.shoot("in-force", "section.round")
    story.shoot("in-force-page", whole_page=True)

    # The keyboard reaches the language toggle (after the skip link), with a visible focus.
    driver.refresh()
    for _ in range(4):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        if focused_id(driver) == "lang-toggle":
            break
    assert focused_id(driver) == "lang-toggle"
    toggle = driver.switch_to.active_element
    assert toggle.value_of_css_property("outline-style") == "solid"
    assert toggle.text == "English"
    toggle.send_keys(Keys.ENTER)
    wait_for_url(driver, story.url("/ui/programs/sup?lang=en"))
    assert seen(driver, "#in-force") == "SUP 2035 ✓ In force in force since 2019-06-17"
    assert seen(driver, tyreso).startswith("Tyresö kommun Kommunstyrelsen ✓ Approved")
    story.open("/ui/programs/sup")  # the choice is remembered
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert seen(driver, "section.round h2") == "Latest version: SUP 2035 ✓ In force"

    # The events, newest first, and the chain check (this is an administrator).
    link = driver.find_element(By.CSS_SELECTOR, f"tr[data-version='{SUP_2035}'] a[href$='/audit']")
    link.click()
    wait_for_url(driver, story.url(f"/ui/versions/{SUP_2035}/audit"))
    assert seen(driver, "h1") == "Events for SUP 2035 ✓ In force"
    assert seen(driver, "#verify-result").startswith("✓ Intact:")
    first = driver.find_elements(By.CSS_SELECTOR, "#timeline > li")
    assert [e.get_attribute("data-type") for e in first[:3]] == [
        "version.in_force",
        "decision.recorded",
        "decision.recorded",
    ]
    assert "Entered into force" in " ".join(first[0].text.split())
    story.shoot("events")

    # On a phone: no sideways scrolling, the grid's rows become cards of labelled lines.
    viewport(driver, 390, 844, mobile=True)
    story.open("/ui/programs/sup?lang=sv")
    story.shoot("phone-grid", "section.round")
    assert not scrolls_sideways(driver)
    card = element(driver, tyreso)
    assert card.size["width"] <= 390
    status = card.find_element(By.CSS_SELECTOR, "td.status")
    assert status.value_of_css_property("display") == "grid"
    assert (
        driver.execute_script("return getComputedStyle(arguments[0], '::before').content", status)
        == '"Status"'
    )
    assert " ".join(status.text.split()) == "✓ Godkänd"
    story.open(f"/ui/versions/{SUP_2035}/audit")
    story.shoot("phone-events")
    assert not scrolls_sideways(driver)

    # Signing out.
    viewport(driver, 1280, 900, mobile=False)
    story.open("/ui/programs/sup")
    driver.find_element(By.CSS_SELECTOR, "form[action='/ui/logout'] button").click()
    wait_for_url(driver, story.url("/ui/login?bye=1"))
    assert seen(driver, "p.note") == "Du är utloggad."
    story.open("/ui/programs/sup")
    assert driver.current_url.startswith(story.url("/ui/login"))

    assert all(p.stat().st_size > 1000 for p in story.taken)
