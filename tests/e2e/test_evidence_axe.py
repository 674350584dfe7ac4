"""axe-core finds no WCAG 2.1 A/AA violation on the evidence pages: the public notice page
(Swedish, English, on a phone), its 404, and the printable certificate.

One `ratify serve` on a fresh SQLite file and one headless Chromium serve the
module: SUP 2035 is in force (every board approved, announced; one decision
corrected) and program `sup` is public. The certificate is a `/v1` route,
so the browser sends the bearer token as an extra header (DevTools'
`Network.setExtraHTTPHeaders`) while it shows it.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from selenium import webdriver

from db import seed
from tests.e2e.axe import assert_accessible, axe_source
from tests.e2e.browser import chromium, element, require_chromium, viewport
from tests.e2e.conftest import Ratify
from tests.e2e.test_evidence import approve_all


@dataclass
class Site:
    """The server's address, an auditor's token, and the browser."""

    base_url: str
    token: str
    driver: webdriver.Chrome

    def open(self, path: str, token: str | None = None) -> None:
        """Show `path`, sending `token` as a bearer header (and no header without one)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
        self.driver.get(self.base_url + path)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_chromium()
    axe_source()  # fail at once, before a server starts, when node_modules is missing
    workdir = tmp_path_factory.mktemp("evidence-axe")
    ratify = Ratify(workdir, f"sqlite:///{workdir / 'ratify.db'}")
    try:
        (server,) = ratify.serve()
        tokens = ratify.create_keys(
            {"registrator": ("admin", None), "granskare": ("auditor", None)}
        )
        with httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {tokens['registrator']}"},
            trust_env=False,
            timeout=60,
        ) as api:
            ids = approve_all(api, seed.SUP_2035)
            r = api.post(
                f"/v1/decisions/{ids['haninge']}/corrections",
                json={"changes": {"paragraph": "§ 161"}, "reason": "skrivfel"},
            )
            assert r.status_code == 201, r.text
            assert api.patch("/v1/programs/sup", json={"public": True}).status_code == 200
        with chromium() as driver:
            yield Site(server.base_url, tokens["granskare"], driver)
        assert ratify.problems() == []
    finally:
        ratify.close()


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("the public notice page", "/public/programs/sup"),
        ("the public notice page in English", "/public/programs/sup?lang=en"),
        ("the public 404 page", "/public/programs/no-such-program"),
    ],
)
def test_public_page(site: Site, name: str, path: str) -> None:
    site.open(path)
    element(site.driver, "h1")
    assert_accessible(site.driver, name)


def test_the_public_page_on_a_phone(site: Site) -> None:
    viewport(site.driver, 390, 844, mobile=True)  # the tables' rows become cards
    try:
        site.open("/public/programs/sup")
        element(site.driver, "#in-force")
        assert_accessible(site.driver, "the public notice page on a phone")
    finally:
        viewport(site.driver, 1280, 900, mobile=False)


def test_the_printable_certificate(site: Site) -> None:
    site.open(f"/v1/versions/{seed.SUP_2035}/certificate?format=html", site.token)
    try:
        assert "Intyg om antagande" in element(site.driver, "h1").text
        assert_accessible(site.driver, "the printable certificate")
    finally:
        site.open("/public/programs/sup")  # and no bearer header from here on
