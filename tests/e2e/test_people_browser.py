"""People take SUP 2035 into force in a real browser, signing in at a real OpenID provider.

Two `ratify serve` processes share one SQLite file, both configured to sign
people in at the test provider (panva's oidc-provider in Node, started
after them on a port they were told in advance, so it can list their
callbacks). Headless Chromium does everything a person would: signs in at
the provider with the keyboard, follows the forms, signs out at ratify and
then at the provider. No API call drives the story; axe-core checks every
page it shows, and a screenshot is taken at each step (under the module's
temporary folder, `screenshots/`).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from db import seed
from tests.e2e.axe import assert_accessible, axe_source
from tests.e2e.browser import chromium, element, gone, require_chromium, screenshot, seen
from tests.e2e.conftest import Ratify, Server, free_port
from tests.oidc_provider import OidcProvider, client, oidc_provider
from tests.people import ACCOUNTS, BYE, CALLBACK, CLIENT_ID, REGISTRARS, SECRET, oidc_env
from workflow.dates import today_in_stockholm

SUP_2035 = seed.SUP_2035
MEETINGS = [  # (board, meeting, §, diarienummer), Tyresö's § 60 last: it puts SUP 2035 in force
    ("botkyrka", "2019-06-03", "§ 112", "KS/2019:311"),
    ("haninge", "2019-06-04", "§ 88", "KS 2019/0417"),
    ("huddinge", "2019-06-10", "§ 14", "KS-2019/1120"),
    ("nykvarn", "2019-06-10", "§ 71", "KS/2019/0089"),
    ("nynashamn", "2019-06-11", "§ 130", "KS/2019/0317"),
    ("salem", "2019-06-12", "§ 96", "KS 2019/141"),
    ("sodertalje", "2019-06-17", "§ 158", "KS 2019/00402"),
    ("tyreso", "2019-06-10", "§ 60", "2019/KS 0260 005"),
]


@dataclass
class Site:
    """Two servers on one database, the provider, the browser, and what was seen."""

    ratify: Ratify
    servers: list[Server]
    provider: OidcProvider
    driver: webdriver.Chrome
    shots: Path
    taken: list[Path] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The first server's address (the one the browser uses unless told)."""
        return self.servers[0].base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def step(self, name: str, whole_page: bool = True) -> None:
        """A screenshot of what the person sees now, and axe on it."""
        path = self.shots / f"{len(self.taken):02d}-{name}.png"
        if whole_page:
            screenshot(self.driver, path)
        else:
            assert self.driver.save_screenshot(str(path))
        self.taken.append(path)
        assert_accessible(self.driver, name)
        self.checked.append(name)

    def wait_for(self, prefix: str) -> None:
        """Until the browser is at an address starting with `prefix`."""
        WebDriverWait(self.driver, 30).until(lambda d: d.current_url.startswith(prefix))

    def sign_in(self, login: str, next_: str = "/ui/programs/sup", server: int = 0) -> None:
        """Through the login page's button and the provider's own sign-in form."""
        base = self.servers[server].base_url
        self.driver.get(f"{base}/ui/login?next={next_}")
        element(self.driver, "#oidc-login").click()
        self.wait_for(self.provider.issuer + "/interaction/")
        element(self.driver, "#login").send_keys(login)
        element(self.driver, "#password").send_keys("ignored", Keys.ENTER)
        self.wait_for(base + "/ui/")

    def sign_out(self) -> None:
        """Sign out of ratify, then (confirming) of the provider; back at ratify's login page."""
        self.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/logout'] button").click()
        self.wait_for(self.provider.issuer + "/session/end")
        element(self.driver, "button[type=submit]").click()
        self.wait_for(self.base + "/ui/login?bye=1")
        assert seen(self.driver, "p.note") == "Du är utloggad."

    def session_cookie(self) -> str:
        """The browser's session cookie, as a Cookie header."""
        value = next(c["value"] for c in self.driver.get_cookies() if c["name"] == "ratify_session")
        return f"ratify_session={value}"

    def fill(self, fields: dict[str, str]) -> None:
        """Type into a form's fields (choose in its selects), replacing what is there."""
        for name, value in fields.items():
            box = self.driver.find_element(By.NAME, name)
            if box.tag_name == "select":
                Select(box).select_by_value(value)
            else:
                box.clear()
                box.send_keys(value)

    def submit(self) -> None:
        """Press the form's button and wait for the answer (the form's page replaced)."""
        button = element(self.driver, "#submit")  # the form's page has loaded
        old = self.driver.find_element(By.TAG_NAME, "html")
        button.click()
        WebDriverWait(self.driver, 30).until(gone(old))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Two servers, the provider (started after them, on the port they were given), a browser."""
    require_chromium()
    axe_source()
    workdir = tmp_path_factory.mktemp("people")
    ratify = Ratify(workdir, f"sqlite:///{workdir / 'ratify.db'}")
    port = free_port()
    ratify.extra_env = oidc_env(f"http://127.0.0.1:{port}")
    try:
        servers = ratify.serve(2)
        bases = [s.base_url for s in servers]
        registration = client(
            CLIENT_ID, SECRET, [b + CALLBACK for b in bases], [b + BYE for b in bases]
        )
        shots = workdir / "screenshots"
        shots.mkdir()
        with (
            oidc_provider(workdir, clients=[registration], accounts=ACCOUNTS, port=port) as idp,
            chromium() as driver,
        ):
            yield Site(ratify, servers, idp, driver, shots)
        assert ratify.problems() == []
    finally:
        ratify.close()


@pytest.mark.slow
def test_sup_2035_goes_into_force_through_the_browser_only(site: Site) -> None:
    driver = site.driver
    site.open("/ui/programs/sup")
    site.wait_for(site.base + "/ui/login?next=/ui/programs/sup")
    assert seen(driver, "#oidc-login") == "Logga in via organisationen"
    site.step("login-page")

    # Somebody the provider knows but who has no role in ratify is refused, readably.
    site.sign_in("nils")
    assert "ingen roll i ratify" in seen(driver, "#refused")
    site.step("refused-no-role")
    element(driver, "#provider-logout").click()  # to sign in as somebody else
    site.wait_for(site.provider.issuer + "/session/end")
    element(driver, "button[type=submit]").click()
    site.wait_for(site.base + "/ui/login?bye=1")

    # The secretariat sends SUP 2035 out; a date in the past is refused next to the field.
    site.sign_in("kajsa")
    site.wait_for(site.base + "/ui/programs/sup")
    assert seen(driver, ".who") == "Inloggad som Kajsa Kansli (sekretariat)"
    site.step("secretariat-program")
    driver.find_element(By.CSS_SELECTOR, "a[data-action='send-out']").click()
    site.wait_for(site.base + f"/ui/versions/{SUP_2035}/send-out")
    site.step("send-out-form")
    today = today_in_stockholm(datetime.now(UTC))
    site.fill({"respond_by": (today - timedelta(days=1)).isoformat()})
    site.submit()
    assert "Svarsdagen kan inte ligga före i dag." in seen(driver, "#f-respond-by-error")
    assert element(driver, "#f-respond-by").get_attribute("aria-invalid") == "true"
    site.step("send-out-form-with-an-error")
    site.fill({"respond_by": (today + timedelta(days=30)).isoformat()})
    site.submit()
    site.wait_for(site.base + "/ui/programs/sup?done=send-out")
    assert seen(driver, "#done") == "Versionen är utskickad för beslut."
    assert "0 av 8 har godkänt" in seen(driver, "section.round .summary")
    assert "Utskickad (nu)" in _diagram(site)
    site.step("sent-out")
    site.sign_out()
    site.step("signed-out")

    # Each board's registrar records the board's decision.
    for n, (board_id, meeting, paragraph, case_number) in enumerate(MEETINGS, start=1):
        site.sign_in(f"reg-{board_id}")
        site.wait_for(site.base + "/ui/programs/sup")
        name = REGISTRARS[board_id]["name"]
        assert seen(driver, ".who") == f"Inloggad som {name} (kommun)"
        element(driver, f"#decide-{SUP_2035}").click()
        site.wait_for(site.base + f"/ui/versions/{SUP_2035}/decisions")
        board = Select(driver.find_element(By.NAME, "board_id"))
        assert [o.get_attribute("value") for o in board.options] == [board_id]
        if n == 1:
            site.step("decision-form")
        site.fill(
            {
                "outcome": "approved",
                "decided_on": meeting,
                "paragraph": paragraph,
                "case_number": case_number,
            }
        )
        site.submit()
        site.wait_for(site.base + "/ui/programs/sup?done=decisions")
        assert seen(driver, "#done") == "Beslutet är registrerat."
        row = seen(driver, f"tr[data-board={board_id}]")
        assert f"✓ Godkänd {meeting} {paragraph} {case_number}" in row
        site.step(f"{n}-{board_id}-recorded")
        site.sign_out()

    # An auditor sees SUP 2035 in force, who recorded what, and no forms.
    site.sign_in("greta")
    site.wait_for(site.base + "/ui/programs/sup")
    assert seen(driver, "#in-force") == "SUP 2035 ✓ Gällande gällande sedan 2019-06-17"
    assert "8 av 8 har godkänt" in seen(driver, "section.round .summary")
    assert not driver.find_elements(By.CSS_SELECTOR, "main form, main a.button, td.acts")
    site.step("in-force")
    driver.find_element(By.CSS_SELECTOR, f"tr[data-version='{SUP_2035}'] a[href$='/audit']").click()
    site.wait_for(site.base + f"/ui/versions/{SUP_2035}/audit")
    assert seen(driver, "#verify-result").startswith("✓ Obruten:")
    recorded = driver.find_elements(
        By.CSS_SELECTOR, "#timeline > li[data-type='decision.recorded']"
    )
    tyreso = " ".join(recorded[0].text.split())
    assert "Registrator Tyresö <registrator@tyreso.example> (kommun)" in tyreso
    assert "sub-tyreso-registrar" in tyreso
    site.step("events")
    site.sign_out()

    assert len(site.checked) == len(site.taken) == 18
    assert all(p.stat().st_size > 1000 for p in site.taken)


def _diagram(site: Site) -> str:
    """The version machine's picture, fetched as the page's <img> would (with the cookie)."""
    src = element(site.driver, "#version_machine-svg").get_attribute("src")
    assert src is not None
    answer = httpx.get(src, headers={"cookie": site.session_cookie()}, trust_env=False)
    assert answer.headers["content-type"] == "image/svg+xml"
    return answer.text


def test_sign_out_ends_the_session_in_every_process(site: Site) -> None:
    one, other = (s.base_url for s in site.servers)
    site.sign_in("anna")
    cookie = site.session_cookie()
    with httpx.Client(trust_env=False, timeout=30, follow_redirects=False) as http:
        for base in (one, other):
            assert http.get(f"{base}/ui/programs", headers={"cookie": cookie}).status_code == 200
        site.open("/ui/programs")
        site.sign_out()
        for base in (one, other):
            refused = http.get(f"{base}/ui/programs", headers={"cookie": cookie})
            assert refused.status_code == 303, base
            assert refused.headers["location"] == "/ui/login?next=/ui/programs"

        # Revoking a person ends their sessions at once, wherever they were signed in.
        site.sign_in("greta", server=1)
        greta = site.session_cookie()
        assert http.get(f"{one}/ui/programs", headers={"cookie": greta}).status_code == 200
        listed = site.ratify.cli("sessions", "list").stdout
        line = next(x for x in listed.splitlines() if x.startswith("Greta Granskare"))
        assert line.split()[2:6] == ["greta-granskare", "greta@revision.example", "auditor", "-"]
        ended = site.ratify.cli("sessions", "revoke", "--subject", "greta-granskare")
        assert ended.stdout.strip() == "ended 1 session"
        for base in (one, other):
            assert http.get(f"{base}/ui/programs", headers={"cookie": greta}).status_code == 303


def test_an_issuer_in_clear_text_is_refused_at_start(tmp_path: Path) -> None:
    ratify = Ratify(tmp_path, f"sqlite:///{tmp_path / 'ratify.db'}")
    ratify.extra_env = oidc_env("http://idp.example.org/realms/ratify")
    result = ratify.cli("keys", "list", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "ratify: error: RATIFY_OIDC_ISSUER: must be an https:// URL"
    )
    assert "loopback" in result.stderr
    assert "Traceback" not in result.stderr
