"""The kernel's egress helpers (``broker_session``, ``BrokerTransport``, ``AsyncBrokerTransport``) against a
stand-in Jupyter server.

The stand-in answers the egress route as the server extension and broker would, at the HTTP level only: it
checks the Jupyter credential, records what arrived (path, headers, body chunks as they came) and answers by the
target path. What these tests prove is the kernel side: where a request goes, what it carries, that nothing is
buffered whole in either direction, and which answers raise. The real route, broker and upstream are in
``test_egress_kernel.py``.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests

from jupyter_token_broker import (
    AsyncBrokerTransport,
    BrokerTransport,
    LoginRequired,
    TokenBrokerError,
    broker_session,
    egress_session,
)
from jupyter_token_broker.discovery import ServerInfo
from jupyter_token_broker.egress_session import egress_url

JUPYTER_TOKEN = "jupyter-server-token-0123"
ROUTE = "/user/alice/token-broker/api/v1/egress/"
UPSTREAM = "https://archive.example.org"
WAIT = 5.0


class StandIn:
    """A Jupyter-like server whose egress route answers by the target's path (``/archive/https/{host}/…``)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.client_got_first = threading.Event()
        self.server_got_first = threading.Event()
        self.waited_for_client: bool | None = None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                self._answer(
                    status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
                )

            def _read_body(self) -> list[bytes]:
                chunks: list[bytes] = []
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return chunks
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                        stand_in.server_got_first.set()
                length = int(self.headers.get("Content-Length") or 0)
                return [self.rfile.read(length)] if length else []

            def _handle(self) -> None:
                chunks = self._read_body()
                seen = {"method": self.command, "path": self.path, "headers": dict(self.headers), "chunks": chunks}
                stand_in.seen.append(seen)
                if self.headers.get("Authorization") != f"token {JUPYTER_TOKEN}" and not (
                    self.headers.get("X-XSRFToken")
                    and f"_xsrf={self.headers['X-XSRFToken']}" in self.headers.get("Cookie", "")
                ):
                    self._json(403, {"message": "Forbidden", "reason": None})  # Jupyter's own refusal
                    return
                if not self.path.startswith(ROUTE):
                    self._json(404, {"message": "Not Found"})
                    return
                provider, scheme, rest = self.path[len(ROUTE) :].split("/", 2)
                authority, _, target = rest.partition("/")
                path = "/" + target.split("?", 1)[0]
                if authority not in ("archive.example.org", "[::1]:8443"):
                    self._json(
                        403,
                        {
                            "error": "egress_not_allowed",
                            "error_description": f"{provider} may not call {scheme}://{authority}",
                        },
                        {"X-Token-Broker-Error": "egress_not_allowed"},
                    )
                elif path == "/refuse-login":
                    self._json(
                        401,
                        {"error": "login_required", "error_description": "sign in"},
                        {"X-Token-Broker-Error": "login_required"},
                    )
                elif path == "/gateway":
                    self._answer(502, b"", {"X-Token-Broker-Error": "upstream_unavailable"})
                elif path == "/api-forbidden":
                    self._json(403, {"error": "forbidden", "detail": "the API says no"})
                elif path == "/moved":
                    self._answer(302, b"", {"Location": "/json?from=moved"})
                elif path == "/moved-away":
                    self._answer(302, b"", {"Location": "https://elsewhere.example.net/x"})
                elif path == "/stream":
                    self._stream()
                else:
                    self._json(200, {"path": path, "bytes": sum(len(c) for c in chunks)})

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in (b"first-chunk", b"second-chunk"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                    if part == b"first-chunk":
                        # The second chunk only once the client has the first: a client that buffers the whole
                        # answer would wait here until WAIT runs out.
                        stand_in.waited_for_client = stand_in.client_got_first.wait(WAIT)
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/user/alice/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def info(self, token: str = JUPYTER_TOKEN) -> ServerInfo:
        return ServerInfo(url=self.url, token=token)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


# --- the URL the egress is asked for ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "routed"),
    [
        ("https://archive.example.org/tap/sync?q=1", "archive/https/archive.example.org/tap/sync?q=1"),
        ("HTTPS://Archive.Example.ORG/Tap/", "archive/https/archive.example.org/Tap/"),
        ("https://archive.example.org", "archive/https/archive.example.org/"),
        ("https://archive.example.org:443/a", "archive/https/archive.example.org:443/a"),
        ("http://127.0.0.1:9401/whoami", "archive/http/127.0.0.1:9401/whoami"),
        ("http://[::1]:8443/v1/", "archive/http/[::1]:8443/v1/"),
        ("http://[2001:DB8::1]/x", "archive/http/[2001:db8::1]/x"),
        (
            "https://archive.example.org/a%20b/c%2Fd?x=%26&y=a+b",
            "archive/https/archive.example.org/a%20b/c%2Fd?x=%26&y=a+b",
        ),
        ("https://archive.example.org/page#section", "archive/https/archive.example.org/page"),
        ("https://archive.example.org/?", "archive/https/archive.example.org/"),
    ],
)
def test_the_egress_url_keeps_scheme_authority_path_and_query(url: str, routed: str) -> None:
    assert egress_url("http://127.0.0.1:8888/user/alice/", "archive", url) == (
        f"http://127.0.0.1:8888/user/alice/token-broker/api/v1/egress/{routed}"
    )


@pytest.mark.parametrize(
    "url",
    ["ftp://archive.example.org/x", "/relative/path", "archive.example.org/x", "https:///nohost", "https://h:99999/"],
)
def test_urls_the_egress_cannot_forward_are_refused_in_the_kernel(url: str) -> None:
    with pytest.raises(TokenBrokerError) as raised:
        egress_url("http://127.0.0.1:8888/", "archive", url)
    assert raised.value.code == "invalid_request"


def test_a_url_with_credentials_is_refused_without_showing_them() -> None:
    with pytest.raises(TokenBrokerError) as raised:
        egress_url("http://127.0.0.1:8888/", "archive", "https://me:s3cret@archive.example.org/x")
    assert raised.value.code == "invalid_request"
    assert "s3cret" not in str(raised.value)


def test_not_a_provider_id_is_refused_when_the_session_is_made() -> None:
    for make in (broker_session, BrokerTransport, AsyncBrokerTransport):
        with pytest.raises(TokenBrokerError) as raised:
            make("../providers/demo/token", server=ServerInfo("http://127.0.0.1:1/", "t"))
        assert raised.value.code == "invalid_request"


# --- requests ----------------------------------------------------------------------------------------------


def test_requests_go_to_the_egress_route_with_the_jupyter_credential_only(stand_in: StandIn) -> None:
    session = broker_session("archive", server=stand_in.info())
    session.headers["Authorization"] = "Bearer the-callers-own"
    session.cookies.set("sid", "upstream-cookie", domain="archive.example.org")
    answer = session.get(
        f"{UPSTREAM}/tap/a%20b", params={"q": "m 31"}, headers={"Accept": "application/json", "Range": "bytes=0-9"}
    )

    assert answer.status_code == 200
    assert answer.json() == {"path": "/tap/a%20b", "bytes": 0}
    assert answer.url == f"{UPSTREAM}/tap/a%20b?q=m+31"
    [seen] = stand_in.seen
    assert seen["path"] == f"{ROUTE}archive/https/archive.example.org/tap/a%20b?q=m+31"
    headers = seen["headers"]
    assert headers["Authorization"] == f"token {JUPYTER_TOKEN}"
    assert headers["X-Token-Broker-Client"] == "kernel"
    assert headers["Accept"] == "application/json"
    assert headers["Range"] == "bytes=0-9"
    assert "Cookie" not in headers
    assert headers["Host"] == stand_in.url.split("/")[2]
    # The response shows the caller's own request, not the Jupyter server's credential.
    assert JUPYTER_TOKEN not in json.dumps(dict(answer.request.headers))
    assert answer.request.url == answer.url


def test_a_server_without_token_gets_the_xsrf_pair(stand_in: StandIn) -> None:
    answer = broker_session("archive", server=stand_in.info(token="")).post(f"{UPSTREAM}/items", json={"a": 1})
    assert answer.status_code == 200
    headers = stand_in.seen[0]["headers"]
    assert "Authorization" not in headers
    assert headers["Cookie"] == f"_xsrf={headers['X-XSRFToken']}"


def test_an_answer_made_by_the_broker_raises_with_its_code(stand_in: StandIn) -> None:
    session = broker_session("archive", server=stand_in.info())
    with pytest.raises(TokenBrokerError) as raised:
        session.get("https://elsewhere.example.net/x?secret=1")
    assert (raised.value.code, raised.value.status) == ("egress_not_allowed", 403)
    assert "elsewhere.example.net" in raised.value.description

    with pytest.raises(LoginRequired):
        session.get(f"{UPSTREAM}/refuse-login")

    with pytest.raises(TokenBrokerError) as raised:
        session.get(f"{UPSTREAM}/gateway", stream=True)
    assert (raised.value.code, raised.value.status) == ("upstream_unavailable", 502)


def test_the_apis_own_error_answer_comes_back_as_it_is(stand_in: StandIn) -> None:
    answer = broker_session("archive", server=stand_in.info()).get(f"{UPSTREAM}/api-forbidden")
    assert answer.status_code == 403
    assert answer.json() == {"error": "forbidden", "detail": "the API says no"}


def test_jupyters_own_refusal_is_not_mistaken_for_the_broker(stand_in: StandIn) -> None:
    # A wrong Jupyter credential: Jupyter's 403 has no X-Token-Broker-Error, so it is the caller's answer.
    answer = broker_session("archive", server=stand_in.info(token="wrong")).get(f"{UPSTREAM}/x")
    assert answer.status_code == 403


def test_an_unreachable_jupyter_server_raises_server_unreachable() -> None:
    with pytest.raises(TokenBrokerError) as raised:
        broker_session("archive", server=ServerInfo("http://127.0.0.1:9/", "t")).get(f"{UPSTREAM}/x", timeout=5)
    assert (raised.value.code, raised.value.status) == ("server_unreachable", 0)


def test_a_relative_redirect_is_followed_through_the_egress_on_the_apis_origin(stand_in: StandIn) -> None:
    answer = broker_session("archive", server=stand_in.info()).get(f"{UPSTREAM}/moved")
    assert answer.json()["path"] == "/json"
    assert [r.status_code for r in answer.history] == [302]
    assert answer.url == f"{UPSTREAM}/json?from=moved"
    assert [s["path"] for s in stand_in.seen] == [
        f"{ROUTE}archive/https/archive.example.org/moved",
        f"{ROUTE}archive/https/archive.example.org/json?from=moved",
    ]


def test_a_redirect_off_the_allowlist_is_refused_by_the_broker(stand_in: StandIn) -> None:
    session = broker_session("archive", server=stand_in.info())
    with pytest.raises(TokenBrokerError) as raised:
        session.get(f"{UPSTREAM}/moved-away")
    assert raised.value.code == "egress_not_allowed"
    unfollowed = session.get(f"{UPSTREAM}/moved-away", allow_redirects=False)
    assert unfollowed.status_code == 302
    assert unfollowed.next is not None
    assert unfollowed.next.url == "https://elsewhere.example.net/x"


def test_a_download_streams_without_being_buffered(stand_in: StandIn) -> None:
    with broker_session("archive", server=stand_in.info()).get(f"{UPSTREAM}/stream", stream=True) as answer:
        chunks = answer.iter_content(chunk_size=None)
        assert next(chunks) == b"first-chunk"
        stand_in.client_got_first.set()
        assert b"".join(chunks) == b"second-chunk"
    assert stand_in.waited_for_client is True


def test_a_generator_upload_streams_without_being_buffered(stand_in: StandIn) -> None:
    waited: list[bool] = []

    def body() -> Iterator[bytes]:
        yield b"a" * 1000
        # The stand-in has the first chunk before the second is made: nothing collects the body first.
        waited.append(stand_in.server_got_first.wait(WAIT))
        yield b"b" * 1000

    answer = broker_session("archive", server=stand_in.info()).put(f"{UPSTREAM}/upload", data=body())
    assert answer.json()["bytes"] == 2000
    assert waited == [True]
    assert stand_in.seen[0]["chunks"] == [b"a" * 1000, b"b" * 1000]


def test_a_file_upload_passes_with_its_length(stand_in: StandIn) -> None:
    answer = broker_session("archive", server=stand_in.info()).post(
        f"{UPSTREAM}/upload", data=io.BytesIO(b"x" * 70000), headers={"Content-Type": "application/fits"}
    )
    assert answer.json()["bytes"] == 70000
    headers = stand_in.seen[0]["headers"]
    assert (headers["Content-Length"], headers["Content-Type"]) == ("70000", "application/fits")


def test_broker_session_says_what_to_install_without_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(egress_session, "requests", None)
    with pytest.raises(ImportError, match="pip install requests"):
        broker_session("archive")


def test_the_session_never_asks_for_a_token(stand_in: StandIn) -> None:
    session = broker_session("archive", server=stand_in.info())
    session.get(f"{UPSTREAM}/a")
    session.post(f"{UPSTREAM}/b", data=b"x")
    assert all(s["path"].startswith(ROUTE) for s in stand_in.seen)
    assert isinstance(session, requests.Session)
    assert "archive" in repr(session)


# --- httpx -------------------------------------------------------------------------------------------------


def test_httpx_requests_go_to_the_egress_route_and_come_back_for_the_asked_url(stand_in: StandIn) -> None:
    with httpx.Client(transport=BrokerTransport("archive", server=stand_in.info()), cookies={"sid": "c"}) as client:
        answer = client.get(f"{UPSTREAM}/tap/x", params={"q": "1"}, headers={"Authorization": "Bearer own"})
    assert answer.json() == {"path": "/tap/x", "bytes": 0}
    assert str(answer.request.url) == f"{UPSTREAM}/tap/x?q=1"
    [seen] = stand_in.seen
    assert seen["path"] == f"{ROUTE}archive/https/archive.example.org/tap/x?q=1"
    assert seen["headers"]["Authorization"] == f"token {JUPYTER_TOKEN}"
    assert seen["headers"]["Host"] == stand_in.url.split("/")[2]
    assert "Cookie" not in seen["headers"]


def test_httpx_broker_answers_raise_and_api_answers_return(stand_in: StandIn) -> None:
    with httpx.Client(transport=BrokerTransport("archive", server=stand_in.info())) as client:
        with pytest.raises(TokenBrokerError) as raised:
            client.get("https://elsewhere.example.net/")
        assert raised.value.code == "egress_not_allowed"
        assert client.get(f"{UPSTREAM}/api-forbidden").status_code == 403
        assert client.get(f"{UPSTREAM}/moved").status_code == 302  # httpx follows nothing unless asked


def test_httpx_streams_both_ways(stand_in: StandIn) -> None:
    waited: list[bool] = []

    def body() -> Iterator[bytes]:
        yield b"a" * 10
        waited.append(stand_in.server_got_first.wait(WAIT))
        yield b"b" * 10

    with httpx.Client(transport=BrokerTransport("archive", server=stand_in.info())) as client:
        assert client.post(f"{UPSTREAM}/upload", content=body()).json()["bytes"] == 20
        with client.stream("GET", f"{UPSTREAM}/stream") as answer:
            chunks = answer.iter_raw()
            assert next(chunks) == b"first-chunk"
            stand_in.client_got_first.set()
            assert b"".join(chunks) == b"second-chunk"
    assert waited == [True]
    assert stand_in.waited_for_client is True


def test_async_httpx_goes_through_the_egress(stand_in: StandIn) -> None:
    async def main() -> tuple[Any, TokenBrokerError]:
        async with httpx.AsyncClient(transport=AsyncBrokerTransport("archive", server=stand_in.info())) as client:
            answer = await client.get(f"{UPSTREAM}/tap/x")
            with pytest.raises(TokenBrokerError) as raised:
                await client.get(f"{UPSTREAM}/gateway")
            return answer.json(), raised.value

    payload, error = asyncio.run(main())
    assert payload == {"path": "/tap/x", "bytes": 0}
    assert (error.code, error.status) == ("upstream_unavailable", 502)
