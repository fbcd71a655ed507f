"""``BrokerAuth``: the broker's tokens as the ``auth=`` of ``requests`` and ``httpx``.

Each request gets a fresh token from the broker (which caches and refreshes, so this costs one local call).
When the API answers 401 anyway (the token was revoked, or the API's clock is ahead), the broker is made to
refresh and the request is sent once more with the new token; a second 401 is the caller's answer.

``requests`` and ``httpx`` are optional: this module builds ``BrokerAuth`` on whichever of them is installed,
and ``import jupyter_token_broker`` imports it (and them) only when ``BrokerAuth`` is first used.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator, Iterable
from typing import Any

from .discovery import ServerInfo
from .kernel import AccessToken, request_fresher_token, request_token

_bases: list[type] = []
try:
    import requests.auth

    _bases.append(requests.auth.AuthBase)
except ImportError:  # pragma: no cover - requests is optional
    requests = None  # type: ignore[assignment]
try:
    import httpx

    _bases.append(httpx.Auth)
except ImportError:  # pragma: no cover - httpx is optional
    httpx = None  # type: ignore[assignment]

_RETRIED = "_token_broker_retried"
"""Marks a ``requests`` request that was already sent again after a 401, so it never loops."""


class BrokerAuth(*_bases):  # type: ignore[misc]
    """Authenticates each request with ``Authorization: Bearer <a fresh token of provider>``.

    :param provider: the provider id, e.g. ``"demo"``.
    :param scopes: the scopes to ask for (a list or a space-separated string); None means the provider's set.
    :param min_ttl: seconds each token must still be valid for when the request leaves (a promise: refused when
        the identity provider's tokens live shorter). None (the default): the broker's ``default_min_ttl``, at most
        half the token's lifetime, which works for any lifetime.
    :param server: the Jupyter server to ask; by default the one that started this kernel.
    :raises LoginRequired: (when a request is sent) the provider needs a sign-in in the Token Broker panel.
    :raises TokenBrokerError: (when a request is sent) any other failure of the broker, with ``code``/``status``.

    Example::

        import requests, httpx
        from jupyter_token_broker import BrokerAuth

        requests.get("http://127.0.0.1:9401/whoami", auth=BrokerAuth("demo")).json()
        httpx.get("http://127.0.0.1:9401/whoami", auth=BrokerAuth("demo")).json()
    """

    # httpx: we only look at the status code of the response.
    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        provider: str,
        scopes: str | Iterable[str] | None = None,
        min_ttl: int | None = None,
        *,
        server: ServerInfo | None = None,
    ) -> None:
        self.provider = provider
        self.scopes = scopes
        self.min_ttl = min_ttl
        self.server = server

    def __repr__(self) -> str:
        return f"BrokerAuth(provider={self.provider!r}, scopes={self.scopes!r}, min_ttl={self.min_ttl!r})"

    def token(self) -> AccessToken:
        """A token for the next request."""
        return request_token(self.provider, self.scopes, self.min_ttl, server=self.server)

    def fresher_token(self, rejected: AccessToken) -> AccessToken | None:
        """A token other than the one the API just refused, or None when the broker has no other."""
        return request_fresher_token(rejected, self.scopes, self.min_ttl, server=self.server)

    # --- requests ------------------------------------------------------------------------------------------

    def __call__(self, request: Any) -> Any:
        """``requests``: sets the header and, for a 401, sends the request once more with a fresher token."""
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        request.register_hook("response", lambda response, **kwargs: self._retry_on_401(response, token, kwargs))
        return request

    def _retry_on_401(self, response: Any, token: AccessToken, send_kwargs: dict[str, Any]) -> Any:
        request = response.request
        if response.status_code != 401 or getattr(request, _RETRIED, False) or not _replayable(request.body):
            return response
        fresh = self.fresher_token(token)
        if fresh is None:
            return response
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        again = request.copy()
        setattr(again, _RETRIED, True)
        again.headers["Authorization"] = f"Bearer {fresh.access_token}"
        retried = response.connection.send(again, **send_kwargs)
        retried.history.append(response)
        retried.request = again
        return retried

    # --- httpx ---------------------------------------------------------------------------------------------

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        """``httpx.Client``: sets the header and, for a 401, sends the request once more with a fresher token."""
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code == 401:
            fresh = self.fresher_token(token)
            if fresh is not None:
                request.headers["Authorization"] = f"Bearer {fresh.access_token}"
                yield request

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        """``httpx.AsyncClient``: as :meth:`auth_flow`; the blocking call to the broker runs in a thread."""
        token = await asyncio.to_thread(self.token)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code == 401:
            fresh = await asyncio.to_thread(self.fresher_token, token)
            if fresh is not None:
                request.headers["Authorization"] = f"Bearer {fresh.access_token}"
                yield request


def _replayable(body: Any) -> bool:
    """Whether a ``requests`` body can be sent twice (not a stream or generator)."""
    return body is None or isinstance(body, (bytes, str))
