"""Calling an API as the user without the token entering the kernel: the broker's egress for ``requests`` and
``httpx``.

``broker_session("archive")`` is a ``requests.Session`` and ``BrokerTransport("archive")`` an httpx transport
whose requests go to the egress route of the Jupyter server this kernel belongs to
(``{server}token-broker/api/v1/egress/archive/{scheme}/{authority}/{path}?{query}``), authenticated like
:func:`~jupyter_token_broker.get_token` (``Authorization: token …``). The broker adds ``Authorization: Bearer``
on its side, only for targets under the provider's ``egress`` prefixes, and streams both ways: the kernel never
asks for a token and never sees one.

An answer the broker made itself (a refusal, a gateway error) carries ``X-Token-Broker-Error`` and raises
:class:`~jupyter_token_broker.TokenBrokerError`; every answer of the API itself comes back as it is, as a
``requests.Response`` or ``httpx.Response`` for the URL that was asked.

``requests`` and ``httpx`` are optional: this module is imported on first use of one of its names, and each
name needs only its own library.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from .contract import EGRESS_ERROR_HEADER, PROVIDER_ID
from .discovery import ServerInfo, find_server
from .errors import TokenBrokerError
from .kernel import CLIENT_LABEL, _error_from_response, _retry_after, credential_headers

try:
    import requests
except ImportError:  # pragma: no cover - requests is optional
    requests = None  # type: ignore[assignment]
try:
    import httpx
except ImportError:  # pragma: no cover - httpx is optional
    httpx = None  # type: ignore[assignment]

EGRESS_ROUTE = "token-broker/api/v1/egress/"
"""Where the Jupyter server exposes the broker's egress, below the server's base URL."""

_NOT_ROUTED = frozenset(("authorization", "proxy-authorization", "cookie", "host"))
"""The caller's own credentials (never forwarded upstream; the Jupyter server's credential takes their place) and
the API's ``Host`` (the request goes to the Jupyter server)."""


def egress_url(server_url: str, provider: str, url: str) -> str:
    """The egress route on the Jupyter server at ``server_url`` that the broker forwards to ``url``.

    :param server_url: the Jupyter server's URL ending with its base URL and ``/`` (``ServerInfo.url``).
    :param provider: the provider id whose token the broker adds.
    :param url: the API's absolute ``http(s)`` URL, percent-encoded as it is to be sent.
    :returns: ``{server_url}token-broker/api/v1/egress/{provider}/{scheme}/{authority}{path}{?query}``: the
        scheme and host lowercased, a port only when ``url`` names one, an IPv6 host in brackets, the path and
        query as they are (an empty path is ``/``), no fragment.
    :raises TokenBrokerError: ``invalid_request`` for a provider id that is none, a URL that is not absolute
        ``http(s)``, has no host or a bad port, or carries ``user:password@`` (the broker adds the credential).

    Example::

        egress_url("http://127.0.0.1:8888/", "archive", "https://archive.example.org/tap/sync?q=1")
        # 'http://127.0.0.1:8888/token-broker/api/v1/egress/archive/https/archive.example.org/tap/sync?q=1'
    """
    if not isinstance(provider, str) or not PROVIDER_ID.match(provider):
        raise TokenBrokerError("invalid_request", 400, f"Not a provider id: {provider!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise TokenBrokerError(
            "invalid_request", 400, f"The egress forwards absolute http(s) URLs only, not {_origin_of(url)!r}."
        )
    if "@" in parts.netloc:
        raise TokenBrokerError(
            "invalid_request", 400, "A URL with user:password@ is not forwarded: the broker adds the credential."
        )
    try:
        port = parts.port
    except ValueError:
        raise TokenBrokerError("invalid_request", 400, f"Not a valid port in {_origin_of(url)!r}.") from None
    host = parts.hostname  # lowercased, without the brackets of an IPv6 literal
    authority = f"[{host}]" if ":" in host else host
    if port is not None:
        authority += f":{port}"
    path = parts.path if parts.path.startswith("/") else f"/{parts.path}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{server_url}{EGRESS_ROUTE}{quote(provider)}/{scheme}/{authority}{path}{query}"


def _origin_of(url: str) -> str:
    """The part of a URL before its path, for error messages (never the query, which may hold secrets)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.scheme else url.split("?", 1)[0][:80]


def routed_headers(headers: Any, info: ServerInfo) -> dict[str, str]:
    """The caller's headers for the egress route: without its own credentials, with the Jupyter server's."""
    kept = {name: value for name, value in headers.items() if name.lower() not in _NOT_ROUTED}
    kept.update(credential_headers(info))
    kept["X-Token-Broker-Client"] = CLIENT_LABEL
    return kept


def broker_error(provider: str, status: int, headers: Any, body: bytes, info: ServerInfo) -> TokenBrokerError:
    """The error of an answer marked ``X-Token-Broker-Error``: its ``{error, error_description}``, else the code
    the header names."""
    error = _error_from_response(provider, status, body, info, _retry_after(headers.get("Retry-After")))
    marked = headers.get(EGRESS_ERROR_HEADER) or ""
    try:
        has_code = isinstance(json.loads(body or b"{}").get("error"), str)
    except (ValueError, AttributeError):
        has_code = False
    if not has_code and marked:
        error.code = marked
    return error


class _Target:
    """The provider and the Jupyter server of one session or transport (the server found on first use)."""

    def __init__(self, provider: str, server: ServerInfo | None) -> None:
        if not isinstance(provider, str) or not PROVIDER_ID.match(provider):
            raise TokenBrokerError("invalid_request", 400, f"Not a provider id: {provider!r}")
        self.provider = provider
        self._server = server

    @property
    def server(self) -> ServerInfo:
        if self._server is None:
            self._server = find_server()
        return self._server

    def url(self, url: str) -> str:
        return egress_url(self.server.url, self.provider, url)

    def unreachable(self, err: Exception) -> TokenBrokerError:
        return TokenBrokerError(
            "server_unreachable", 0, f"Could not reach the Jupyter server at {self.server.url}: {type(err).__name__}"
        )


def _missing(library: str, name: str, instead: str) -> ImportError:
    return ImportError(
        f"{name} needs the {library!r} package, which this kernel's Python does not have: "
        f"`%pip install {library}` and restart the kernel, or use {instead}."
    )


# --- requests ----------------------------------------------------------------------------------------------


class BrokerSession(requests.Session if requests is not None else object):  # type: ignore[misc]
    """A ``requests.Session`` whose http(s) requests go through the broker's egress for one provider.

    Made by :func:`broker_session`. It uses no proxy, no ``.netrc`` and no environment CA settings for the
    Jupyter server (``trust_env`` is off: the Jupyter server is this kernel's own); redirects are followed as
    ``requests`` does, each hop through the egress again, so only allowlisted targets ever get the token.
    """

    def __init__(self, provider: str, *, server: ServerInfo | None = None) -> None:
        if requests is None:
            raise _missing("requests", "broker_session", 'httpx with transport=BrokerTransport("…")')
        self._target = _Target(provider, server)
        super().__init__()
        self.trust_env = False

    @property
    def provider(self) -> str:
        """The provider id whose token the broker adds."""
        return self._target.provider

    def __repr__(self) -> str:
        return f"<BrokerSession provider={self.provider!r}>"

    def send(self, request: Any, **kwargs: Any) -> Any:
        """Sends ``request`` through the egress; the response shows the API's URL and ``request``, as asked."""
        allow_redirects = kwargs.pop("allow_redirects", True)
        target = self._target
        routed = request.copy()
        routed.url = target.url(request.url)
        routed.headers = requests.structures.CaseInsensitiveDict(routed_headers(request.headers, target.server))
        try:
            response = super().send(routed, allow_redirects=False, **kwargs)
        except requests.exceptions.ConnectionError as err:
            raise target.unreachable(err) from None
        # The caller sees the API's URL (relative redirects resolve against it) and its own request, never the
        # Jupyter server's credential.
        response.url = request.url
        response.request = request
        response._next = None
        if response.headers.get(EGRESS_ERROR_HEADER):
            body = response.content
            response.close()
            raise broker_error(target.provider, response.status_code, response.headers, body, target.server)
        if allow_redirects:
            history = list(self.resolve_redirects(response, request, **kwargs))
            if history:
                history.insert(0, response)
                response = history.pop()
                response.history = history
        else:
            response._next = next(self.resolve_redirects(response, request, yield_requests=True, **kwargs), None)
        return response


def broker_session(provider: str, *, server: ServerInfo | None = None) -> Any:
    """A ``requests.Session`` that calls APIs as the user through the broker: the token never enters the kernel.

    Every http(s) request of the session goes to the egress route of this kernel's Jupyter server, which hands
    it to the broker; the broker adds ``Authorization: Bearer <a fresh token of provider>`` when the URL is under
    one of the provider's ``egress`` prefixes, retries once with a newer token on a 401 (for requests without a
    body), and streams the request and the answer both ways (``stream=True``, file objects and generators as
    ``data=`` work unbuffered). Only the usual request headers (``Accept``, ``Content-Type``, ``Range``,
    conditionals…) reach the API; the session's own ``Authorization``, cookies and ``auth=`` never do.

    :param provider: the provider id, e.g. ``"archive"``; its config needs ``egress`` prefixes.
    :param server: the Jupyter server to go through; by default the one that started this kernel.
    :returns: a ``requests.Session`` (a :class:`BrokerSession`).
    :raises ImportError: ``requests`` is not installed.
    :raises TokenBrokerError: (when a request is sent) the broker refused or failed: ``egress_not_allowed``
        (the URL is not under the provider's prefixes), ``login_required`` (sign in from the Token Broker panel),
        ``upstream_unavailable`` (the API did not answer), ``server_unreachable``, … with ``code`` and
        ``status``. The API's own answers, 4xx and 5xx included, are returned as responses.

    Example::

        from jupyter_token_broker import broker_session

        archive = broker_session("archive")
        archive.get("https://archive.example.org/tap/tables", params={"format": "json"}).json()
        with archive.get("https://archive.example.org/tap/result.fits", stream=True) as answer:
            for chunk in answer.iter_content(1 << 20):
                ...
    """
    return BrokerSession(provider, server=server)


# --- httpx -------------------------------------------------------------------------------------------------


def _routed_request(target: _Target, request: Any) -> Any:
    """The httpx request for the egress route: same method, body stream and extensions (timeouts)."""
    url = httpx.URL(target.url(str(request.url)))
    # With a stream given, httpx adds no Host of its own: it is the Jupyter server's, not the API's.
    headers = {"Host": url.netloc.decode("ascii"), **routed_headers(request.headers, target.server)}
    return httpx.Request(request.method, url, headers=headers, stream=request.stream, extensions=request.extensions)


class BrokerTransport(httpx.BaseTransport if httpx is not None else object):  # type: ignore[misc]
    """An httpx transport that sends every request through the broker's egress for one provider.

    :param provider: the provider id, e.g. ``"archive"``; its config needs ``egress`` prefixes.
    :param server: the Jupyter server to go through; by default the one that started this kernel.
    :param transport: the transport to the Jupyter server; by default ``httpx.HTTPTransport()`` (no proxy).
    :raises ImportError: ``httpx`` is not installed.
    :raises TokenBrokerError: (when a request is sent) an answer the broker made itself, as for
        :func:`broker_session`; the API's own answers come back as ``httpx.Response``.

    Example::

        import httpx
        from jupyter_token_broker import BrokerTransport

        with httpx.Client(transport=BrokerTransport("archive")) as client:
            client.get("https://archive.example.org/tap/tables").json()
    """

    def __init__(self, provider: str, *, server: ServerInfo | None = None, transport: Any = None) -> None:
        if httpx is None:
            raise _missing("httpx", "BrokerTransport", 'broker_session("…") with requests')
        self._target = _Target(provider, server)
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    def __repr__(self) -> str:
        return f"<BrokerTransport provider={self._target.provider!r}>"

    def handle_request(self, request: Any) -> Any:
        """Sends ``request`` through the egress; httpx sets the response's ``request`` back to ``request``."""
        target = self._target
        try:
            response = self._transport.handle_request(_routed_request(target, request))
        except httpx.ConnectError as err:
            raise target.unreachable(err) from None
        if response.headers.get(EGRESS_ERROR_HEADER):
            try:
                body = response.read()
            finally:
                response.close()
            raise broker_error(target.provider, response.status_code, response.headers, body, target.server)
        return response

    def close(self) -> None:
        """Closes the connections to the Jupyter server."""
        self._transport.close()


class AsyncBrokerTransport(httpx.AsyncBaseTransport if httpx is not None else object):  # type: ignore[misc]
    """:class:`BrokerTransport` for ``httpx.AsyncClient``.

    :param provider: the provider id, e.g. ``"archive"``.
    :param server: the Jupyter server to go through; by default the one that started this kernel.
    :param transport: the transport to the Jupyter server; by default ``httpx.AsyncHTTPTransport()``.

    Example::

        import httpx
        from jupyter_token_broker import AsyncBrokerTransport

        async with httpx.AsyncClient(transport=AsyncBrokerTransport("archive")) as client:
            (await client.get("https://archive.example.org/tap/tables")).json()
    """

    def __init__(self, provider: str, *, server: ServerInfo | None = None, transport: Any = None) -> None:
        if httpx is None:
            raise _missing("httpx", "AsyncBrokerTransport", 'broker_session("…") with requests')
        self._target = _Target(provider, server)
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    def __repr__(self) -> str:
        return f"<AsyncBrokerTransport provider={self._target.provider!r}>"

    async def handle_async_request(self, request: Any) -> Any:
        """Sends ``request`` through the egress, as :meth:`BrokerTransport.handle_request`."""
        target = self._target
        try:
            response = await self._transport.handle_async_request(_routed_request(target, request))
        except httpx.ConnectError as err:
            raise target.unreachable(err) from None
        if response.headers.get(EGRESS_ERROR_HEADER):
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            raise broker_error(target.provider, response.status_code, response.headers, body, target.server)
        return response

    async def aclose(self) -> None:
        """Closes the connections to the Jupyter server."""
        await self._transport.aclose()
