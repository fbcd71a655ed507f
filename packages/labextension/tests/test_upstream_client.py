"""The broker client (``upstream.py``) against a tiny real HTTP server on a unix socket that answers as scripted.

Each test scripts the bytes the "broker" sends back, so the failure modes a real broker only shows by accident
(a kept-alive connection closed just as it is reused, an answer cut off, a lying ``Content-Length``) happen on
purpose. No ports: the socket lives in the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jupyter_token_broker.upstream import (
    BrokerClient,
    BrokerUnavailable,
    encode_request,
    parse_response_head,
)

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


@dataclass
class Request:
    """One request as the server read it: the connection's number, its head and body."""

    connection: int
    head: bytes
    body: bytes


Script = Callable[["TinyServer", Request, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class TinyServer:
    """Reads requests (``Content-Length`` bodies) and lets ``script`` answer each one."""

    path: str
    script: Script
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                request = Request(number, head, await reader.readexactly(length))
                self.requests.append(request)
                await self.script(self, request, writer)
                if writer.is_closing():
                    return
        finally:
            writer.close()


def answer(data: bytes) -> Script:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return script


def run(socket_path: Path, script: Script, test: Callable[[BrokerClient, TinyServer], Awaitable[None]], **options):
    """Runs ``test`` against a server answering with ``script`` and a client with ``options``."""

    async def main() -> None:
        tiny = TinyServer(str(socket_path), script)
        server = await asyncio.start_unix_server(tiny.handle, path=str(socket_path))
        client = BrokerClient(str(socket_path), **options)
        try:
            await test(client, tiny)
        finally:
            await client.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    return tmp_path / "broker.sock"


def test_request_and_answer_round_trip(sock: Path) -> None:
    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        response = await client.request(
            "POST", "/api/v1/providers/demo/token?x=1", {"Content-Type": "application/json"}, b'{"min_ttl":60}'
        )
        assert response.status == 200
        assert response.reason == "OK"
        assert response.body == b'{"ok":true}'
        assert response.headers["content-type"] == "application/json"
        assert "CONTENT-TYPE" in response.headers
        assert response.headers.get("Retry-After") is None
        (request,) = tiny.requests
        assert request.head.startswith(b"POST /api/v1/providers/demo/token?x=1 HTTP/1.1\r\n")
        assert b"\r\nHost: token-broker\r\n" in request.head
        assert b"\r\nContent-Length: 14\r\n" in request.head
        assert request.body == b'{"min_ttl":60}'

    run(sock, answer(OK), test)


def test_get_sends_no_body_and_no_content_length(sock: Path) -> None:
    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        await client.request("GET", "/api/v1/providers", {"Accept": "application/json"}, None)
        assert b"content-length" not in tiny.requests[0].head.lower()

    run(sock, answer(OK), test)


def test_connection_is_kept_alive_and_reused(sock: Path) -> None:
    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        for _ in range(5):
            assert (await client.request("GET", "/api/v1/providers", {}, None)).status == 200
        assert tiny.connections == 1
        assert len(tiny.requests) == 5

    run(sock, answer(OK), test)


def test_connection_close_answer_is_not_reused(sock: Path) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"

    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(closing)
        await writer.drain()
        writer.close()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        for _ in range(3):
            assert (await client.request("GET", "/api/v1/providers", {}, None)).body == b"{}"
        assert tiny.connections == 3

    run(sock, script, test)


def test_connection_idle_too_long_is_not_reused(sock: Path) -> None:
    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        await client.request("GET", "/api/v1/providers", {}, None)
        await asyncio.sleep(0.15)
        await client.request("GET", "/api/v1/providers", {}, None)
        assert tiny.connections == 2

    run(sock, answer(OK), test, idle_seconds=0.1)


def test_kept_alive_connection_closed_by_the_broker_while_idle_is_replaced(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(OK)
        await writer.drain()
        writer.close()  # as Node does at its keep-alive timeout, without "Connection: close"

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        await client.request("GET", "/api/v1/providers", {}, None)
        await asyncio.sleep(0.05)  # the close arrives while the connection is idle
        assert (await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")).status == 200
        assert tiny.connections == 2
        assert len(tiny.requests) == 2  # each request reached the broker once

    run(sock, script, test)


def test_reused_connection_closed_before_any_answer_byte_is_retried_once_on_a_fresh_one(sock: Path) -> None:
    """The race of a keep-alive timeout: the broker closes the connection as the next request is written."""

    async def script(tiny: TinyServer, request: Request, writer: asyncio.StreamWriter) -> None:
        if request.connection == 1 and len(tiny.requests) == 2:
            writer.close()  # the second request on the first connection: closed without answering
            return
        writer.write(OK)
        await writer.drain()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        response = await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        assert response.status == 200
        assert tiny.connections == 2
        assert [r.connection for r in tiny.requests] == [1, 1, 2]

    run(sock, script, test)


def test_fresh_connection_closed_before_the_answer_is_not_retried(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable, match="closed before the answer"):
            await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        assert len(tiny.requests) == 1

    run(sock, script, test)


def test_answer_cut_off_after_its_first_byte_is_not_retried(sock: Path) -> None:
    async def script(tiny: TinyServer, request: Request, writer: asyncio.StreamWriter) -> None:
        if len(tiny.requests) == 1:
            writer.write(OK)
        else:
            writer.write(OK[:20])  # a reused connection, but part of the answer came: the request was processed
            await writer.drain()
            writer.close()
            return
        await writer.drain()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        with pytest.raises(BrokerUnavailable, match="middle of the answer"):
            await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        assert len(tiny.requests) == 2

    run(sock, script, test)


def test_answer_larger_than_the_cap_is_refused(sock: Path) -> None:
    big = b"x" * 2000
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + big

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable, match="too large"):
            await client.request("GET", "/api/v1/providers", {}, None)
        # The connection is not reused: the next request gets a fresh one (and the same refusal).
        with pytest.raises(BrokerUnavailable, match="too large"):
            await client.request("GET", "/api/v1/providers", {}, None)
        assert tiny.connections == 2

    run(sock, answer(data), test, max_response_bytes=1000)


def test_close_delimited_answer_larger_than_the_cap_is_refused(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        for _ in range(20):
            writer.write(b"y" * 100)
            await writer.drain()
        writer.close()

    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable, match="too large"):
            await client.request("GET", "/api/v1/providers", {}, None)

    run(sock, script, test, max_response_bytes=1000)


def test_close_delimited_answer_within_the_cap_is_read_to_the_end(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbad")
        await writer.drain()
        writer.close()

    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        response = await client.request("GET", "/api/v1/providers", {}, None)
        assert (response.status, response.reason, response.body) == (400, "Bad Request", b"bad")

    run(sock, script, test)


def test_endless_header_block_is_refused(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            writer.write(b"X-Filler: " + b"z" * 1000 + b"\r\n")
            await writer.drain()

    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable, match="header too large"):
            await client.request("GET", "/api/v1/providers", {}, None)

    run(sock, script, test)


def test_more_bytes_than_content_length_are_refused(sock: Path) -> None:
    smuggled = OK + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable, match="more bytes than Content-Length"):
            await client.request("GET", "/api/v1/providers", {}, None)

    run(sock, answer(smuggled), test)


def test_no_content_answers_have_no_body(sock: Path) -> None:
    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        response = await client.request("DELETE", "/api/v1/providers/demo/grant", {}, None)
        assert (response.status, response.body) == (204, b"")
        await client.request("DELETE", "/api/v1/providers/demo/grant", {}, None)
        assert tiny.connections == 1

    run(sock, answer(b"HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n\r\n"), test)


def test_slow_broker_runs_into_the_deadline(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="deadline"):
            await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        assert time.monotonic() - started < 1.5
        assert not client._idle  # the connection in an unknown state is closed, not pooled

    run(sock, script, test, deadline=0.3)


def test_concurrent_requests_each_get_a_connection_and_few_stay_idle(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        writer.write(OK)
        await writer.drain()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        responses = await asyncio.gather(*(client.request("GET", "/api/v1/providers", {}, None) for _ in range(10)))
        assert [r.status for r in responses] == [200] * 10
        assert tiny.connections == 10
        assert len(client._idle) == 2

    run(sock, script, test, max_idle=2)


def test_missing_socket_and_refusing_socket_are_unavailable(tmp_path: Path) -> None:
    import socket  # noqa: PLC0415

    async def main() -> None:
        client = BrokerClient(str(tmp_path / "absent.sock"))
        with pytest.raises(BrokerUnavailable, match="FileNotFoundError"):
            await client.request("GET", "/api/v1/providers", {}, None)
        stale = tmp_path / "stale.sock"
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(stale))
        listener.close()  # the file stays, nobody listens: a broker that died
        client = BrokerClient(str(stale))
        with pytest.raises(BrokerUnavailable, match="ConnectionRefusedError"):
            await client.request("GET", "/api/v1/providers", {}, None)

    asyncio.run(main())


def test_closed_client_refuses_requests(sock: Path) -> None:
    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        await client.request("GET", "/api/v1/providers", {}, None)
        await client.close()
        with pytest.raises(BrokerUnavailable, match="closed"):
            await client.request("GET", "/api/v1/providers", {}, None)

    run(sock, answer(OK), test)


# --- the wire format on its own ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/api/v1/x HTTP/1.1\r\nX-Evil: 1", {}),
        ("GET", "/api/v1/x\nX-Evil: 1", {}),
        ("GET", "/api/v1/ x", {}),
        ("GET", "api/v1/x", {}),
        ("GET", "/api/v1/\u00e9", {}),
        ("GET /x HTTP/1.1\r\n", "/api/v1/x", {}),
        ("GET", "/api/v1/x", {"Accept": "a\r\nX-Broker-Key: forged"}),
        ("GET", "/api/v1/x", {"Accept": "a\nb"}),
        ("GET", "/api/v1/x", {"Accept": "a\rb"}),
        ("GET", "/api/v1/x", {"Accept": "a\0b"}),
        ("GET", "/api/v1/x", {"X-Broker-Key\r\nX": "v"}),
        ("GET", "/api/v1/x", {"Bad Name": "v"}),
        ("GET", "/api/v1/x", {"Accept": "\u2603"}),
        ("GET", "/api/v1/x", {"Content-Length": "0"}),
        ("GET", "/api/v1/x", {"Host": "elsewhere"}),
        ("GET", "/api/v1/x", {"Transfer-Encoding": "chunked"}),
    ],
)
def test_request_that_could_be_split_or_reframed_is_refused(method: str, target: str, headers: dict) -> None:
    with pytest.raises(ValueError, match="invalid"):
        encode_request(method, target, headers, None)


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"HTTP/1.1 200 OK\r\nX-A: 1\nX-Injected: 2", "header field"),  # bare LF
        (b"HTTP/1.1 200 OK\r\nX-A: 1\rX-Injected: 2", "header field"),  # bare CR
        (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded", "header field"),
        (b"HTTP/1.1 200 OK\r\nX-A : 1", "header field"),
        (b"HTTP/1.1 200 OK\r\n: 1", "header field"),
        (b"HTTP/1.1 200 OK\r\nX-A: a\0b", "header field"),
        (b"HTTP/1.1 200 OK\r\nNo colon", "header field"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", "Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0x10", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999", "Content-Length"),
        (b"HTTP/2 200 OK", "status line"),
        (b"HTTP/1.1 20 OK", "status line"),
        (b"HTTP/1.1 200 OK\nX-A: 1", "status line"),
        (b"HTTP/1.1 100 Continue", "interim"),
    ],
)
def test_malformed_answer_head_is_refused(head: bytes, reason: str) -> None:
    with pytest.raises(BrokerUnavailable, match=reason):
        parse_response_head(head)


def test_answer_head_fields() -> None:
    head = parse_response_head(
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After:  2 \r\nvary: a\r\nVary: b\r\nContent-Length: 0"
    )
    assert (head.status, head.reason, head.content_length, head.keep_alive) == (503, "Service Unavailable", 0, True)
    assert head.headers["retry-after"] == "2"
    assert head.headers["Vary"] == "a, b"
    assert not parse_response_head(b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0").keep_alive
    assert not parse_response_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0").keep_alive
    assert parse_response_head(b"HTTP/1.1 200 \r\nContent-Length: 0").reason == ""
