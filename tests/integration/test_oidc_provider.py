"""The test OpenID provider is a real one: Authlib signs in to it with code + PKCE.

One provider serves the module. A relying party that nothing serves is
registered at 127.0.0.1:9 (discard); the tests only read the redirects to it.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidClaimError
from joserfc.jwk import KeySet

from tests.oidc_provider import (
    OidcProvider,
    client,
    oidc_provider,
    sign_in_over_http,
    sign_out_over_http,
)

RP = "http://127.0.0.1:9"
CALLBACK = f"{RP}/ui/login/oidc/callback"
BYE = f"{RP}/ui/login?bye=1"
SECRET = "test-secret-" + "x" * 32
ID_TOKEN_TTL = 120
ANNA = {
    "sub": "9f1c2e7a-anna",
    "name": "Anna Andersson",
    "email": "anna.andersson@tyreso.example",
    "ratify_role": "board",
    "ratify_board": "tyreso",
    "groups": ["ratify-tyreso", "staff"],
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """One provider with a client per token endpoint authentication method."""
    with oidc_provider(
        tmp_path_factory.mktemp("oidc"),
        clients=[
            client(f"ratify-{method}", SECRET, [CALLBACK], [BYE], method)
            for method in ("client_secret_basic", "client_secret_post")
        ],
        accounts={"anna": ANNA, "bo": {"name": "Bo Berg", "ratify_role": "admin"}},
        id_token_ttl=ID_TOKEN_TTL,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def metadata(provider: OidcProvider) -> dict[str, Any]:
    """The discovery document."""
    found: dict[str, Any] = httpx.get(provider.discovery_url, trust_env=False).json()
    return found


def query(url: str) -> dict[str, str]:
    """The query parameters of a URL (the first value of each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def validated_id_token(
    provider: OidcProvider,
    metadata: dict[str, Any],
    token: dict[str, Any],
    client_id: str,
    nonce: str,
) -> CodeIDToken:
    """The ID token's claims, checked as a relying party must: signature, iss, aud, nonce, exp."""
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"], trust_env=False).json())
    decoded = jwt.decode(
        token["id_token"], keys, algorithms=metadata["id_token_signing_alg_values_supported"]
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": provider.issuer},
            "aud": {"essential": True, "value": client_id},
        },
        {"access_token": token["access_token"], "client_id": client_id, "nonce": nonce},
    )
    claims.validate()
    return claims


def sign_in(
    provider: OidcProvider, metadata: dict[str, Any], login: str, method: str
) -> tuple[dict[str, Any], str]:
    """Authlib's code + PKCE flow, signed in over HTTP; the token response and the nonce."""
    nonce = generate_token(20)
    verifier = generate_token(48)
    with OAuth2Client(
        f"ratify-{method}",
        SECRET,
        token_endpoint_auth_method=method,
        scope="openid profile email",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        trust_env=False,
    ) as oauth:
        url, state = oauth.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        with httpx.Client(trust_env=False) as browser:
            answer = sign_in_over_http(browser, url, login)
        callback = answer.headers["location"]
        assert callback.startswith(CALLBACK + "?"), callback
        got = query(callback)
        assert got["state"] == state
        assert got["iss"] == provider.issuer
        token: dict[str, Any] = oauth.fetch_token(
            metadata["token_endpoint"],
            authorization_response=callback,
            state=state,
            code_verifier=verifier,
        )
    return token, nonce


def test_discovery(provider: OidcProvider, metadata: dict[str, Any]) -> None:
    assert metadata["issuer"] == provider.issuer == f"http://127.0.0.1:{provider.port}"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["end_session_endpoint"] == f"{provider.issuer}/session/end"
    assert {"ratify_role", "ratify_board", "groups", "name", "email"} <= set(
        metadata["claims_supported"]
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_code_flow_with_pkce(provider: OidcProvider, metadata: dict[str, Any], method: str) -> None:
    token, nonce = sign_in(provider, metadata, "anna", method)
    claims = validated_id_token(
        provider, metadata, token, nonce=nonce, client_id=f"ratify-{method}"
    )
    assert claims["aud"] == f"ratify-{method}"
    assert claims["exp"] - claims["iat"] == ID_TOKEN_TTL
    assert {k: claims[k] for k in ANNA} == ANNA

    # A token is refused with another nonce or for another client.
    with pytest.raises(InvalidClaimError, match="nonce"):
        validated_id_token(provider, metadata, token, nonce="other", client_id=f"ratify-{method}")
    with pytest.raises(InvalidClaimError, match="aud"):
        validated_id_token(provider, metadata, token, nonce=nonce, client_id="someone-else")


def test_sub_defaults_to_the_login_name(provider: OidcProvider, metadata: dict[str, Any]) -> None:
    token, nonce = sign_in(provider, metadata, "bo", "client_secret_basic")
    claims = validated_id_token(
        provider, metadata, token, nonce=nonce, client_id="ratify-client_secret_basic"
    )
    assert (claims["sub"], claims["name"], claims["ratify_role"]) == ("bo", "Bo Berg", "admin")


def authorize_url(metadata: dict[str, Any], **params: str) -> str:
    """An authorization request of the basic client, PKCE and all unless `params` say otherwise."""
    base = {
        "client_id": "ratify-client_secret_basic",
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": CALLBACK,
        "state": "s1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"{metadata['authorization_endpoint']}?{urlencode({**base, **params})}"


def test_pkce_is_required(metadata: dict[str, Any]) -> None:
    url = authorize_url(metadata, code_challenge="", code_challenge_method="")
    with httpx.Client(trust_env=False) as browser:
        answer = sign_in_over_http(browser, url, "anna")
    got = query(answer.headers["location"])
    assert (got["error"], got["state"]) == ("invalid_request", "s1")
    assert "requires PKCE" in got["error_description"]


def test_an_unknown_login_name_is_refused(metadata: dict[str, Any]) -> None:
    with httpx.Client(trust_env=False) as browser, pytest.raises(AssertionError, match="nobody"):
        sign_in_over_http(browser, authorize_url(metadata), "nobody")


def test_rp_initiated_logout(provider: OidcProvider, metadata: dict[str, Any]) -> None:
    with httpx.Client(trust_env=False) as browser:
        answer = sign_in_over_http(browser, authorize_url(metadata), "anna")
        assert "code" in query(answer.headers["location"])
        # Signed in at the provider: a second authorization needs no login form.
        again = browser.get(authorize_url(metadata, state="s2"))
        assert query(again.headers["location"])["state"] == "s2"

        logout = {"client_id": "ratify-client_secret_basic", "post_logout_redirect_uri": BYE}
        bye = sign_out_over_http(
            browser, f"{metadata['end_session_endpoint']}?{urlencode({**logout, 'state': 'b'})}"
        )
        assert bye.headers["location"] == f"{BYE}&state=b"
        # Signed out: the login form is back.
        page = browser.get(authorize_url(metadata), follow_redirects=True)
        assert 'name="login"' in page.text


def test_claims_only_at_userinfo_when_asked(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with oidc_provider(
        tmp_path_factory.mktemp("oidc-userinfo"),
        clients=[client("ratify-client_secret_basic", SECRET, [CALLBACK])],
        accounts={"anna": ANNA},
        claims_in_id_token=False,
    ) as other:
        found = httpx.get(other.discovery_url, trust_env=False).json()
        token, nonce = sign_in(other, found, "anna", "client_secret_basic")
        claims = validated_id_token(
            other, found, token, nonce=nonce, client_id="ratify-client_secret_basic"
        )
        assert not {"ratify_role", "ratify_board", "groups", "name", "email"} & set(claims)
        userinfo = httpx.get(
            found["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {token['access_token']}"},
            trust_env=False,
        ).json()
        assert {k: userinfo[k] for k in ANNA} == ANNA
