"""Notebook code calls an API as the signed-in user through the broker's egress, and the token never enters the
kernel (issue 13).

A real demo IdP, the real demo API (which verifies the IdP's JWTs), a recording upstream that keeps every bearer
token it was sent, a real Jupyter server running the extension and the broker, and a real kernel running the
notebook code. The provider has ``egress`` prefixes for both APIs and ``expose_token: false``: the kernel cannot
get a token at all, yet ``broker_session("demo")`` works; the tokens the upstream saw appear nowhere the kernel
can see (its output, the answers' headers and bodies, the errors), and the audit trail shows egress calls by the
kernel and no token handed to it.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from test_short_lived_tokens import start_api

from browser_session import browser_login
from demo_idp import DemoIdp, sign_in, start_idp
from jupyter_process import JupyterServer, free_ports, start_server
from kernel_session import run_in_kernel

BIG = 8 * 1024 * 1024
"""Bytes of the download and the upload that stream through the egress (in 64 KiB chunks)."""


class RecordingApi:
    """An upstream that accepts only the demo IdP's JWTs as bearer and records every bearer it was sent."""

    def __init__(self, issuer: str, host: str = "127.0.0.1") -> None:
        self.bearers: list[str] = []
        self.uploaded: list[int] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Set-Cookie", "upstream-session=1; Path=/")
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self) -> bool:
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                api.bearers.append(bearer)
                if _issuer_of(bearer) != issuer:
                    self._json(401, {"error": "invalid_token"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                if self.path.startswith("/data/big"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(BIG))
                    self.end_headers()
                    chunk = b"x" * 65536
                    for _ in range(BIG // len(chunk)):
                        self.wfile.write(chunk)
                    return
                self._json(200, {"items": ["m31", "m33"], "path": self.path})

            def do_POST(self) -> None:
                if not self._authorized():
                    return
                received = 0
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        received += len(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                else:
                    remaining = int(self.headers.get("Content-Length") or 0)
                    while remaining:
                        got = len(self.rfile.read(min(remaining, 65536)))
                        received += got
                        remaining -= got
                api.uploaded.append(received)
                self._json(200, {"received": received})

        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self.httpd = server_class((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _issuer_of(jwt: str) -> str | None:
    """The ``iss`` of a JWT, unverified (the upstream only needs to tell the IdP's tokens from anything else)."""
    try:
        payload = jwt.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("iss")
    except (IndexError, ValueError, AttributeError):
        return None


@dataclass
class Stack:
    idp: DemoIdp
    api_url: str
    upstream: RecordingApi
    upstream_v6: RecordingApi
    server: JupyterServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    idp_port, api_port, jupyter_port = free_ports(3)
    idp = start_idp(idp_port, [jupyter_port], api_port=api_port)
    api = start_api(api_port, idp.issuer, jupyter_port)
    upstream = RecordingApi(idp.issuer)
    upstream_v6 = RecordingApi(idp.issuer, "::1")
    providers = [
        {
            "id": "demo",
            "title": "Demo IdP",
            "kind": "oidc",
            "issuer": idp.issuer,
            "client_id": "jupyter-demo",
            "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
            "egress": [
                f"http://127.0.0.1:{api_port}/",
                f"http://127.0.0.1:{upstream.port}/data/",
                f"http://[::1]:{upstream_v6.port}/data/",
            ],
            "expose_token": False,
        }
    ]
    server = None
    try:
        server = start_server(tmp_path_factory.mktemp("egress"), jupyter_port, providers)
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        yield Stack(
            idp=idp,
            api_url=f"http://127.0.0.1:{api_port}",
            upstream=upstream,
            upstream_v6=upstream_v6,
            server=server,
        )
    finally:
        if server is not None:
            server.stop()
        upstream.close()
        upstream_v6.close()
        api.terminate()
        api.wait(10)
        idp.stop()


def audit_events(server: JupyterServer) -> list[dict[str, Any]]:
    with server.token_client() as client:
        answer = client.get(server.api("events"), params={"limit": 1000, "provider": "demo"})
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def test_notebook_code_calls_apis_through_the_egress_and_never_holds_the_token(stack: Stack) -> None:
    data = f"http://127.0.0.1:{stack.upstream.port}/data"
    code = f"""
import httpx
from jupyter_token_broker import BrokerTransport, TokenBrokerError, broker_session, get_token

s = broker_session("demo")
print("WHOAMI", s.get("{stack.api_url}/whoami").json())
r = s.get("{data}/items?q=m31")
print("DATA", r.status_code, r.url, r.json())
print("HEADERS", dict(r.headers), dict(s.cookies))
with httpx.Client(transport=BrokerTransport("demo")) as client:
    print("HTTPX", client.get("{data}/items").json()["items"])
for attempt in (lambda: get_token("demo"), lambda: s.get("http://127.0.0.1:{stack.upstream.port}/other")):
    try:
        attempt()
    except TokenBrokerError as err:
        print("REFUSED", err.code, err.status, err)
"""
    output = run_in_kernel(stack.server, code)
    assert "WHOAMI {" in output, output
    assert "'preferred_username': 'alice'" in output, output
    assert f"DATA 200 {data}/items?q=m31 {{'items': ['m31', 'm33'], 'path': '/data/items?q=m31'}}" in output, output
    assert "HTTPX ['m31', 'm33']" in output, output
    assert "REFUSED token_not_exposed 403" in output, output
    assert "REFUSED egress_not_allowed 403" in output, output
    # The broker's answer drops the upstream's Set-Cookie: no cookie lands in the session.
    assert "upstream-session" not in output, output

    # The upstream got the IdP's token with each call; the kernel saw none of them, nor did the server's log.
    bearers = set(stack.upstream.bearers)
    assert bearers, "the upstream saw no call"
    assert all(_issuer_of(bearer) == stack.idp.issuer for bearer in bearers)
    log = stack.server.log_text()
    for bearer in bearers:
        assert bearer not in output
        assert bearer not in log

    # The audit trail: egress calls in the kernel's name, and no token handed to the kernel.
    events = audit_events(stack.server)
    egress = [e for e in events if e["type"] == "egress" and e["client"] == "kernel"]
    assert len(egress) >= 4, events
    assert not [e for e in events if e["type"] == "issue" and e["client"] == "kernel" and e["outcome"] == "ok"]


def test_ipv6_hosts_and_encoded_paths_and_queries_arrive_as_written(stack: Stack) -> None:
    # requests (urllib3) sends the IPv6 brackets of the route's authority segment percent-encoded (%5B %5D),
    # httpx and browsers send them as they are: the route takes both.
    v6 = f"http://[::1]:{stack.upstream_v6.port}/data"
    code = f"""
import httpx
from jupyter_token_broker import BrokerTransport, TokenBrokerError, broker_session

params = {{"q": "m 31 & more"}}
with httpx.Client(transport=BrokerTransport("demo")) as client:
    print("HTTPX", client.get("{v6}/a%20b/c", params=params).json()["path"])
try:
    print("REQUESTS", broker_session("demo").get("{v6}/a%20b/c", params=params).json()["path"])
except TokenBrokerError as err:
    print("REQUESTS", repr(err))
"""
    output = run_in_kernel(stack.server, code)
    assert "HTTPX /data/a%20b/c?q=m+31+%26+more" in output, output
    assert "REQUESTS /data/a%20b/c?q=m+31+%26+more" in output, output
    assert stack.upstream_v6.bearers
    assert all(_issuer_of(bearer) == stack.idp.issuer for bearer in stack.upstream_v6.bearers)


def test_a_large_download_and_upload_stream_through_the_egress(stack: Stack) -> None:
    data = f"http://127.0.0.1:{stack.upstream.port}/data"
    code = f"""
from jupyter_token_broker import broker_session

s = broker_session("demo")
with s.get("{data}/big", stream=True) as answer:
    print("DOWNLOADED", answer.status_code, sum(len(chunk) for chunk in answer.iter_content(1 << 16)))

def body():
    for _ in range({BIG} // 65536):
        yield b"y" * 65536

print("UPLOADED", s.post("{data}/upload", data=body()).json())
"""
    output = run_in_kernel(stack.server, code, timeout=120)
    assert f"DOWNLOADED 200 {BIG}" in output, output
    assert f"UPLOADED {{'received': {BIG}}}" in output, output
    assert stack.upstream.uploaded[-1] == BIG
