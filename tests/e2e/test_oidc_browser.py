"""A person signs in at the test OpenID provider with a real browser (headless Chromium).

The relying party is a bare loopback HTTP server that only says "signed in";
the test reads the code off the browser's address and redeems it.
"""

import base64
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.browser import chromium, element, seen
from tests.oidc_provider import client, oidc_provider

SECRET = "browser-secret-" + "y" * 32
VERIFIER = "v" * 64


class _Landing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>RP</title><h1 id=done>signed in</h1>")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the address, not the log."""


@contextmanager
def landing() -> Iterator[str]:
    """A relying party's callback page on a free loopback port; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Landing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_person_signs_in_with_the_keyboard(tmp_path: Path) -> None:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest())
    with (
        landing() as rp,
        oidc_provider(
            tmp_path,
            clients=[client("ratify", SECRET, [f"{rp}/callback"])],
            accounts={"anna": {"name": "Anna Andersson", "ratify_role": "admin"}},
        ) as provider,
        chromium() as driver,
    ):
        params = {
            "client_id": "ratify",
            "response_type": "code",
            "scope": "openid profile",
            "redirect_uri": f"{rp}/callback",
            "state": "st-1",
            "nonce": "n-1",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        driver.get(f"{provider.issuer}/auth?{urlencode(params)}")
        assert seen(driver, "h1") == "Sign in"
        element(driver, "#login").send_keys("anna")
        element(driver, "#password").send_keys("anything", Keys.ENTER)
        WebDriverWait(driver, 30).until(lambda d: d.current_url.startswith(f"{rp}/callback?"))
        assert seen(driver, "#done") == "signed in"
        got = {k: v[0] for k, v in parse_qs(urlsplit(driver.current_url).query).items()}
        assert got["state"] == "st-1"

        token = httpx.post(
            f"{provider.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": got["code"],
                "redirect_uri": f"{rp}/callback",
                "code_verifier": VERIFIER,
            },
            auth=("ratify", SECRET),
            trust_env=False,
        )
        assert token.status_code == 200, token.text
        assert token.json()["id_token"].count(".") == 2
