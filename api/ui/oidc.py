"""Signing people in through the municipality's identity provider (OpenID Connect).

The authorization code flow with PKCE (S256), `state` and `nonce`, by
Authlib's OAuth 2 client; the ID token is checked as a relying party must
(OpenID Connect Core 3.1.3.7): its signature against the provider's JWKS
(joserfc, asymmetric algorithms only), then `iss`, `aud` (and `azp`), `exp`,
`iat`, `nonce` and `at_hash` by Authlib's `CodeIDToken`, on ratify's clock
with a few seconds' leeway. The provider's discovery document must name the
configured issuer, and its endpoints must be https (http only for an http
issuer on a loopback address). An authorization response that names
another issuer (`iss`, RFC 9207) is refused before the code is redeemed.

What goes wrong is a `SignInRefused`, which the route shows as a readable
page: a provider that cannot be reached, a code it will not redeem, a token
that fails a check.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx2
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from api.oidc_settings import OidcConfig, secure_url
from api.ui.claims import SignInRefused, incomplete
from db import loop

DISCOVERY_TTL = 3600.0
"""Seconds the discovery document (and the keys with it) are kept before being asked again."""
KEYS_RETRY = 60.0
"""Seconds at least between two fetches of the keys for a key id not seen before."""
TIMEOUT = 10.0
"""Seconds for any one request to the provider."""
LEEWAY = 5
"""Seconds of clock difference allowed between the provider and ratify (exp, iat, nbf)."""
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
"""The ID token signatures accepted: public-key ones, never `none` or an HMAC."""
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
"""How ratify can authenticate at the token endpoint, in the order it prefers."""


@dataclass(frozen=True)
class Metadata:
    """What discovery says about the provider (the parts ratify uses)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]
    auth_method: str
    iss_parameter: bool


class Provider:
    """The configured identity provider; its discovery document and keys are cached per process."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._metadata: tuple[float, Metadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    # --- discovery and keys ----------------------------------------------------

    def _get_json(self, url: str, **headers: str) -> dict[str, Any]:
        try:
            answer = loop.blocking(
                httpx2.get, url, headers=headers, timeout=TIMEOUT, follow_redirects=False
            )
            answer.raise_for_status()
            found = answer.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise SignInRefused("oidc_unreachable", f"{url}: {exc}", 502) from None
        if not isinstance(found, dict):
            raise SignInRefused("oidc_unreachable", f"{url} answered no JSON object", 502)
        return found

    def _endpoint(self, doc: dict[str, Any], name: str, required: bool = True) -> str | None:
        url = doc.get(name)
        if url is None and not required:
            return None
        if not isinstance(url, str) or not secure_url(url, self.config.http_loopback):
            raise SignInRefused("oidc_unreachable", f"discovery: {name} is missing or not https")
        return url

    def metadata(self) -> Metadata:
        """The discovery document, checked, fetched at most once an hour."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata[0] < DISCOVERY_TTL:
                return self._metadata[1]
        doc = self._get_json(f"{self.config.issuer}/.well-known/openid-configuration")
        issuer = doc.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") != self.config.issuer:
            raise SignInRefused("oidc_wrong_issuer", f"discovery names issuer {issuer!r}")
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        auth_method = next((m for m in AUTH_METHODS if m in methods), None)
        if auth_method is None:
            raise SignInRefused("oidc_unreachable", f"token endpoint takes only {methods}")
        found = Metadata(
            issuer=issuer,
            authorization_endpoint=str(self._endpoint(doc, "authorization_endpoint")),
            token_endpoint=str(self._endpoint(doc, "token_endpoint")),
            jwks_uri=str(self._endpoint(doc, "jwks_uri")),
            userinfo_endpoint=self._endpoint(doc, "userinfo_endpoint", required=False),
            end_session_endpoint=self._endpoint(doc, "end_session_endpoint", required=False),
            algorithms=tuple(a for a in ASYMMETRIC if a in offered),
            auth_method=auth_method,
            iss_parameter=doc.get("authorization_response_iss_parameter_supported") is True,
        )
        with self._lock:
            self._metadata = (time.monotonic(), found)
        return found

    def _key_set(self, metadata: Metadata, refresh: bool) -> KeySet:
        """The provider's keys: kept with discovery, fetched again on `refresh` (a key id
        not seen before) but not more than once a minute."""
        with self._lock:
            cached = self._keys
        if cached is not None:
            age = time.monotonic() - cached[0]
            if age < DISCOVERY_TTL and not (refresh and age > KEYS_RETRY):
                return cached[1]
        try:
            keys = KeySet.import_key_set(self._get_json(metadata.jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise SignInRefused("oidc_unreachable", f"jwks: {exc}", 502) from None
        with self._lock:
            self._keys = (time.monotonic(), keys)
        return keys

    # --- the flow --------------------------------------------------------------

    def _client(self, redirect_uri: str, metadata: Metadata) -> OAuth2Client:
        return OAuth2Client(
            self.config.client_id,
            self.config.client_secret,
            token_endpoint_auth_method=metadata.auth_method,
            scope=self.config.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
            follow_redirects=False,
        )

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser to sign in (code flow, PKCE S256, state and nonce)."""
        metadata = self.metadata()
        with self._client(redirect_uri, metadata) as client:
            url, _state = client.create_authorization_url(
                metadata.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        return str(url)

    def check_response_issuer(self, iss: str | None) -> None:
        """Refuse an authorization response from another provider (RFC 9207 mix-up defence)."""
        metadata = self.metadata()
        if iss is None and metadata.iss_parameter:
            raise SignInRefused("oidc_wrong_issuer", "the response names no issuer")
        if iss is not None and iss != metadata.issuer:
            raise SignInRefused("oidc_wrong_issuer", f"the response names issuer {iss!r}")

    def redeem(
        self,
        redirect_uri: str,
        response_url: str,
        state: str,
        verifier: str,
        nonce: str,
        now: datetime,
    ) -> dict[str, Any]:
        """Redeem the code of `response_url` and return the person's checked claims.

        Claims the ID token lacks (see `claims.incomplete`) are asked of userinfo,
        whose `sub` must be the token's.
        """
        metadata = self.metadata()
        with self._client(redirect_uri, metadata) as client:
            try:
                token = loop.blocking(
                    client.fetch_token,
                    metadata.token_endpoint,
                    authorization_response=response_url,
                    state=state,
                    code_verifier=verifier,
                    grant_type="authorization_code",
                )
            except (OAuthError, AuthlibBaseError) as exc:
                detail = f"{exc.error}: {exc.description or ''}".strip(": ")
                raise SignInRefused("oidc_provider_refused", detail) from None
            except (httpx2.HTTPError, ValueError) as exc:
                raise SignInRefused("oidc_unreachable", f"token endpoint: {exc}", 502) from None
        raw, access_token = token.get("id_token"), token.get("access_token")
        if not isinstance(raw, str):
            raise SignInRefused("oidc_invalid_token", "the token response holds no ID token")
        claims = self.validate(raw, access_token, nonce, now)
        if incomplete(claims, self.config) and metadata.userinfo_endpoint and access_token:
            extra = self._get_json(
                metadata.userinfo_endpoint, Authorization=f"Bearer {access_token}"
            )
            if extra.get("sub") != claims["sub"]:
                raise SignInRefused("oidc_invalid_token", "userinfo names another subject")
            claims = {**extra, **claims}
        return claims

    def validate(
        self, raw: str, access_token: str | None, nonce: str, now: datetime
    ) -> dict[str, Any]:
        """An ID token's claims once its signature, issuer, audience, times and nonce hold."""
        metadata = self.metadata()
        try:
            try:
                decoded = jwt.decode(raw, self._key_set(metadata, False), metadata.algorithms)
            except (JoseError, ValueError):
                # A key the provider has rotated in since the keys were fetched: once more.
                decoded = jwt.decode(raw, self._key_set(metadata, True), metadata.algorithms)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": metadata.issuer},
                    "aud": {"essential": True, "value": self.config.client_id},
                },
                {"access_token": access_token, "client_id": self.config.client_id, "nonce": nonce},
            )
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY)
        except (JoseError, ValueError) as exc:
            raise SignInRefused("oidc_invalid_token", _why(exc)) from None
        return dict(claims)

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout at the provider, when it offers it (else None)."""
        try:
            endpoint = self.metadata().end_session_endpoint
        except SignInRefused:
            return None  # signing out of ratify must not wait on the provider
        if endpoint is None:
            return None
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "post_logout_redirect_uri": post_logout_redirect_uri,
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def _why(exc: Exception) -> str:
    """A JOSE error in a few words (`invalid_claim: nonce`, `expired_token`, ...)."""
    code = getattr(exc, "error", None) or type(exc).__name__
    claim = getattr(exc, "claim", None)
    detail = getattr(exc, "description", None) or str(exc)
    return f"{code}: {claim}" if claim else f"{code}: {detail}"
