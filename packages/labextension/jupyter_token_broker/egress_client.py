"""The streaming client of the broker's egress route: one transfer at a time, bodies passed through, never held.

``upstream.py``'s client buffers a whole answer (1 MiB at most) under one 30 s deadline: right for token requests,
wrong for a 1 GB download or upload. This one is the same tornado ``SimpleAsyncHTTPClient`` over the broker's unix
socket (the same resolver and request checks), used the other way round:

- the request body comes from a bounded queue the Jupyter handler fills from ``data_received`` (its put is the
  future tornado awaits before it reads more from the caller: flow control in);
- the answer goes out through ``header_callback`` and a ``streaming_callback`` that returns the handler's ``flush()``
  future (tornado awaits it before it reads more from the broker: flow control out);
- the deadline is for connecting and for silence (no byte either way for longer than the broker's own egress
  deadlines allow), never for the whole transfer, which may take as long as it keeps moving.

The broker checks the target, adds the token and talks to the upstream; this module only carries bytes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

from tornado.http1connection import HTTP1Connection
from tornado.httpclient import HTTPRequest
from tornado.httputil import HTTPHeaders, parse_response_start_line
from tornado.iostream import IOStream
from tornado.simple_httpclient import SimpleAsyncHTTPClient, _HTTPConnection
from tornado.tcpclient import TCPClient

from .contract import EGRESS_REQUEST_HEADERS
from .upstream import MAX_HEAD_BYTES, REQUEST_HOST, _SocketResolver, check_request

EGRESS_PREFIX = "egress/"
"""The egress route's path under ``token-broker/api/v1/``."""

CONNECT_SECONDS = 10.0
"""Deadline for connecting to the broker's socket (a local socket: a broker that does not accept is stuck)."""

DEFAULT_TIMEOUT_MS = 30000
DEFAULT_IDLE_TIMEOUT_MS = 60000
DEFAULT_MAX_BYTES = 4294967296
"""The broker's defaults of ``egress_timeout_ms``, ``egress_idle_timeout_ms`` and ``egress_max_*_bytes``, used
when ``c.TokenBroker`` leaves them unset."""

IDLE_MARGIN_SECONDS = 5.0
"""Added to the broker's own deadlines: the broker ends a silent call first and answers why (504 with its error
header); this side only ends a transfer when the broker itself has gone silent."""

READ_CHUNK_BYTES = 256 << 10
"""The most read from the broker's socket at once and handed on as one answer chunk (tornado's default: 64 KiB).
With 64 KiB the server spent more time per byte on its event loop and on writing to the caller; measured through
the broker, the egress reached 0.53-0.73 of a bare tornado proxy's throughput with 64 KiB, 0.75-0.77 with
256 KiB. At most about three of them are held per transfer (``EgressProxyHandler.relay_chunk``)."""

QUEUE_CHUNKS = 8
"""Request body chunks (tornado reads at most 64 KiB at a time) waiting for the broker's socket: at most ~512 KiB."""

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
"""Response fields about one connection, never relayed (``Proxy-*`` too, and whatever ``Connection`` names)."""

ORIGIN_BOUND = frozenset(
    {
        "set-cookie",
        "set-cookie2",
        "clear-site-data",
        "strict-transport-security",
        "alt-svc",
        "timing-allow-origin",
        "service-worker-allowed",
        "origin-agent-cluster",
        "content-length",
        "server",
        "date",
        "x-content-type-options",
    }
)
"""Response fields not relayed from the upstream: those that would act on Jupyter's origin (cookies, site data,
HSTS, ``Access-Control-*``: an upstream could otherwise let another site read this route with the person's
cookie), and those tornado writes itself (framing, ``Server``, ``Date``, ``nosniff``)."""

_REASON = re.compile(r"[\x20-\x7e]{0,64}")


class EgressFailed(Exception):
    """No complete answer: the broker was not reachable, closed the connection, or went silent.

    ``phase`` is where it failed: ``connect`` (nothing sent to the broker), ``silent`` (no byte either way within
    the idle deadline) or ``closed`` (the connection ended early); the message is a fixed reason for the server
    log, never request or answer content.
    """

    def __init__(self, phase: str, reason: str) -> None:
        super().__init__(reason)
        self.phase = phase


@dataclass(frozen=True)
class EgressLimits:
    """Sizes and deadlines of egress transfers, from the broker's options as ``c.TokenBroker`` sets them."""

    idle_seconds: float
    max_request_bytes: int
    max_response_bytes: int

    @classmethod
    def from_config(cls, config: object) -> EgressLimits:
        """The limits of ``config`` (``c.TokenBroker``); an unset option has the broker's default."""

        def option(name: str, default: int) -> int:
            value = getattr(config, name, None)
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default

        # Silence on this side lasts at most as long as the broker waits for an answer head or for any byte.
        quiet_ms = max(
            option("egress_timeout_ms", DEFAULT_TIMEOUT_MS), option("egress_idle_timeout_ms", DEFAULT_IDLE_TIMEOUT_MS)
        )
        return cls(
            idle_seconds=quiet_ms / 1000 + IDLE_MARGIN_SECONDS,
            max_request_bytes=option("egress_max_request_bytes", DEFAULT_MAX_BYTES),
            max_response_bytes=option("egress_max_response_bytes", DEFAULT_MAX_BYTES),
        )


def is_egress_path(path: str) -> bool:
    """Whether a path under ``token-broker/api/v1/`` names the egress route in any spelling the broker might
    accept (case, percent-encoding, leading slashes): the generic proxy must never forward one."""
    decoded = unquote(path).lstrip("/").lower()
    return decoded == EGRESS_PREFIX.rstrip("/") or decoded.startswith(EGRESS_PREFIX)


def forwarded_request_headers(headers: HTTPHeaders) -> dict[str, str]:
    """The caller's headers the broker gets: the egress allowlist only (no credentials, cookies, ``X-Broker-*``
    or ``Origin``); ``Content-Length`` is the framing and is set by :meth:`EgressClient.transfer`."""
    forwarded = {}
    for name in EGRESS_REQUEST_HEADERS:
        if name == "content-length":
            continue
        values = headers.get_list(name)
        if values:
            forwarded[name.title()] = ", ".join(values)
    return forwarded


def relayed_response_headers(headers: HTTPHeaders) -> list[tuple[str, str]]:
    """The broker's answer fields the caller gets: all but hop-by-hop and :data:`ORIGIN_BOUND` ones (the broker
    filtered them already; a second look costs nothing)."""
    named = {
        token.strip().lower() for value in headers.get_list("Connection") for token in value.split(",") if token.strip()
    }
    relayed = []
    for name, value in headers.get_all():
        lowered = name.lower()
        if lowered in HOP_BY_HOP or lowered in named or lowered in ORIGIN_BOUND:
            continue
        if lowered.startswith(("proxy-", "access-control-", "x-broker-")):
            continue
        relayed.append((name, value))
    return relayed


def relayed_reason(reason: str | None) -> str | None:
    """The status line's reason phrase when it is short printable ASCII, else None (tornado's own)."""
    return reason if reason and _REASON.fullmatch(reason) else None


class _RecordingTCPClient(TCPClient):
    """Hands the connected stream to the transfer, which closes it when the broker goes silent (tornado's own
    ``request_timeout`` would bound the whole transfer instead)."""

    def __init__(self, resolver: _SocketResolver, on_stream: Callable[[IOStream], None]) -> None:
        super().__init__(resolver=resolver)
        self._on_stream = on_stream

    async def connect(self, *args: Any, **kwargs: Any) -> IOStream:  # type: ignore[override]
        stream = await super().connect(*args, **kwargs)
        self._on_stream(stream)
        return stream


class _EgressConnection(_HTTPConnection):
    """tornado's client connection reading the answer body :data:`READ_CHUNK_BYTES` at a time (tornado offers no
    option for it: its connection parameters are made here)."""

    def _create_connection(self, stream: IOStream) -> HTTP1Connection:
        connection = super()._create_connection(stream)
        stream.read_chunk_size = READ_CHUNK_BYTES
        connection.params.chunk_size = READ_CHUNK_BYTES
        return connection


class _EgressHTTPClient(SimpleAsyncHTTPClient):
    """:class:`SimpleAsyncHTTPClient` with :class:`_EgressConnection`."""

    def _connection_class(self) -> type:
        return _EgressConnection


_END = object()
"""Queued after the last body chunk."""

_ABORT = object()
"""Queued when the transfer is aborted."""


class EgressTransfer:
    """One egress call to the broker: the request body fed in as it arrives, the answer handed out as it comes.

    Made by :meth:`EgressClient.transfer`; :meth:`run` sends it and returns when the answer is complete.
    """

    def __init__(
        self, client: EgressClient, method: str, target: str, headers: Mapping[str, str], *, has_body: bool
    ) -> None:
        self._client = client
        self.method = method
        self._target = target
        self._headers = dict(headers)
        self._has_body = has_body
        self._queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_CHUNKS)
        self._body_complete = False
        self._stream: IOStream | None = None
        self._last_activity = time.monotonic()
        self._silent = False
        self.ended = False
        """True once the transfer is over (answered, failed or aborted): more body chunks are dropped."""
        self.bytes_sent = 0
        self.bytes_received = 0
        self.head_received = False

    def feed(self, chunk: bytes) -> Awaitable[None] | None:
        """Queues a request body chunk; the awaitable resolves when there is room (tornado awaits it)."""
        if self.ended or not chunk:
            return None
        return self._queue.put(chunk)

    def end_body(self) -> None:
        """The caller's body is complete."""
        self._body_complete = True
        if self._queue.empty():
            self._queue.put_nowait(_END)  # wakes a producer waiting for a chunk

    def abort(self) -> None:
        """Ends the transfer now (the caller went away, or it went silent): the broker's connection is closed, so
        the broker stops the upstream call too."""
        self.ended = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_ABORT)
        if self._stream is not None:
            self._stream.close()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _on_stream(self, stream: IOStream) -> None:
        self._stream = stream
        if self.ended:
            stream.close()

    async def _produce(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        while not (self._body_complete and self._queue.empty()):
            chunk = await self._queue.get()
            if chunk is _ABORT:
                raise EgressFailed("closed", "the caller's request ended early")
            if chunk is _END:
                return
            data = cast(bytes, chunk)
            self.bytes_sent += len(data)
            self._touch()
            await write(data)
            self._touch()

    async def _watch(self) -> None:
        """Closes the connection once nothing moved either way for the idle deadline."""
        idle = self._client.limits.idle_seconds
        while not self.ended:
            left = self._last_activity + idle - time.monotonic()
            if left <= 0:
                self._silent = True
                self.abort()
                return
            await asyncio.sleep(left)

    async def run(
        self,
        on_head: Callable[[int, str | None, HTTPHeaders], None],
        on_chunk: Callable[[bytes], Awaitable[None] | None],
    ) -> None:
        """Sends the request and hands out the answer: ``on_head(status, reason, headers)`` once, then
        ``on_chunk`` per body chunk (its awaitable holds further reading back).

        :raises EgressFailed: no complete answer (see its ``phase``).
        """
        head_lines: list[str] = []

        def header_line(line: str) -> None:
            self._touch()
            line = line.rstrip("\r\n")
            if line:
                head_lines.append(line)
                return
            start = parse_response_start_line(head_lines[0])
            headers = HTTPHeaders()
            for field in head_lines[1:]:
                headers.parse_line(field)
            head_lines.clear()
            if start.code < 200:
                return  # an interim answer; the final one follows
            self.head_received = True
            on_head(start.code, relayed_reason(start.reason), headers)

        def body_chunk(chunk: bytes) -> Awaitable[None] | None:
            self.bytes_received += len(chunk)
            self._touch()
            return on_chunk(chunk)

        request = HTTPRequest(
            f"http://{REQUEST_HOST}{self._target}",
            method=self.method,
            headers=self._headers,
            body_producer=self._produce if self._has_body else None,
            body=None if self._has_body or self.method not in ("POST", "PUT", "PATCH") else b"",
            header_callback=header_line,
            streaming_callback=body_chunk,
            connect_timeout=CONNECT_SECONDS,
            request_timeout=0,  # none for the whole transfer: _watch ends a silent one
            follow_redirects=False,
            decompress_response=False,
            allow_nonstandard_methods=True,
        )
        http = _EgressHTTPClient(
            force_instance=True,
            resolver=self._client.resolver,
            max_clients=1,
            max_header_size=MAX_HEAD_BYTES,
            max_body_size=self._client.limits.max_response_bytes,
        )
        http.tcp_client = _RecordingTCPClient(self._client.resolver, self._on_stream)
        watch = asyncio.ensure_future(self._watch())
        error: BaseException | None = None
        try:
            # raise_error=False: an error status is an answer to relay; not getting one still raises.
            await http.fetch(request, raise_error=False)
        except Exception as err:
            error = err
        finally:
            aborted = self.ended
            self.ended = True
            watch.cancel()
            http.close()
        if error is None and not aborted:
            return
        if self._silent:
            raise EgressFailed("silent", "no byte either way within the idle deadline") from error
        if self._stream is None:
            raise EgressFailed("connect", f"cannot connect ({type(error).__name__})") from error
        raise EgressFailed("closed", "the connection ended before the answer was complete") from error


class EgressClient:
    """Makes egress transfers to one broker socket; one per server extension, any number of transfers at once."""

    def __init__(self, socket_path: str, limits: EgressLimits) -> None:
        self.socket_path = socket_path
        self.limits = limits
        self.resolver = _SocketResolver(socket_path=socket_path)

    def transfer(
        self, method: str, path_and_query: str, headers: Mapping[str, str], *, content_length: int | None, body: bool
    ) -> EgressTransfer:
        """A transfer of ``method path_and_query`` (starting with ``/api/v1/egress/``) with ``headers``; ``body``
        tells whether a request body follows, ``content_length`` its announced size (None: chunked).

        :raises ValueError: a method, path or header that could not be sent safely (``upstream.check_request``).
        """
        check_request(method, path_and_query, headers)
        headers = dict(headers)
        # Not tornado's "Connection: close": with it, node closes the socket as soon as it has answered, so a refusal
        # given while a large body still arrives became a reset here (tornado reads only after writing the body).
        # This side still uses each connection once and closes it after the answer.
        headers["Connection"] = "keep-alive"
        if content_length is not None:
            headers["Content-Length"] = str(content_length)
        return EgressTransfer(self, method, path_and_query, headers, has_body=body)
