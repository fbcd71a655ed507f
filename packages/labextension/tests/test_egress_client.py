"""The egress client (``egress_client.py``) against a stand-in broker on a unix socket: bodies stream both ways
with backpressure, a silent broker is given up on, a cut-off answer is told from a complete one, and only the
allowlisted fields pass either way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders
from tornado.netutil import bind_unix_socket

from jupyter_token_broker.egress_client import (
    READ_CHUNK_BYTES,
    EgressClient,
    EgressFailed,
    EgressLimits,
    forwarded_request_headers,
    is_egress_path,
    relayed_response_headers,
)

MIB = 1 << 20
CHUNK = 64 * 1024


class Counts:
    """What the stand-in saw: bytes it wrote and read, and the request heads."""

    def __init__(self) -> None:
        self.written = 0
        self.read = 0
        self.heads: list[HTTPHeaders] = []


class Download(web.RequestHandler):
    """Streams ``?size`` bytes, ``?block`` bytes per flush (its writes wait for the socket)."""

    def initialize(self, counts: Counts) -> None:
        self.counts = counts

    async def get(self) -> None:
        self.counts.heads.append(self.request.headers)
        size = int(self.get_argument("size"))
        self.set_header("Content-Length", str(size))
        self.set_header("Content-Type", "application/octet-stream")
        block = int(self.get_argument("block", str(CHUNK)))
        chunk = b"x" * block
        sent = 0
        cut = bool(self.get_argument("cut", None))
        while sent < size:
            part = chunk[: min(block, size - sent)]
            self.write(part)
            await self.flush()
            sent += len(part)
            self.counts.written = sent
            if cut and sent >= size // 2:
                self.request.connection.stream.close()  # the connection ends before the promised length
                return
        self.finish()


@web.stream_request_body
class Upload(web.RequestHandler):
    """Counts a streamed body and answers the count."""

    def initialize(self, counts: Counts) -> None:
        self.counts = counts

    def data_received(self, chunk: bytes) -> None:
        self.counts.read += len(chunk)

    def put(self) -> None:
        self.counts.heads.append(self.request.headers)
        self.finish({"received": self.counts.read})


class Silent(web.RequestHandler):
    """Sends a head and a first chunk, then nothing."""

    async def get(self) -> None:
        self.write(b"first")
        await self.flush()
        await asyncio.sleep(30)


def run(tmp_path: Path, test: Callable[[EgressClient, Counts], Awaitable[None]], *, idle_seconds: float = 10) -> None:
    async def main() -> None:
        counts = Counts()
        app = web.Application(
            [
                (r"/api/v1/egress/download", Download, {"counts": counts}),
                (r"/api/v1/egress/upload", Upload, {"counts": counts}),
                (r"/api/v1/egress/silent", Silent),
            ]
        )
        server = HTTPServer(app, max_body_size=1 << 40)
        path = str(tmp_path / "broker.sock")
        server.add_socket(bind_unix_socket(path))
        client = EgressClient(path, EgressLimits(idle_seconds, 1 << 40, 1 << 40))
        try:
            await test(client, counts)
        finally:
            server.stop()

    asyncio.run(main())


def test_download_streams_at_the_pace_of_the_reader(tmp_path: Path) -> None:
    size = 64 * MIB
    ahead: list[int] = []

    async def test(client: EgressClient, counts: Counts) -> None:
        got = {"bytes": 0, "status": 0}

        def head(status: int, _reason: str | None, headers: HTTPHeaders) -> None:
            got["status"] = status
            assert headers["Content-Length"] == str(size)

        async def slow_reader(chunk: bytes) -> None:
            got["bytes"] += len(chunk)
            ahead.append(counts.written - got["bytes"])
            await asyncio.sleep(0.0005)

        transfer = client.transfer("GET", f"/api/v1/egress/download?size={size}", {}, content_length=None, body=False)
        await transfer.run(head, slow_reader)
        assert (got["status"], got["bytes"], transfer.bytes_received) == (200, size, size)

    run(tmp_path, test)
    # The stand-in can only be ahead of the reader by what the sockets and tornado's buffers hold.
    assert max(ahead) < 8 * MIB, max(ahead)


def test_an_answer_the_broker_sends_faster_than_it_is_relayed_is_read_more_than_64_kib_at_a_time(
    tmp_path: Path,
) -> None:
    # tornado's default (64 KiB per read and per chunk) made the server spend more time per byte on its event loop
    # and on writes to the caller: the egress moved half of what a bare tornado proxy does.
    sizes: list[int] = []

    async def test(client: EgressClient, _counts: Counts) -> None:
        async def reader(chunk: bytes) -> None:
            sizes.append(len(chunk))
            await asyncio.sleep(0.002)  # the broker's socket fills meanwhile

        transfer = client.transfer(
            "GET", f"/api/v1/egress/download?size={16 * MIB}&block={MIB}", {}, content_length=None, body=False
        )
        await transfer.run(lambda *_: None, reader)
        assert sum(sizes) == 16 * MIB

    run(tmp_path, test)
    assert max(sizes) > CHUNK, max(sizes)
    assert max(sizes) <= READ_CHUNK_BYTES, max(sizes)


def test_upload_is_fed_chunk_by_chunk_and_waits_for_room(tmp_path: Path) -> None:
    size = 64 * MIB

    async def test(client: EgressClient, counts: Counts) -> None:
        answer = bytearray()
        transfer = client.transfer(
            "PUT", "/api/v1/egress/upload", {"Content-Type": "text/plain"}, content_length=size, body=True
        )
        run_task = asyncio.ensure_future(transfer.run(lambda *_: None, answer.extend))
        fed = 0
        held_back = 0
        chunk = b"y" * CHUNK
        while fed < size:
            waiting = transfer.feed(chunk)
            fed += len(chunk)
            if waiting is not None:
                await waiting
            # What was fed but not yet read by the stand-in stays bounded (the queue, the socket buffers).
            held_back = max(held_back, fed - counts.read)
        transfer.end_body()
        await run_task
        assert answer == f'{{"received": {size}}}'.encode()
        assert counts.heads[0]["Content-Length"] == str(size)
        assert transfer.bytes_sent == size
        assert held_back < 8 * MIB, held_back

    run(tmp_path, test)


def test_a_silent_broker_is_given_up_after_the_idle_deadline(tmp_path: Path) -> None:
    async def test(client: EgressClient, _counts: Counts) -> None:
        transfer = client.transfer("GET", "/api/v1/egress/silent", {}, content_length=None, body=False)
        started = asyncio.get_running_loop().time()
        with pytest.raises(EgressFailed) as failed:
            await transfer.run(lambda *_: None, lambda _chunk: None)
        assert failed.value.phase == "silent"
        assert transfer.head_received
        assert 0.4 < asyncio.get_running_loop().time() - started < 5

    run(tmp_path, test, idle_seconds=0.5)


def test_an_answer_cut_off_by_the_broker_is_a_failure_not_a_short_success(tmp_path: Path) -> None:
    async def test(client: EgressClient, _counts: Counts) -> None:
        transfer = client.transfer(
            "GET", f"/api/v1/egress/download?size={4 * MIB}&cut=1", {}, content_length=None, body=False
        )
        with pytest.raises(EgressFailed) as failed:
            await transfer.run(lambda *_: None, lambda _chunk: None)
        assert failed.value.phase == "closed"

    run(tmp_path, test)


def test_no_broker_socket_is_a_connect_failure(tmp_path: Path) -> None:
    async def main() -> None:
        client = EgressClient(str(tmp_path / "missing.sock"), EgressLimits(5, 1, 1))
        transfer = client.transfer("GET", "/api/v1/egress/x", {}, content_length=None, body=False)
        with pytest.raises(EgressFailed) as failed:
            await transfer.run(lambda *_: None, lambda _chunk: None)
        assert failed.value.phase == "connect"

    asyncio.run(main())


def test_only_allowlisted_request_fields_are_forwarded() -> None:
    incoming = HTTPHeaders(
        {
            "Authorization": "token jupyter-secret",
            "Cookie": "jupyter-session=1",
            "X-Broker-Key": "guess",
            "X-Token-Broker-Client": "kernel",
            "X-XSRFToken": "x",
            "Origin": "http://evil.example",
            "Referer": "http://evil.example/",
            "Proxy-Authorization": "Basic x",
            "Accept": "application/json",
            "Range": "bytes=0-9",
            "Content-Type": "text/csv",
            "Content-Length": "10",
        }
    )
    assert forwarded_request_headers(incoming) == {
        "Accept": "application/json",
        "Range": "bytes=0-9",
        "Content-Type": "text/csv",
    }


def test_hop_by_hop_and_origin_bound_answer_fields_are_dropped() -> None:
    answer = HTTPHeaders()
    for name, value in [
        ("Content-Type", "text/html"),
        ("Connection", "close, X-Private"),
        ("X-Private", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Set-Cookie", "upstream=1"),
        ("Clear-Site-Data", '"*"'),
        ("Access-Control-Allow-Origin", "http://evil.example"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Strict-Transport-Security", "max-age=1"),
        ("Proxy-Authenticate", "Basic"),
        ("Content-Security-Policy", "sandbox"),
        ("X-Token-Broker-Error", "egress_not_allowed"),
        ("ETag", '"v1"'),
        ("Link", "<a>; rel=next"),
        ("Link", "<b>; rel=prev"),
    ]:
        answer.add(name, value)
    assert relayed_response_headers(answer) == [
        ("Content-Type", "text/html"),
        ("Content-Security-Policy", "sandbox"),
        ("X-Token-Broker-Error", "egress_not_allowed"),
        ("Etag", '"v1"'),
        ("Link", "<a>; rel=next"),
        ("Link", "<b>; rel=prev"),
    ]


@pytest.mark.parametrize(
    ("path", "egress"),
    [
        ("egress/demo/https/h/x", True),
        ("Egress/demo/https/h/x", True),
        ("%65gress/demo/https/h/x", True),
        ("EGRESS", True),
        ("/egress/demo", True),
        ("providers", False),
        ("egressive", False),
        ("providers/egress/token", False),
    ],
)
def test_every_spelling_of_the_egress_route_is_recognised(path: str, egress: bool) -> None:
    assert is_egress_path(path) is egress


def test_limits_follow_the_brokers_egress_options() -> None:
    unset = EgressLimits.from_config(SimpleNamespace())
    assert unset == EgressLimits(idle_seconds=65.0, max_request_bytes=1 << 32, max_response_bytes=1 << 32)
    config = SimpleNamespace(
        egress_timeout_ms=120000,
        egress_idle_timeout_ms=1000,
        egress_max_request_bytes=10,
        egress_max_response_bytes=None,
    )
    # Silence on this side outlasts the broker's own deadlines (it answers 504 first), here its head deadline.
    assert EgressLimits.from_config(config) == EgressLimits(125.0, 10, 1 << 32)
