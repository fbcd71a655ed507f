"""Notebook code calls a protected API with ``auth=BrokerAuth("demo")`` (requests, httpx) or ``auth_header``.

Against the real demo API (``packages/demo/api.mjs``, which verifies the demo IdP's JWTs), the real broker and a
real sign-in. The one stand-in is ``RevokingApi``: a resource server that has revoked a token, answering it with
RFC 6750's 401, which the demo API cannot be made to do for a token that is still valid.

Ports: free ones from the OS; the demo API on the one the session IdP issues its tokens for (``idp.api_url``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
import requests

from jupyter_token_broker import BrokerAuth, LoginRequired, auth_header, get_token
from jupyter_token_broker.discovery import ServerInfo

from browser_session import browser_login, xsrf_headers
from demo_idp import DemoIdp, sign_in
from jupyter_process import REPO_DIR, JupyterServer, free_ports, runtime_info
from kernel_session import run_in_kernel


@pytest.fixture(scope="module")
def demo_api(idp: DemoIdp) -> Iterator[str]:
    """The demo API, on the port the demo IdP issues its access tokens for (their audience)."""
    port = urlsplit(idp.api_url).port
    process = subprocess.Popen(
        ["node", str(REPO_DIR / "packages" / "demo" / "api.mjs"), "--port", str(port), "--issuer", idp.issuer],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not json.loads(line or b"{}").get("ready"):
        process.kill()
        raise RuntimeError(f"demo API did not start: {line!r}")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def server_info(server: JupyterServer) -> ServerInfo:
    info = runtime_info(server)
    return ServerInfo(url=info["url"], token=info["token"])


@pytest.fixture
def alice(server: JupyterServer) -> Iterator[ServerInfo]:
    """alice signed in to the demo provider of the standalone server; signed out afterwards."""
    browser = browser_login(server)
    sign_in(browser, server, "demo", "alice", "demo")
    yield server_info(server)
    browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser))


class RevokingApi:
    """A resource server that refuses the tokens in ``revoked`` with 401 and records every token it saw."""

    def __init__(self, port: int) -> None:
        self.revoked: set[str] = set()
        self.seen: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                api.seen.append(token)
                refused = token in api.revoked
                body = json.dumps({"error": "invalid_token"} if refused else {"ok": True}).encode()
                self.send_response(401 if refused else 200)
                if refused:
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/data"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def revoking_api() -> Iterator[RevokingApi]:
    api = RevokingApi(free_ports(1)[0])
    yield api
    api.close()


def test_requests_and_httpx_call_the_demo_api_as_the_signed_in_person(alice: ServerInfo, demo_api: str) -> None:
    auth = BrokerAuth("demo", server=alice)
    assert isinstance(auth, requests.auth.AuthBase)
    assert isinstance(auth, httpx.Auth)
    assert "eyJ" not in repr(auth)

    with_requests = requests.get(f"{demo_api}/items", auth=auth, timeout=30)
    assert with_requests.status_code == 200, with_requests.text
    assert [item["id"] for item in with_requests.json()["items"]][:1] == ["obs-0001"]

    with_httpx = httpx.get(f"{demo_api}/whoami", auth=auth, timeout=30)
    assert with_httpx.status_code == 200, with_httpx.text
    assert with_httpx.json()["preferred_username"] == "alice"

    async def async_call() -> httpx.Response:
        async with httpx.AsyncClient(auth=auth, timeout=30) as client:
            return await client.get(f"{demo_api}/whoami")

    assert asyncio.run(async_call()).json()["sub"] == "alice"

    header = auth_header("demo", server=alice)
    assert set(header) == {"Authorization"}
    assert header["Authorization"].startswith("Bearer eyJ")
    assert requests.get(f"{demo_api}/whoami", headers=header, timeout=30).json()["sub"] == "alice"


def test_broker_auth_asks_the_broker_for_every_request_so_a_sign_out_takes_effect_at_once(
    server: JupyterServer, alice: ServerInfo, demo_api: str
) -> None:
    auth = BrokerAuth("demo", server=alice)
    assert requests.get(f"{demo_api}/whoami", auth=auth, timeout=30).status_code == 200
    browser = browser_login(server)
    assert browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser)).status_code == 204
    with pytest.raises(LoginRequired) as raised:
        requests.get(f"{demo_api}/whoami", auth=auth, timeout=30)
    assert "needs a login" in str(raised.value)
    with pytest.raises(LoginRequired):
        httpx.get(f"{demo_api}/whoami", auth=auth, timeout=30)


def test_a_token_the_api_refuses_with_401_is_replaced_by_a_refreshed_one_once(
    alice: ServerInfo, revoking_api: RevokingApi
) -> None:
    auth = BrokerAuth("demo", server=alice)
    for send in (
        lambda: requests.get(revoking_api.url, auth=auth, timeout=30),
        lambda: httpx.get(revoking_api.url, auth=auth, timeout=30),
    ):
        revoking_api.seen.clear()
        revoked = get_token("demo", server=alice)  # the broker's cached token, revoked by the API
        revoking_api.revoked.add(revoked)
        response = send()
        assert response.status_code == 200
        assert revoking_api.seen[0] == revoked
        assert len(revoking_api.seen) == 2
        assert revoking_api.seen[1] != revoked
        assert revoking_api.seen[1].count(".") == 2  # a real JWT from the demo IdP, through the broker


def test_a_second_401_is_the_callers_answer_and_never_a_loop(alice: ServerInfo, revoking_api: RevokingApi) -> None:
    class RevokesEverything(set):
        def __contains__(self, _token: object) -> bool:
            return True

    revoking_api.revoked = RevokesEverything()
    auth = BrokerAuth("demo", server=alice)
    assert requests.get(revoking_api.url, auth=auth, timeout=30).status_code == 401
    assert len(revoking_api.seen) == 2
    assert httpx.get(revoking_api.url, auth=auth, timeout=30).status_code == 401
    assert len(revoking_api.seen) == 4


def test_broker_auth_in_a_kernel_started_by_the_server(server: JupyterServer, alice: ServerInfo, demo_api: str) -> None:
    output = run_in_kernel(
        server,
        f"""
import sys
import jupyter_token_broker
print("LAZY", "requests" not in sys.modules or "jupyter_token_broker.http_auth" not in sys.modules)
import requests, httpx
from jupyter_token_broker import BrokerAuth
print("REQUESTS", requests.get("{demo_api}/whoami", auth=BrokerAuth("demo"), timeout=30).json()["sub"])
print("HTTPX", httpx.get("{demo_api}/whoami", auth=BrokerAuth("demo"), timeout=30).json()["sub"])
""",
    )
    assert "LAZY True" in output, output
    assert "REQUESTS alice" in output, output
    assert "HTTPX alice" in output, output
