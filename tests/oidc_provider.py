"""A real OpenID provider for tests: panva's oidc-provider on Node, on a loopback port.

    with oidc_provider(tmp_path, clients=[client(...)], accounts={...}) as provider:
        ...  # provider.issuer is http://127.0.0.1:PORT

`port` fixes the port (for a relying party that must know its issuer before
the provider starts); otherwise a free one is taken.

The process runs `tests/oidc/provider.mjs` with a JSON file written here; it
needs `node` and the repository's `node_modules` (`make test` runs `npm ci`).
Its sign-in page takes a login name (the password is ignored) and consents
at once, so a browser or `sign_in_over_http` can sign in as any of `accounts`.
"""

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.e2e.conftest import free_port
from tests.node_tools import ROOT, node, node_module

SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
READY_TIMEOUT = 30.0
"""Seconds the provider may take to answer discovery (Node starts, an RSA key is made)."""

BASIC = "client_secret_basic"
"""The token endpoint authentication method of a client unless told otherwise."""

MAX_STEPS = 20
"""Redirects and forms `sign_in_over_http` goes through before it gives up."""


def client(
    client_id: str,
    client_secret: str,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str] = (),
    token_endpoint_auth_method: str = BASIC,
    **metadata: Any,
) -> dict[str, Any]:
    """The registration of a relying party (oidc-provider client metadata)."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris),
        "token_endpoint_auth_method": token_endpoint_auth_method,
        **metadata,
    }


@dataclass
class OidcProvider:
    """A running provider: its issuer URL, port, configuration and log."""

    issuer: str
    port: int
    config: dict[str, Any]
    log_path: Path

    @property
    def discovery_url(self) -> str:
        """Where the provider's metadata is."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def log(self) -> str:
        """What the provider has written to stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(process: "subprocess.Popen[bytes]", provider: OidcProvider) -> bool:
    """True once discovery answers; False when the port was taken; fails otherwise."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(trust_env=False, timeout=5) as probe:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                if "EADDRINUSE" in provider.log():
                    return False
                pytest.fail(f"the OpenID provider exited {process.returncode}:\n{provider.log()}")
            with contextlib.suppress(httpx.TransportError):
                if probe.get(provider.discovery_url).status_code == 200:
                    return True
            time.sleep(0.05)
    _stop(process)
    pytest.fail(f"the OpenID provider was not ready in {READY_TIMEOUT}s:\n{provider.log()}")


@contextlib.contextmanager
def oidc_provider(
    tmp_path: Path,
    *,
    clients: Sequence[Mapping[str, Any]],
    accounts: Mapping[str, Mapping[str, Any]],
    id_token_ttl: int = 3600,
    claims_in_id_token: bool = True,
    port: int | None = None,
) -> Iterator[OidcProvider]:
    """Run a provider until the block ends (SIGTERM, then SIGKILL).

    `accounts` maps a login name to its claims: `sub` (the login name when
    absent), `name`, `email` and any others (`ratify_role`, `groups`, ...).
    The others come with the `openid` scope, `name` with `profile`, `email`
    with `email`, all in the ID token and at userinfo. With
    `claims_in_id_token=False` they are at userinfo only (and the others come
    with `profile`, since the `openid` scope's claims are always in the ID token).
    """
    executable = node()
    node_module("oidc-provider/package.json")
    for attempt in range(1 if port else 3):  # another process may take a free port first
        listen = port or free_port()
        config = {
            "port": listen,
            "clients": [dict(c) for c in clients],
            "accounts": {login: dict(claims) for login, claims in accounts.items()},
            "id_token_ttl": id_token_ttl,
            "claims_in_id_token": claims_in_id_token,
        }
        config_path = tmp_path / f"oidc-provider-{attempt}.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        provider = OidcProvider(
            f"http://127.0.0.1:{listen}", listen, config, tmp_path / f"oidc-provider-{attempt}.log"
        )
        with provider.log_path.open("wb") as log:
            process = _start(executable, config_path, log)
            try:
                if _wait_ready(process, provider):
                    yield provider
                    return
            finally:
                _stop(process)
    pytest.fail(f"the OpenID provider found no free port:\n{provider.log()}")


def _start(node: str, config_path: Path, log: IO[bytes]) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        [node, str(SCRIPT), str(config_path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )


@dataclass
class Form:
    """One HTML form: where it goes and the values it would send as it is."""

    action: str
    method: str
    fields: dict[str, str]


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(found.get("action", ""), found.get("method", "get"), {}))
            self.in_form = True
        elif tag == "input" and self.in_form and "name" in found:
            self.forms[-1].fields[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def forms(html: str) -> list[Form]:
    """The forms of a page, in order."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _drive(client: httpx.Client, url: str, login: str | None) -> httpx.Response:
    """Follow the provider's redirects and submit its forms until it sends the browser away."""
    provider = _origin(url)
    response = client.get(url, follow_redirects=False)
    logged_in = False
    for _ in range(MAX_STEPS):
        here = str(response.url)
        if response.is_redirect:
            target = urljoin(here, response.headers["location"])
            if _origin(target) != provider:
                return response
            response = client.get(target, follow_redirects=False)
            continue
        page = forms(response.text)
        if not page or _origin(urljoin(here, page[0].action)) != provider:
            # No form of the provider's: an error page, or a form_post to the relying party.
            assert response.status_code == 200, (
                f"{here} answered {response.status_code}:\n{response.text}"
            )
            return response
        form = page[0]
        if "login" in form.fields:
            # The login form a second time means the provider refused the name.
            assert login is not None, f"the provider asks to sign in:\n{response.text}"
            assert not logged_in, f"sign-in refused:\n{response.text}"
            form.fields.update(login=login, password="ignored")
            logged_in = True
        response = client.request(
            form.method.upper(),
            urljoin(here, form.action),
            data=form.fields,
            follow_redirects=False,
        )
    raise AssertionError(f"no way out of the provider after {MAX_STEPS} steps, at {response.url}")


def sign_in_over_http(client: httpx.Client, authorize_url: str, login: str) -> httpx.Response:
    """Sign in as `login` with plain HTTP, as a browser would.

    GETs the authorization URL, follows the provider's redirects, fills in its
    login form (and any consent form), and returns the provider's redirect
    back to the relying party's redirect_uri without following it: its
    Location carries `code`, `state` and `iss` (or `error`). The client keeps
    the provider's session cookie, so a second sign-in needs no login form and
    `sign_out_over_http` can end the session.
    """
    return _drive(client, authorize_url, login)


def sign_out_over_http(client: httpx.Client, end_session_url: str) -> httpx.Response:
    """RP-initiated logout with plain HTTP: confirms the provider's sign-out form.

    Returns the redirect to the post_logout_redirect_uri without following it
    (or, with no such URI, the provider's "signed out" page).
    """
    return _drive(client, end_session_url, None)
