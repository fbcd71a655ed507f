"""The client that talks to the broker: tornado's own HTTP client over the broker's unix socket.

It reaches the broker as jupyter-server-proxy reaches a process on a unix socket: ``SimpleAsyncHTTPClient`` with a
resolver that answers every host name with the socket. tornado opens one connection per request and closes it after
the answer, so there is no kept-alive connection that could go stale between requests and no leftover byte that
could be read as the next answer. ``make bench`` times it against the hand-written HTTP/1.1 client with kept-alive
connections it replaced (``docs/architecture.md`` has the figures): 1 to 3 ms more per token request, which nobody
asking for a token a few times a minute notices.

What the extension adds to tornado's defaults: one deadline for connecting and answering, a cap on the answer's
size, no redirects followed and no decompression, and a request that a header value cannot split or reframe
(:func:`check_request`). Every way of not getting an answer is one exception, :class:`BrokerUnavailable`, whose
message is a fixed reason for the server log: never the URL (a login callback's query carries the authorization
code), a header or the body.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.httputil import HTTPInputError
from tornado.iostream import StreamClosedError, UnsatisfiableReadError
from tornado.netutil import Resolver
from tornado.simple_httpclient import HTTPTimeoutError, SimpleAsyncHTTPClient

DEADLINE_SECONDS = 30.0
"""Connecting, then the whole answer. The broker gives every IdP call its own 10 s deadline; this only bounds a
broker that hangs."""

MAX_RESPONSE_BYTES = 1 << 20
"""Largest answer body accepted; the broker's answers are a few KB at most (the login callback page)."""

MAX_HEAD_BYTES = 16 * 1024
"""Largest status line plus header fields accepted."""

MAX_CONCURRENT_REQUESTS = 64
"""Requests in flight at once; more wait (within their deadline) for one to finish. A server has one owner, whose
kernels and browser tabs seldom have more than a few token requests in flight."""

REQUEST_HOST = "token-broker"
"""The ``Host`` of every request (the broker ignores it; HTTP/1.1 requires one)."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 ``token``: methods and field names."""

_TARGET = re.compile(r"/[\x21-\x7e]*")
"""An origin-form request target: visible ASCII only, so no space, CR, LF or NUL can split the request line."""

_RESERVED_REQUEST_FIELDS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
"""Request fields the client writes itself (or never sends); a caller setting them would change the framing."""


class BrokerUnavailable(Exception):
    """The broker is not running, did not answer in time, or answered something this client does not accept.

    The message is a short reason for the server log (never request or answer content).
    """


@dataclass(frozen=True)
class UpstreamResponse:
    """What the broker answered, reduced to what is forwarded. ``headers`` are looked up case-insensitively."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes = field(repr=False)  # a token answer: never in a repr


def check_request(method: str, target: str, headers: Mapping[str, str]) -> None:
    """Refuses a request whose method, target or header fields could split or reframe it on the wire.

    :raises ValueError: CR, LF, NUL, spaces or non-ASCII in the method or target, a header name that is not a
        token or value with CR, LF, NUL or text outside Latin-1, or a field the client writes itself (``Host``,
        ``Content-Length``, ...).
    """
    if not _TOKEN.fullmatch(method):
        raise ValueError("invalid request method")
    if not _TARGET.fullmatch(target):
        raise ValueError("invalid request target")
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or name.lower() in _RESERVED_REQUEST_FIELDS:
            raise ValueError(f"invalid request header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"invalid value of request header {name!r}")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"invalid value of request header {name!r}: not Latin-1") from None


class _SocketResolver(Resolver):
    """Resolves every host name to the broker's unix socket."""

    def initialize(self, socket_path: str) -> None:  # type: ignore[override]
        self.socket_path = socket_path

    async def resolve(self, host: str, port: int, family: int = socket.AF_UNSPEC) -> list[tuple[int, str]]:
        return [(socket.AF_UNIX, self.socket_path)]


class BrokerClient:
    """Sends requests to one broker socket, each on its own connection.

    One per server extension, for the server's lifetime; safe for any number of concurrent requests.
    """

    def __init__(
        self,
        socket_path: str,
        *,
        deadline: float = DEADLINE_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.socket_path = socket_path
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self._http: SimpleAsyncHTTPClient | None = None
        self._closed = False

    def _client(self) -> SimpleAsyncHTTPClient:
        # Made on the first request, so in the server's running event loop (tornado binds a client to its loop).
        if self._http is None:
            self._http = SimpleAsyncHTTPClient(
                force_instance=True,
                resolver=_SocketResolver(socket_path=self.socket_path),
                max_clients=MAX_CONCURRENT_REQUESTS,
                max_header_size=MAX_HEAD_BYTES,
                max_body_size=self.max_response_bytes,
            )
        return self._http

    async def request(
        self, method: str, path_and_query: str, headers: Mapping[str, str], body: bytes | None
    ) -> UpstreamResponse:
        """Sends one request; ``path_and_query`` starts with ``/api/v1/``; ``body`` None sends none.

        :raises BrokerUnavailable: the socket is gone or refused, the broker did not answer within the deadline,
            or its answer was cut off, malformed or larger than ``max_response_bytes``.
        :raises ValueError: a method, path or header that could not be sent safely (see :func:`check_request`).
        """
        check_request(method, path_and_query, headers)
        if self._closed:
            raise BrokerUnavailable("client closed")
        request = HTTPRequest(
            f"http://{REQUEST_HOST}{path_and_query}",
            method=method,
            headers=dict(headers),
            body=body,
            connect_timeout=self.deadline,
            request_timeout=self.deadline,
            follow_redirects=False,
            decompress_response=False,
        )
        try:
            # raise_error=False: an error status is an answer to relay; failing to get one still raises.
            response = await self._client().fetch(request, raise_error=False)
        except HTTPTimeoutError as err:
            raise BrokerUnavailable("no answer within the deadline") from err
        except (HTTPClientError, StreamClosedError, UnsatisfiableReadError, HTTPInputError) as err:
            # tornado logs which (e.g. "Content-Length too long") at info, without content.
            raise BrokerUnavailable("no complete answer: cut off, malformed or too large") from err
        except OSError as err:  # FileNotFoundError, ConnectionRefusedError, PermissionError, ...
            raise BrokerUnavailable(f"cannot connect ({type(err).__name__})") from err
        return UpstreamResponse(
            status=response.code, reason=response.reason, headers=response.headers, body=response.body or b""
        )

    async def close(self) -> None:
        """Refuses further requests; one still in flight finishes on its own connection."""
        self._closed = True
        if self._http is not None:
            self._http.close()
