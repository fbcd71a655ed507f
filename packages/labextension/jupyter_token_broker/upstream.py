"""The HTTP client that talks to the broker over its unix socket."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=2.0)
"""The broker gives every IdP call its own 10 s deadline; this only bounds a broker that hangs."""


class BrokerUnavailable(Exception):
    """The broker is not running or did not answer."""


@dataclass(frozen=True)
class UpstreamResponse:
    """What the broker answered, reduced to what is forwarded."""

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes


class BrokerClient:
    """Sends requests to one broker socket; one connection pool for the server's lifetime."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=socket_path),
            base_url="http://token-broker",
            timeout=UPSTREAM_TIMEOUT,
            trust_env=False,
            follow_redirects=False,
        )

    async def request(
        self, method: str, path_and_query: str, headers: dict[str, str], body: bytes | None
    ) -> UpstreamResponse:
        """Sends one request; ``path_and_query`` starts with ``/api/v1/``.

        :raises BrokerUnavailable: the socket is gone, refused, or the broker did not answer in time.
        """
        try:
            response = await self._client.request(method, path_and_query, headers=headers, content=body)
        except httpx.TransportError as err:
            raise BrokerUnavailable(type(err).__name__) from err
        return UpstreamResponse(
            status=response.status_code,
            reason=response.reason_phrase,
            headers=response.headers,
            body=response.content,
        )

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._client.aclose()
