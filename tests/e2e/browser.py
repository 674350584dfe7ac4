"""A real, headless Chromium for end-to-end tests, driven by Selenium.

Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs them)
are used as they are: Selenium is given the driver's path and the browser's
binary, so selenium-manager never downloads anything, and the flags below
keep Chromium from talking to anything but the server under test.
"""

import base64
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--lang=sv-SE",
]


def require_chromium() -> None:
    """Fail clearly when Chromium is missing (`make test` installs it)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("needs Debian's chromium and chromium-driver (`make test` installs them)")


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (its own profile directory), quit afterwards."""
    require_chromium()
    profile = tempfile.mkdtemp(prefix="ratify-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def viewport(driver: webdriver.Chrome, width: int, height: int, mobile: bool) -> None:
    """Emulate a screen of `width` × `height` CSS pixels (a phone when `mobile`)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def element(driver: webdriver.Chrome, css: str, timeout: float = 30) -> WebElement:
    """The first element matching `css`, once it is there."""
    found: WebElement = WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css)
    )
    return found


def gone(old: WebElement) -> Callable[[webdriver.Chrome], bool]:
    """A wait condition: `old` has left the document (its page was replaced).

    Chromium reports a node of a page that has just been replaced either as
    stale or as "does not belong to the document"; both mean gone.
    """

    def check(_driver: webdriver.Chrome) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc.msg):
                return True
            raise
        return False

    return check


def wait_for_url(driver: webdriver.Chrome, url: str, timeout: float = 30) -> None:
    """Wait until the browser has arrived at `url` (a form's answer has loaded)."""
    WebDriverWait(driver, timeout).until(lambda d: d.current_url == url)


def seen(driver: webdriver.Chrome, css: str) -> str:
    """What a person sees of an element: its rendered text, whitespace collapsed."""
    return " ".join(element(driver, css).text.split())


def focused_id(driver: webdriver.Chrome) -> str:
    """The id of the element that has the keyboard focus ('' when none has one)."""
    found = driver.execute_script("return document.activeElement && document.activeElement.id")
    return str(found or "")


def screenshot(driver: webdriver.Chrome, path: Path, css: str | None = None) -> Path:
    """A PNG of the element `css` (or of the whole page), beyond the viewport if need be."""
    box = driver.execute_script(
        """
        const el = arguments[0] ? document.querySelector(arguments[0]) : document.documentElement;
        const r = el.getBoundingClientRect();
        return {x: r.left + window.scrollX, y: r.top + window.scrollY,
                width: Math.max(r.width, el.scrollWidth),
                height: Math.max(r.height, el.scrollHeight)};
        """,
        css,
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {**box, "scale": 1}},
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def scrolls_sideways(driver: webdriver.Chrome) -> bool:
    """Whether the page is wider than the viewport (a phone user would scroll sideways)."""
    return bool(
        driver.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
    )
