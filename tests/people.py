"""People for the sign-in tests: accounts at the test OpenID provider, and ratify as its client.

The accounts are a registrar (registrator) of each Södertörn board, the
secretariat, an auditor, and the awkward: nobody with a role, somebody with
two, a board ratify does not know, a second "Anna Andersson", and people
whose role comes from groups or from an Entra-style `roles` list.
"""

from typing import Any

from db import seed
from tests.oidc_provider import client

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
