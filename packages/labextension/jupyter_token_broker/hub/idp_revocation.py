"""RFC 7009 revocation of a hub login's refresh token at the IdP, authenticated as the authenticator authenticates
at its token endpoint. The endpoint is ``TokenBrokerHub.revocation_url``, else found in the IdP's metadata."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from tornado.httpclient import HTTPRequest

from .errors import UpstreamUnavailable
from .expiry import jwt_claims

#: How long a discovered endpoint (or the absence of one) is kept before asking the IdP's metadata again.
DISCOVERY_TTL_SECONDS = 3600


class RevocationRefused(Exception):
    """The IdP answered the revocation with a 4xx: retrying the same request will not help. ``code`` is the OAuth
    error code (or ``HTTP <status>``), never token material."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class IdpRevocation:
    """Revokes refresh tokens at the IdP of one authenticator (an OAuthenticator)."""

    def __init__(self, authenticator: Any, settings: Any) -> None:
        self.authenticator = authenticator
        self.settings = settings
        self.log = authenticator.log
        self._discovered: tuple[float, str | None] | None = None
        #: Revocations answered 2xx by the IdP (for tests and metrics).
        self.revoked = 0

    async def endpoint(self, auth_state: dict[str, Any] | None) -> str | None:
        """The revocation endpoint, or None when the IdP has none (raises UpstreamUnavailable when its metadata
        can't be read: the caller can't tell "none" from "unreachable")."""
        if self.settings.revocation_url:
            return self.settings.revocation_url
        if self._discovered is not None and self._discovered[0] > time.monotonic():
            return self._discovered[1]
        issuer = self._issuer(auth_state)
        if issuer is None:
            return None
        found: str | None = None
        reached = False
        for url in _metadata_urls(issuer):
            try:
                response = await self._fetch(HTTPRequest(url, method="GET", headers={"Accept": "application/json"}))
            except UpstreamUnavailable:
                continue
            if response.code >= 500 or response.code == 599:
                continue
            reached = True
            if response.code != 200:
                continue
            metadata = _json(response.body)
            endpoint = metadata.get("revocation_endpoint")
            # Only an IdP's own metadata (its issuer, or its token endpoint) may name where refresh tokens go.
            if isinstance(endpoint, str) and (
                metadata.get("issuer") == issuer or metadata.get("token_endpoint") == self.authenticator.token_url
            ):
                found = endpoint
                break
        if not reached:
            raise UpstreamUnavailable("The identity provider's metadata could not be read.", retry_after=5)
        self._discovered = (time.monotonic() + DISCOVERY_TTL_SECONDS, found)
        return found

    def _issuer(self, auth_state: dict[str, Any] | None) -> str | None:
        """The IdP's issuer: from the login's id token (the hub got it from the IdP's token endpoint itself), else
        the origin of the authenticator's token endpoint."""
        issuer = jwt_claims((auth_state or {}).get("id_token")).get("iss")
        if isinstance(issuer, str) and issuer.startswith(("https://", "http://")):
            return issuer.rstrip("/")
        token_url = getattr(self.authenticator, "token_url", "") or ""
        parts = urlsplit(token_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None

    async def revoke(self, endpoint: str, refresh_token: str) -> None:
        """POSTs ``token=<refresh_token>&token_type_hint=refresh_token`` with the authenticator's client auth.

        Raises UpstreamUnavailable (IdP down, slow, 5xx, 429) or RevocationRefused (other 4xx).
        """
        auth = self.authenticator
        params = auth.build_refresh_token_request_params(refresh_token)
        params.pop("grant_type", None)
        params.pop("refresh_token", None)
        params.update(token=refresh_token, token_type_hint="refresh_token")  # noqa: S106 - a hint's name
        headers = auth.build_token_info_request_headers()
        request = HTTPRequest(endpoint, method="POST", headers=headers, body=urlencode(params))
        response = await self._fetch(request)
        if response.code == 599 or response.code >= 500 or response.code == 429:
            self.log.warning("token-broker: revocation at the identity provider failed (HTTP %s)", response.code)
            raise UpstreamUnavailable("The identity provider's revocation endpoint failed.", retry_after=5)
        if response.code >= 400:
            body = _json(response.body)
            code = body.get("error") if isinstance(body.get("error"), str) else f"HTTP {response.code}"
            self.log.error("token-broker: the identity provider refused a revocation: %s", code[:64])
            raise RevocationRefused(code[:64])
        self.revoked += 1

    async def _fetch(self, request: HTTPRequest) -> Any:
        auth = self.authenticator
        for key, value in (getattr(auth, "http_request_kwargs", {}) or {}).items():
            setattr(request, key, value)
        request.validate_cert = auth.validate_server_cert
        request.connect_timeout = self.settings.revocation_timeout_seconds
        request.request_timeout = self.settings.revocation_timeout_seconds
        try:
            return await auth.http_client.fetch(request, raise_error=False)
        except Exception as err:  # only the type: messages of library errors can embed URLs with tokens
            self.log.warning("token-broker: the identity provider could not be reached (%s)", type(err).__name__)
            raise UpstreamUnavailable("The identity provider could not be reached.", retry_after=5) from None


def _metadata_urls(issuer: str) -> list[str]:
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    return [
        f"{issuer}/.well-known/openid-configuration",
        f"{origin}/.well-known/oauth-authorization-server{path}",
    ]


def _json(body: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
