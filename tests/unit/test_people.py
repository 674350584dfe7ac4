"""Who a person is in ratify: claims to role and board, the issuer's address, one identity each."""

from typing import Any

import pytest
from pydantic import ValidationError

from api.oidc_settings import Grant, OidcConfig, group_map_of, issuer_url
from api.settings import Settings
from api.ui.claims import SignInRefused, incomplete, person
from workflow.actors import Actor, Role

BOARDS = {"tyreso", "haninge"}


def config(**changes: Any) -> OidcConfig:
    """The settings of the defaults: role from `ratify_role`, board from `ratify_board`."""
    values: dict[str, Any] = {
        "issuer": "https://idp.example",
        "client_id": "ratify",
        "client_secret": "s",
        "role_claim": "ratify_role",
        "board_claim": "ratify_board",
        "group_map": {},
        "scopes": "openid profile email",
        "public_url": None,
    }
    return OidcConfig(**(values | changes))


def refusal(claims: dict[str, Any], cfg: OidcConfig | None = None) -> str:
    with pytest.raises(SignInRefused) as refused:
        person(claims, cfg or config(), BOARDS)
    return refused.value.reason


def test_the_role_and_board_claims_make_the_actor() -> None:
    claims = {
        "sub": "abc",
        "name": "  Anna\nAndersson ",
        "email": "anna@tyreso.example",
        "ratify_role": "board",
        "ratify_board": "tyreso",
    }
    assert person(claims, config(), BOARDS) == Actor(
        "Anna Andersson", Role.BOARD, "tyreso", "abc", "anna@tyreso.example"
    )
    auditor = person({"sub": "g", "ratify_role": "auditor", "ratify_board": "x"}, config(), BOARDS)
    assert (auditor.name, auditor.role, auditor.board_id, auditor.email) == (
        "g",
        Role.AUDITOR,
        None,
        None,
    )
    named = person(
        {"sub": "p", "preferred_username": "pelle", "email": "x", "ratify_role": "admin"},
        config(),
        BOARDS,
    )
    assert (named.name, named.email) == ("pelle", None)


def test_no_usable_role_is_refused() -> None:
    assert refusal({"sub": "a"}) == "oidc_no_role"
    assert refusal({"sub": "a", "ratify_role": "system"}) == "oidc_no_role"
    assert refusal({"sub": "a", "ratify_role": "Admin"}) == "oidc_no_role"
    assert refusal({"sub": "a", "ratify_role": ["board", "auditor"]}) == "oidc_many_roles"
    assert refusal({"sub": "a", "ratify_role": "board"}) == "oidc_unknown_board"
    assert refusal({"sub": "a", "ratify_role": "board", "ratify_board": "solna"}) == (
        "oidc_unknown_board"
    )
    assert refusal({"sub": "", "ratify_role": "admin"}) == "oidc_invalid_token"
    assert refusal({"sub": "x" * 256, "ratify_role": "admin"}) == "oidc_invalid_token"


def test_an_entra_roles_list_with_one_of_ratifys_roles() -> None:
    cfg = config(role_claim="roles")
    found = person({"sub": "e", "roles": ["Reader", "secretariat"]}, cfg, BOARDS)
    assert found.role is Role.SECRETARIAT


def test_groups_decide_when_there_is_a_group_map() -> None:
    cfg = config(
        group_map={
            "g-tyreso": Grant(Role.BOARD, "tyreso"),
            "g-tyreso-2": Grant(Role.BOARD, "tyreso"),
            "g-audit": Grant(Role.AUDITOR, None),
        }
    )
    found = person({"sub": "g", "groups": ["staff", "g-tyreso", "g-tyreso-2"]}, cfg, BOARDS)
    assert (found.role, found.board_id) == (Role.BOARD, "tyreso")
    assert refusal({"sub": "g", "groups": ["g-tyreso", "g-audit"]}, cfg) == "oidc_many_roles"
    assert refusal({"sub": "g", "ratify_role": "admin", "groups": ["staff"]}, cfg) == (
        "oidc_no_role"
    )


def test_userinfo_is_asked_when_the_id_token_lacks_a_claim_the_mapping_reads() -> None:
    full = {"sub": "a", "name": "A", "email": "a@x", "ratify_role": "auditor"}
    assert not incomplete(full, config())
    assert incomplete({**full, "ratify_role": "board"}, config())  # no board claim
    assert incomplete({"sub": "a", "name": "A", "email": "a@x"}, config())
    assert incomplete(full, config(group_map={"g": Grant(Role.AUDITOR, None)}))


@pytest.mark.parametrize(
    "issuer",
    [
        "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        "https://keycloak.example.se/realms/kommun",
        "http://127.0.0.1:8080",
        "http://localhost:8080/realms/test",
        "http://[::1]:9000",
    ],
)
def test_an_issuer_is_https_or_on_loopback(issuer: str) -> None:
    assert issuer_url(issuer) == issuer


@pytest.mark.parametrize(
    "issuer",
    [
        "http://idp.example.se",
        "http://10.0.0.5",
        "http://127.0.0.1.nip.io",
        "ftp://idp.example.se",
        "https://user:pw@idp.example.se",
        "https://idp.example.se/?tenant=x",
        "idp.example.se",
    ],
)
def test_any_other_issuer_is_refused(issuer: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        issuer_url(issuer)


def test_the_settings_refuse_half_a_configuration_and_a_bad_group_map() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(oidc_issuer="https://idp.example", oidc_client_id="ratify")
    with pytest.raises(ValidationError, match="loopback"):
        Settings(oidc_issuer="http://idp.example", oidc_client_id="r", oidc_client_secret="s")
    for bad, words in (
        ("[]", "JSON object"),
        ("{", "not JSON"),
        ('{"g": {"role": "system"}}', "role must be one of"),
        ('{"g": {"role": "board"}}', "needs a board"),
        ('{"g": {"role": "auditor", "board": "tyreso"}}', "only it takes one"),
        ('{"g": {"role": "auditor", "extra": 1}}', "only role and board"),
    ):
        with pytest.raises(ValueError, match=words):
            group_map_of(bad)
    with pytest.raises(ValidationError, match="needs a board"):
        Settings(oidc_group_map='{"g": {"role": "board"}}')
    assert group_map_of('{"g": {"role": "board", "board": "tyreso"}}') == {
        "g": Grant(Role.BOARD, "tyreso")
    }


def test_two_people_of_one_name_are_two_identities_and_neither_is_a_key() -> None:
    one = Actor("Anna Andersson", Role.BOARD, "tyreso", "sub-1", "a@x")
    two = Actor("Anna Andersson", Role.BOARD, "tyreso", "sub-2", "a@x")
    key = Actor("Anna Andersson", Role.BOARD, "tyreso")
    assert len({one.identity, two.identity, key.identity}) == 3
    assert key.identity == "Anna Andersson"
    assert one.identity.startswith("person:")
    assert len(one.identity) <= 200
    assert one.is_person
    assert not key.is_person
