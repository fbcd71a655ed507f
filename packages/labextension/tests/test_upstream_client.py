"""The broker client (``upstream.py``) against a tiny real HTTP server on a unix socket that answers as scripted.

Each test scripts the bytes the "broker" sends back, so the failure modes a real broker only shows by accident
(a connection closed before the answer, an answer cut off, too large or endless) happen on purpose. No ports: the
socket lives in the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jupyter_token_broker.upstream import BrokerClient, BrokerUnavailable, check_request

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
    data = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After:  2 \r\n"
        b'Content-Length: 11\r\n\r\n{"ok":true}'
    )

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        response = await client.request(
            "POST", "/api/v1/providers/demo/token?x=1", {"Content-Type": "application/json"}, b'{"min_ttl":60}'
        )
        assert (response.status, response.reason, response.body) == (503, "Service Unavailable", b'{"ok":true}')
        assert response.headers["content-type"] == "application/json"
        assert "CONTENT-TYPE" in response.headers
        assert response.headers["Retry-After"] == "2"
        assert response.headers.get("Cache-Control") is None
        (request,) = tiny.requests
        assert request.head.startswith(b"POST /api/v1/providers/demo/token?x=1 HTTP/1.1\r\n")
        assert b"\r\nHost: token-broker\r\n" in request.head
        assert b"\r\nContent-Length: 14\r\n" in request.head
        assert request.body == b'{"min_ttl":60}'

    run(sock, answer(data), test)


def test_get_sends_no_body_and_no_content_length(sock: Path) -> None:
    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        await client.request("GET", "/api/v1/providers", {"Accept": "application/json"}, None)
        assert b"content-length" not in tiny.requests[0].head.lower()

    run(sock, answer(OK), test)


def test_every_request_gets_an_answer_on_its_own_connection(sock: Path) -> None:
    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        for _ in range(3):
            assert (await client.request("GET", "/api/v1/providers", {}, None)).body == b'{"ok":true}'
        assert (tiny.connections, len(tiny.requests)) == (3, 3)

    run(sock, answer(OK), test)


def test_connection_closed_before_the_answer_is_unavailable_and_not_retried(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable):
            await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        assert len(tiny.requests) == 1

    run(sock, script, test)


def test_answer_cut_off_after_its_first_byte_is_unavailable_and_not_retried(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(OK[:20])
        await writer.drain()
        writer.close()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable):
            await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        assert len(tiny.requests) == 1

    run(sock, script, test)


def test_answer_larger_than_the_cap_is_refused(sock: Path) -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000

    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable, match="too large"):
            await client.request("GET", "/api/v1/providers", {}, None)

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
        with pytest.raises(BrokerUnavailable):
            await client.request("GET", "/api/v1/providers", {}, None)

    run(sock, script, test)


def test_no_content_answers_have_no_body(sock: Path) -> None:
    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        response = await client.request("DELETE", "/api/v1/providers/demo/grant", {}, None)
        assert (response.status, response.body) == (204, b"")
        assert response.headers["Cache-Control"] == "no-store"

    run(sock, answer(b"HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n\r\n"), test)


def test_slow_broker_runs_into_the_deadline(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="deadline"):
            await client.request("POST", "/api/v1/providers/demo/token", {}, b"{}")
        assert time.monotonic() - started < 1.5

    run(sock, script, test, deadline=0.3)


def test_concurrent_requests_are_all_answered(sock: Path) -> None:
    async def script(_tiny: TinyServer, _request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        writer.write(OK)
        await writer.drain()

    async def test(client: BrokerClient, tiny: TinyServer) -> None:
        responses = await asyncio.gather(*(client.request("GET", "/api/v1/providers", {}, None) for _ in range(10)))
        assert [r.status for r in responses] == [200] * 10
        assert len(tiny.requests) == 10

    run(sock, script, test)


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


def test_failures_name_neither_the_query_nor_a_header(
    tmp_path: Path, sock: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A login callback's query carries the authorization code, and every request carries the broker key."""
    caplog.set_level(logging.DEBUG)
    secret_request = ("GET", "/api/v1/callback?code=c0de-s3cret&state=st4te", {"X-Broker-Key": "k3y-s3cret"}, None)

    async def absent() -> None:
        with pytest.raises(BrokerUnavailable) as raised:
            await BrokerClient(str(tmp_path / "absent.sock")).request(*secret_request)
        messages.append(str(raised.value))

    async def cut_off(client: BrokerClient, _tiny: TinyServer) -> None:
        with pytest.raises(BrokerUnavailable) as raised:
            await client.request(*secret_request)
        messages.append(str(raised.value))

    messages: list[str] = []
    asyncio.run(absent())
    run(sock, answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n"), cut_off, max_response_bytes=1000)
    assert len(messages) == 2
    for text in [*messages, caplog.text]:
        assert "s3cret" not in text
        assert "st4te" not in text


def test_closed_client_refuses_requests(sock: Path) -> None:
    async def test(client: BrokerClient, _tiny: TinyServer) -> None:
        await client.request("GET", "/api/v1/providers", {}, None)
        await client.close()
        with pytest.raises(BrokerUnavailable, match="closed"):
            await client.request("GET", "/api/v1/providers", {}, None)

    run(sock, answer(OK), test)


# --- what is never put on the wire ---------------------------------------------------------------------------------


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
        check_request(method, target, headers)

    async def main() -> None:
        # Refused before any connection: the socket does not even exist.
        with pytest.raises(ValueError, match="invalid"):
            await BrokerClient("/nonexistent/broker.sock").request(method, target, headers, None)

    asyncio.run(main())
