"""People for the sign-in tests: accounts at the test OpenID provider, and ratify as its client.

The accounts are a registrar (registrator) of each Södertörn board, the
secretariat, an auditor, and the awkward: nobody with a role, somebody with
two, a board ratify does not know, a second "Anna Andersson", and people
whose role comes from groups or from an Entra-style `roles` list.
"""

from typing import Any

import httpx
from fastapi.testclient import TestClient

from db import seed
from tests.oidc_provider import client, sign_in_over_http

BASE = "https://testserver"
"""Where an in-process ratify (a TestClient) is."""
CLIENT_ID = "ratify"
SECRET = "ratify-client-secret-" + "z" * 32
CALLBACK = "/ui/login/oidc/callback"
BYE = "/ui/login?bye=1"
GROUP_MAP = '{"ratify-tyreso-registrars": {"role": "board", "board": "tyreso"}}'


def registrar(board_id: str, name: str) -> dict[str, Any]:
    """A board's registrar: role `board`, that board."""
    return {
        "sub": f"sub-{board_id}-registrar",
        "name": name,
        "email": f"registrator@{board_id}.example",
        "ratify_role": "board",
        "ratify_board": board_id,
    }


REGISTRARS = {
    board_id: registrar(board_id, f"Registrator {municipality.split()[0]}")
    for board_id, _code, municipality in seed.BOARDS
}
"""Login name `reg-<board>` for each board's registrar."""

ANNA = {
    "sub": "9f1c2e7a-anna",
    "name": "Anna Andersson",
    "email": "anna.andersson@tyreso.example",
    "ratify_role": "board",
    "ratify_board": "tyreso",
}

ACCOUNTS: dict[str, dict[str, Any]] = {
    "anna": ANNA,
    "anna2": {**ANNA, "sub": "5b0d77e1-another-anna", "email": "anna.a@tyreso.example"},
    "hans": {
        "sub": "hans-haninge",
        "name": "Hans Haningesson",
        "email": "hans@haninge.example",
        "ratify_role": "board",
        "ratify_board": "haninge",
    },
    "kajsa": {
        "sub": "kajsa-kansliet",
        "name": "Kajsa Kansli",
        "email": "kajsa@sodertorn.example",
        "ratify_role": "secretariat",
    },
    "greta": {
        "sub": "greta-granskare",
        "name": "Greta Granskare",
        "email": "greta@revision.example",
        "ratify_role": "auditor",
    },
    "nils": {"sub": "nils-nobody", "name": "Nils Nobody", "email": "nils@tyreso.example"},
    "tove": {
        "sub": "tove-two-roles",
        "name": "Tove Tvåroll",
        "ratify_role": ["board", "auditor"],
        "ratify_board": "tyreso",
    },
    "ulla": {
        "sub": "ulla-unknown",
        "name": "Ulla Utanför",
        "ratify_role": "board",
        "ratify_board": "stockholm",
    },
    "gustav": {
        "sub": "gustav-groups",
        "name": "Gustav Grupp",
        "email": "gustav@tyreso.example",
        "groups": ["staff", "ratify-tyreso-registrars"],
    },
    "erik": {
        "sub": "erik-entra",
        "name": "Erik Entra",
        "email": "erik@sodertorn.example",
        "roles": ["Directory.Reader", "secretariat"],
    },
    **{f"reg-{board_id}": claims for board_id, claims in REGISTRARS.items()},
}


def ratify_client(base_url: str, client_id: str = CLIENT_ID) -> dict[str, Any]:
    """ratify at `base_url` as a client of the provider: its callback and its signed-out page."""
    return client(client_id, SECRET, [base_url + CALLBACK], [base_url + BYE])


def oidc_env(issuer: str, **extra: str) -> dict[str, str]:
    """The `RATIFY_OIDC_*` settings of ratify signing people in at `issuer`."""
    return {
        "RATIFY_OIDC_ISSUER": issuer,
        "RATIFY_OIDC_CLIENT_ID": CLIENT_ID,
        "RATIFY_OIDC_CLIENT_SECRET": SECRET,
        **{f"RATIFY_OIDC_{k.upper()}": v for k, v in extra.items()},
    }


class Person:
    """A browser: its side at ratify (TestClient) and at the provider (httpx)."""

    def __init__(self, ratify: TestClient) -> None:
        self.ratify = ratify
        self.at_idp = httpx.Client(trust_env=False, timeout=30)

    def start(self, next_: str = "/ui/programs/sup") -> str:
        """Press "sign in through your organisation": the provider's authorization URL."""
        r = self.ratify.get(f"/ui/login/oidc?next={next_}", follow_redirects=False)
        assert r.status_code == 303, r.text
        return str(r.headers["location"])

    def at_provider(self, authorize_url: str, login: str) -> str:
        """Sign in at the provider as `login`; the callback URL it sends the browser to."""
        answer = sign_in_over_http(self.at_idp, authorize_url, login)
        location = str(answer.headers["location"])
        assert location.startswith(BASE + "/ui/login/oidc/callback?"), location
        return location

    def back(self, callback: str, cookie: str | None = None) -> Any:
        """Arrive at ratify's callback (with exactly this Cookie header, when given)."""
        headers = {"cookie": cookie} if cookie is not None else None
        return self.ratify.get(callback.removeprefix(BASE), headers=headers, follow_redirects=False)

    def get(self, path: str, cookie: str) -> Any:
        """GET `path` with exactly this Cookie header (not the browser's own)."""
        return self.ratify.get(path, headers={"cookie": cookie}, follow_redirects=False)

    def sign_in(self, login: str) -> Any:
        """The whole sign-in; the callback's answer."""
        return self.back(self.at_provider(self.start(), login))
