"""The client that talks to the broker: HTTP/1.1 over its unix socket, with a few kept-alive connections.

It speaks only what the broker speaks: one request at a time per connection, bodies delimited by
``Content-Length`` (or, for an answer without one, by the broker closing the connection), never chunked, no
redirects, no proxies. A general client (httpx) cost about 1 ms per forwarded request; this one is an
:class:`asyncio.Protocol` that parses the answer as it arrives and wakes the handler once, when it is complete.

Reusing a kept-alive connection has one race: the broker closes a connection that sat idle
(``server.keepAliveTimeout`` is 5 s) just as a request is written to it. Connections idle longer than
:data:`IDLE_SECONDS` are therefore never reused, and a request that fails on a *reused* connection *before any
byte of the answer arrived* is sent once more on a fresh connection. That retry is sound also for POST: a broker
that has read a request does not close its connection without answering it, so an answer of zero bytes on a
reused connection means the request was never processed; the one exception, a broker that crashed in the middle
of the request, leaves no socket to retry on (the retry fails too, as ``BrokerUnavailable``) or a restarted
broker, for which every route is safe to repeat (a token request returns a token, a login start or a revocation
repeated has the same effect as one). A fresh connection, a timeout, or an answer cut off after its first byte
is never retried.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections import deque
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

DEADLINE_SECONDS = 30.0
"""The whole exchange (connect, send, answer). The broker gives every IdP call its own 10 s deadline; this only
bounds a broker that hangs."""

MAX_RESPONSE_BYTES = 1 << 20
"""Largest answer body accepted; the broker's answers are a few KB at most (the login callback page)."""

MAX_HEAD_BYTES = 16 * 1024
"""Largest status line plus header fields accepted."""

MAX_IDLE_CONNECTIONS = 4
"""Kept-alive connections kept for reuse; more are opened when more requests are in flight, then closed."""

IDLE_SECONDS = 2.0
"""A connection idle longer than this is closed instead of reused: well below the broker's 5 s keep-alive."""

REQUEST_HOST = "token-broker"
"""The ``Host`` of every request (the broker ignores it; HTTP/1.1 requires one)."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 ``token``: methods and field names."""

_TARGET = re.compile(r"/[\x21-\x7e]*")
"""An origin-form request target: visible ASCII only, so no space, CR, LF or NUL can split the request line."""

_FIELD_LINES = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n\0]*\r\n)*")
_FIELD = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\0]*?)[ \t]*\r\n")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?")
_DIGITS = re.compile(r"[0-9]{1,19}")

_RESERVED_REQUEST_FIELDS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
"""Request fields the client itself writes (or never sends); a caller setting them would desynchronise framing."""

_NO_BODY_STATUSES = frozenset({204, 304})

T = TypeVar("T")


class BrokerUnavailable(Exception):
    """The broker is not running, did not answer in time, or answered something this client does not accept.

    The message is a short reason for the server log (never request or answer content).
    """


class _ClosedBeforeAnswer(BrokerUnavailable):
    """The connection ended before the first byte of the answer: the only failure that may be retried."""


class ResponseHeaders(Mapping[str, str]):
    """The broker's answer header fields, looked up case-insensitively; a repeated field is joined with ``", "``."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields  # keys are lower-case

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"ResponseHeaders({sorted(self._fields)!r})"  # names only: values may be sensitive


@dataclass(frozen=True)
class UpstreamResponse:
    """What the broker answered, reduced to what is forwarded."""

    status: int
    reason: str
    headers: ResponseHeaders
    body: bytes


@dataclass(frozen=True)
class ResponseHead:
    """A parsed status line and header block.

    ``content_length`` is None for an answer delimited by the connection closing; ``keep_alive`` says whether the
    connection may carry another request afterwards.
    """

    status: int
    reason: str
    headers: ResponseHeaders
    content_length: int | None
    keep_alive: bool


def encode_request(method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The bytes of one HTTP/1.1 request; ``body`` None sends no body (and no ``Content-Length``).

    :raises ValueError: a method, target or header field that could split or reframe the request (CR, LF, NUL,
        spaces, non-Latin-1 text) or a field the client writes itself (``Host``, ``Content-Length``, ...).
    """
    if not _TOKEN.fullmatch(method):
        raise ValueError("invalid request method")
    if not _TARGET.fullmatch(target):
        raise ValueError("invalid request target")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {REQUEST_HOST}"]
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or name.lower() in _RESERVED_REQUEST_FIELDS:
            raise ValueError(f"invalid request header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"invalid value of request header {name!r}")
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("\r\n")
    try:
        head = "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("invalid request header value: not Latin-1") from None
    return head + body if body else head


def parse_response_head(head: bytes, *, max_body: int = MAX_RESPONSE_BYTES) -> ResponseHead:
    """Parses a status line and header fields (``head`` without its final empty line).

    Strict where leniency could let one answer be read as two: every line must end in CRLF (a bare CR or LF is
    refused), no obsolete line folding, no ``Transfer-Encoding``, one valid ``Content-Length``.

    :raises BrokerUnavailable: a malformed or unsupported head, or a ``Content-Length`` above ``max_body``.
    """
    status_line, _, block = head.partition(b"\r\n")
    matched = _STATUS_LINE.fullmatch(status_line)
    if matched is None:
        raise BrokerUnavailable("malformed status line")
    minor, code, reason = matched.groups()
    status = int(code)
    if status < 200:
        raise BrokerUnavailable("unexpected interim answer")  # never asked for: no Expect, no Upgrade
    text = block.decode("latin-1") + "\r\n" if block else ""
    # One pass checks that every line is "name: value" ending in CRLF (no bare CR or LF, no NUL, no folded
    # line: it would start with whitespace), a second one picks the fields out.
    if not _FIELD_LINES.fullmatch(text):
        raise BrokerUnavailable("malformed header field")
    fields: dict[str, str] = {}
    for name, value in _FIELD.findall(text):
        key = name.lower()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    if "transfer-encoding" in fields:
        raise BrokerUnavailable("unsupported Transfer-Encoding")
    content_length = _content_length(fields.get("content-length"), max_body)
    connection = {token.strip().lower() for token in fields.get("connection", "").split(",")}
    keep_alive = minor == b"1" and "close" not in connection
    if status in _NO_BODY_STATUSES:
        content_length = 0
    elif content_length is None:
        keep_alive = False  # the body runs until the broker closes the connection
    return ResponseHead(
        status=status,
        reason=(reason or b"").decode("latin-1"),
        headers=ResponseHeaders(fields),
        content_length=content_length,
        keep_alive=keep_alive,
    )


def _content_length(value: str | None, max_body: int) -> int | None:
    if value is None:
        return None
    if not _DIGITS.fullmatch(value):
        raise BrokerUnavailable("malformed Content-Length")  # also two of them ("12, 12")
    length = int(value)
    if length > max_body:
        raise BrokerUnavailable("answer too large")
    return length


class _Connection(asyncio.Protocol):
    """One unix-socket connection carrying one exchange at a time; parses the answer as its bytes arrive."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._head: ResponseHead | None = None
        self._received = 0
        self._waiter: asyncio.Future[tuple[ResponseHead, bytes]] | None = None

    # --- asyncio callbacks ---------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection's framing can no longer be trusted
            return
        self._received += len(data)
        self._buffer += data
        try:
            self._advance()
        except BrokerUnavailable as err:
            self._fail(err)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost settles the exchange

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        head = self._head
        if head is not None and head.content_length is None:
            waiter.set_result((head, bytes(self._buffer)))  # a body delimited by the close
        elif self._received == 0:
            waiter.set_exception(_ClosedBeforeAnswer("connection closed before the answer"))
        else:
            waiter.set_exception(BrokerUnavailable("connection closed in the middle of the answer"))

    # --- the exchange ----------------------------------------------------------------------------------------------

    async def exchange(self, request: bytes) -> tuple[ResponseHead, bytes]:
        """Sends ``request`` and waits for the complete answer."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise _ClosedBeforeAnswer("connection already closed")
        self._buffer.clear()
        self._head = None
        self._received = 0
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _advance(self) -> None:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise BrokerUnavailable("answer header too large")
                return
            if end > MAX_HEAD_BYTES:
                raise BrokerUnavailable("answer header too large")
            self._head = parse_response_head(bytes(self._buffer[:end]), max_body=self.max_body)
            del self._buffer[: end + 4]
        length = self._head.content_length
        if length is None:
            if len(self._buffer) > self.max_body:
                raise BrokerUnavailable("answer too large")
            return
        if len(self._buffer) > length:
            raise BrokerUnavailable("more bytes than Content-Length")
        if len(self._buffer) == length:
            assert self._waiter is not None  # noqa: S101 - data_received checked it
            self._waiter.set_result((self._head, bytes(self._buffer)))

    def _fail(self, err: BrokerUnavailable) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(err)
        self.close()


if sys.version_info >= (3, 11):

    async def _within(seconds: float, step: Awaitable[T]) -> T:
        async with asyncio.timeout(seconds):
            return await step

else:  # pragma: no cover - Python 3.9/3.10

    async def _within(seconds: float, step: Awaitable[T]) -> T:
        return await asyncio.wait_for(step, seconds)


class BrokerClient:
    """Sends requests to one broker socket, reusing up to ``max_idle`` kept-alive connections.

    One per server extension, for the server's lifetime; safe for any number of concurrent requests (each takes
    its own connection).
    """

    def __init__(
        self,
        socket_path: str,
        *,
        deadline: float = DEADLINE_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_idle: int = MAX_IDLE_CONNECTIONS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.socket_path = socket_path
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        self._idle: deque[_Connection] = deque()
        self._closed = False

    async def request(
        self, method: str, path_and_query: str, headers: Mapping[str, str], body: bytes | None
    ) -> UpstreamResponse:
        """Sends one request; ``path_and_query`` starts with ``/api/v1/``.

        :raises BrokerUnavailable: the socket is gone or refused, the broker did not answer within the deadline,
            or its answer was malformed or larger than ``max_response_bytes``.
        :raises ValueError: a method, path or header that could not be sent safely (see :func:`encode_request`).
        """
        request = encode_request(method, path_and_query, headers, body)
        if self._closed:
            raise BrokerUnavailable("client closed")
        try:
            head, content = await _within(self.deadline, self._exchange(request))
        except TimeoutError as err:  # asyncio.TimeoutError is TimeoutError from Python 3.11
            raise BrokerUnavailable("no answer within the deadline") from err
        except asyncio.TimeoutError as err:  # pragma: no cover - Python 3.9/3.10
            raise BrokerUnavailable("no answer within the deadline") from err
        return UpstreamResponse(status=head.status, reason=head.reason, headers=head.headers, body=content)

    async def _exchange(self, request: bytes) -> tuple[ResponseHead, bytes]:
        connection = self._checkout()
        while True:
            if connection is None:
                connection = await self._connect()
            try:
                head, content = await connection.exchange(request)
            except _ClosedBeforeAnswer:
                connection.close()
                if connection.reused:
                    connection = None  # a stale kept-alive connection: once more, fresh (see the module doc)
                    continue
                raise
            except BaseException:
                connection.close()  # timed out, cancelled or malformed: its state is unknown
                raise
            if head.keep_alive:
                self._checkin(connection)
            else:
                connection.close()
            return head, content

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_unix_connection(
                lambda: _Connection(self.max_response_bytes), self.socket_path
            )
        except OSError as err:  # FileNotFoundError, ConnectionRefusedError, PermissionError, ...
            raise BrokerUnavailable(f"cannot connect ({type(err).__name__})") from err
        return connection

    def _checkout(self) -> _Connection | None:
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely to be stale
            if connection.closed or now - connection.idle_since > self.idle_seconds:
                connection.close()
                continue
            connection.reused = True
            return connection
        return None

    def _checkin(self, connection: _Connection) -> None:
        if self._closed or connection.closed or len(self._idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.append(connection)

    async def close(self) -> None:
        """Closes the idle connections; a request still in flight closes its own when done."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
