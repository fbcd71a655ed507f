"""Issue 13, the server extension's egress route: real Jupyter servers with the real broker bundle, the demo IdP and
a real protected API on 127.0.0.1 (``fixtures/egress_upstream.mjs``, which checks every bearer token against the
IdP and records the tokens it accepted).

Large transfers: ``EGRESS_TEST_MIB`` MiB each way (default 1024: 1 GiB down and up through the Jupyter server and the
broker), with both processes' memory sampled from ``/proc`` while it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from test_admin_revoke import ALICE, HUB_ADMIN, HUB_USERS, VISITOR
from test_hub_provider import FakeHub, share_item, start_hub_server

from browser_session import browser_login, xsrf_headers
from demo_idp import DemoIdp, sign_in, start_idp
from jupyter_process import FIXTURES_DIR, JupyterServer, free_ports, start_server, wait_until

IDP_PORT, API_PORT, OWNER_PORT, IDLE_PORT, HUB_PORT = free_ports(5)
MIB = 1 << 20
BIG = int(os.environ.get("EGRESS_TEST_MIB", "1024")) * MIB
RSS_BOUND = 64 * MIB
MALLORY = VISITOR
ERROR_HEADER = "X-Token-Broker-Error"


@dataclass
class Upstream:
    url: str
    token_log: Path
    process: subprocess.Popen[bytes]

    def tokens(self) -> set[str]:
        return {line for line in self.token_log.read_text().splitlines() if line}


@pytest.fixture(scope="module")
def egress_idp() -> Iterator[DemoIdp]:
    idp = start_idp(IDP_PORT, [OWNER_PORT, IDLE_PORT, HUB_PORT], api_port=API_PORT)
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, egress_idp: DemoIdp) -> Iterator[Upstream]:
    token_log = tmp_path_factory.mktemp("upstream") / "tokens.txt"
    token_log.touch()
    process = subprocess.Popen(
        [
            "node",
            str(FIXTURES_DIR / "egress_upstream.mjs"),
            "--port",
            str(API_PORT),
            "--issuer",
            egress_idp.issuer,
            "--token-log",
            str(token_log),
        ],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline() or b"{}")
    assert ready.get("ready"), "the upstream API did not start"
    yield Upstream(url=ready["url"], token_log=token_log, process=process)
    process.terminate()
    process.wait(10)


def egress_providers(idp: DemoIdp, upstream: Upstream) -> list[dict]:
    return [
        {
            "id": "demo",
            "title": "Demo IdP",
            "kind": "oidc",
            "issuer": idp.issuer,
            "client_id": "jupyter-demo",
            "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
            "egress": [f"{upstream.url}/data/"],
        }
    ]


@pytest.fixture(scope="module")
def owner_server(
    tmp_path_factory: pytest.TempPathFactory, egress_idp: DemoIdp, upstream: Upstream
) -> Iterator[JupyterServer]:
    """A standalone server whose owner signed in to the demo IdP."""
    server = start_server(tmp_path_factory.mktemp("egress"), OWNER_PORT, egress_providers(egress_idp, upstream))
    try:
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        yield server
    finally:
        server.stop()


def egress_url(server: JupyterServer, upstream: Upstream, path: str) -> str:
    """The egress route for ``{upstream}/{path}``."""
    return server.api(f"egress/demo/http/{upstream.url.removeprefix('http://')}/{path}")


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    """The largest RSS of each process while the block runs, sampled every 20 ms."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before = {name: rss(pid) for name, pid in pids.items()}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError):  # a broker being restarted
                    self.peak[name] = max(self.peak[name], rss(pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def growth(self) -> dict[str, int]:
        return {name: self.peak[name] - self.before[name] for name in self.pids}


def processes(server: JupyterServer) -> dict[str, int]:
    (broker,) = server.broker_pids()
    return {"jupyter": server.pid, "broker": broker}


def report(what: str, size: int, seconds: float, growth: dict[str, int]) -> None:
    print(  # the figures of the report (pytest -s)
        f"{what}: {size / MIB:.0f} MiB in {seconds:.1f} s = {size / MIB / seconds:.0f} MiB/s; RSS growth "
        + ", ".join(f"{name} {value / MIB:.1f} MiB" for name, value in growth.items())
    )


def test_a_large_download_streams_through_without_growing_either_process(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    with owner_server.token_client() as client:
        # Warm-up: the broker's token and the code paths are in place before the baseline is read.
        assert client.get(egress_url(owner_server, upstream, f"data/download?size={MIB}")).status_code == 200
        received = 0
        with RssSampler(processes(owner_server)) as sampler:
            started = time.monotonic()
            with client.stream("GET", egress_url(owner_server, upstream, f"data/download?size={BIG}")) as answer:
                assert answer.status_code == 200
                assert answer.headers["Content-Length"] == str(BIG)
                for chunk in answer.iter_raw(1 << 20):
                    received += len(chunk)
            seconds = time.monotonic() - started
    assert received == BIG
    report("download", BIG, seconds, sampler.growth())
    assert all(value < RSS_BOUND for value in sampler.growth().values()), sampler.growth()


def test_a_large_upload_streams_through_without_growing_either_process(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    def body(size: int) -> Iterator[bytes]:
        chunk = b"u" * (1 << 20)
        for _ in range(size // len(chunk)):
            yield chunk

    with owner_server.token_client() as client:
        url = egress_url(owner_server, upstream, "data/upload")
        assert client.put(url, content=body(MIB), headers={"Content-Length": str(MIB)}).json() == {"received": MIB}
        with RssSampler(processes(owner_server)) as sampler:
            started = time.monotonic()
            answer = client.put(url, content=body(BIG), headers={"Content-Length": str(BIG)}, timeout=600)
            seconds = time.monotonic() - started
        # Without a Content-Length the body is chunked on every hop, and still arrives whole.
        chunked = client.post(url, content=body(4 * MIB))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": BIG}
    assert chunked.json() == {"received": 4 * MIB}
    report("upload", BIG, seconds, sampler.growth())
    assert all(value < RSS_BOUND for value in sampler.growth().values()), sampler.growth()


def test_the_caller_never_gets_the_token_and_the_upstream_never_gets_the_callers_credentials(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    seen: list[str] = []
    with owner_server.token_client() as client:
        echo = client.get(
            egress_url(owner_server, upstream, "data/echo?x=1"),
            headers={
                "Cookie": "jupyter-session=caller-cookie",
                "X-Broker-Key": "forged",
                "X-Broker-User": "someone-else",
                "Proxy-Authorization": "Basic caller",
                "Accept": "application/json",
                "Range": "bytes=0-",
                "X-Token-Broker-Client": "kernel",
            },
        )
        assert echo.status_code == 200, echo.text
        for path in ("data/download?size=10", "data/cookie", "outside/allowlist", "data/missing"):
            answer = client.get(egress_url(owner_server, upstream, path))
            seen.append(answer.text + json.dumps(dict(answer.headers)))
        seen.append(client.head(egress_url(owner_server, upstream, "data/download?size=10")).headers.__repr__())
    seen.append(echo.text + json.dumps(dict(echo.headers)))
    got = echo.json()
    assert got["url"] == "/data/echo?x=1"
    headers = got["headers"]
    assert headers["authorization"] == "valid bearer token of alice"
    assert headers["accept"] == "application/json"
    assert headers["range"] == "bytes=0-"
    assert "cookie" not in headers
    assert "proxy-authorization" not in headers
    assert not [name for name in headers if name.startswith(("x-broker-", "x-token-broker-", "x-xsrf"))]
    assert headers["user-agent"].startswith("jupyter-token-broker/")
    tokens = upstream.tokens()
    assert tokens, "the upstream saw bearer tokens"
    assert owner_server.token not in json.dumps(got)
    for text in [*seen, owner_server.log_text()]:
        assert not [token for token in tokens if token in text]


def test_answer_fields_that_would_act_on_jupyters_origin_are_dropped(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    with owner_server.token_client() as client:
        answer = client.get(egress_url(owner_server, upstream, "data/cookie"))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html"
    # Jupyter sets its own cookie (and an empty Access-Control-Allow-Origin) on every answer; the upstream's are gone.
    assert not [cookie for cookie in answer.headers.get_list("Set-Cookie") if "upstream=" in cookie]
    assert answer.headers.get("Access-Control-Allow-Origin", "") == ""
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert "Clear-Site-Data" not in answer.headers
    assert any(policy.endswith("; sandbox") for policy in answer.headers.get_list("Content-Security-Policy"))
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert ERROR_HEADER not in answer.headers


def test_a_target_outside_the_allowlist_is_the_brokers_refusal_with_its_header(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    before = upstream.tokens()
    with owner_server.token_client() as client:
        answer = client.get(egress_url(owner_server, upstream, "outside/allowlist"))
        not_found = client.get(egress_url(owner_server, upstream, "data/missing"))
    assert answer.status_code == 403
    assert answer.headers[ERROR_HEADER] == "egress_not_allowed"
    assert answer.json()["error"] == "egress_not_allowed"
    # The upstream's own 404 comes back as it is, not marked as the broker's.
    assert not_found.status_code == 404
    assert ERROR_HEADER not in not_found.headers
    assert upstream.tokens() >= before


def test_a_cookie_authenticated_post_needs_the_xsrf_token(owner_server: JupyterServer, upstream: Upstream) -> None:
    browser = browser_login(owner_server)
    url = egress_url(owner_server, upstream, "data/upload")
    refused = browser.post(url, content=b"12345")
    assert refused.status_code == 403
    assert refused.headers[ERROR_HEADER] == "forbidden"  # Jupyter's refusal, marked as not the upstream's
    accepted = browser.post(url, content=b"12345", headers=xsrf_headers(browser))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"received": 5}
    # A GET is read-only as everywhere in Jupyter: no XSRF token needed.
    assert browser.get(egress_url(owner_server, upstream, "data/download?size=3")).content == b"xxx"


def test_other_spellings_of_the_egress_route_are_not_forwarded_by_the_generic_proxy(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    with owner_server.token_client() as client:
        for prefix in ("Egress", "%65gress", "EGRESS"):
            target = f"{prefix}/demo/http/{upstream.url.removeprefix('http://')}/data/echo"
            answer = client.get(owner_server.api(target))
            assert answer.status_code == 400, (prefix, answer.text)
            assert answer.json()["error"] == "invalid_request"


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    # A Content-Length over egress_max_request_bytes (default 4 GiB): answered from the head, no byte of it sent.
    target = egress_url(owner_server, upstream, "data/upload").removeprefix(owner_server.url.rstrip("/"))
    host = owner_server.url.removeprefix("http://").rstrip("/")
    with socket.create_connection(tuple(host.split(":")), timeout=10) as raw:  # type: ignore[arg-type]
        raw.sendall(
            f"PUT {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: token {owner_server.token}\r\n"
            f"Content-Length: {5 << 30}\r\n\r\n".encode()
        )
        head = raw.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413 "), head
    assert f"\r\n{ERROR_HEADER}: payload_too_large\r\n" in head


@pytest.fixture(scope="module")
def hub_server(
    tmp_path_factory: pytest.TempPathFactory, egress_idp: DemoIdp, upstream: Upstream
) -> Iterator[JupyterServer]:
    """alice's server under JupyterHub; mallory is a visitor with access to it, hubadmin holds the admin scope."""
    server = start_server(
        tmp_path_factory.mktemp("egress-hub"),
        HUB_PORT,
        egress_providers(egress_idp, upstream),
        env_extra={"JUPYTERHUB_USER": "alice"},
        config_extra=HUB_USERS,  # jupyterhub-singleuser's shape: users carry the hub's scopes
        owner_token=ALICE,
    )
    yield server
    server.stop()


def test_a_visitor_and_an_admin_get_403_from_the_egress_route(hub_server: JupyterServer, upstream: Upstream) -> None:
    before = upstream.tokens()
    for token in (MALLORY, HUB_ADMIN):
        # One kept-alive connection: every refusal also says Connection: close, so the next call opens a new one.
        with hub_server.token_client(token) as caller:
            for method in ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"):
                answer = caller.request(method, egress_url(hub_server, upstream, "data/echo"))
                assert answer.status_code == 403, method
                assert answer.headers[ERROR_HEADER] == "forbidden"
    with hub_server.token_client("nobody-knows-this-token") as stranger:
        refused = stranger.get(egress_url(hub_server, upstream, "data/echo"))
        assert (refused.status_code, refused.headers[ERROR_HEADER]) == (403, "forbidden")
    assert upstream.tokens() == before


@pytest.fixture(scope="module")
def idle_server(
    tmp_path_factory: pytest.TempPathFactory, egress_idp: DemoIdp, upstream: Upstream
) -> Iterator[JupyterServer]:
    """A server whose broker stops after 1 s without use (a file store: a sign-in does not keep it running)."""
    server = start_server(
        tmp_path_factory.mktemp("egress-idle"),
        IDLE_PORT,
        egress_providers(egress_idp, upstream),
        config_extra='c.TokenBroker.idle_exit_seconds = 1\nc.TokenBroker.store = {"type": "file"}',
    )
    try:
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        yield server
    finally:
        server.stop()


def test_no_idle_stop_while_a_transfer_runs(idle_server: JupyterServer, upstream: Upstream) -> None:
    stopped = "stopped after"
    size = 8 * MIB
    wait_until(lambda: idle_server.log_text().count(stopped) >= 1, 30, what="the first idle stop")
    stops = idle_server.log_text().count(stopped)
    with idle_server.token_client() as client:
        started = time.monotonic()
        answer = client.get(egress_url(idle_server, upstream, f"data/download?size={size}&seconds=4"))
        seconds = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert len(answer.content) == size
    assert seconds > 3.5
    # The broker started for the call and was not stopped under it (idle 1 s, the transfer took 4 s).
    assert idle_server.log_text().count(stopped) == stops
    wait_until(lambda: idle_server.log_text().count(stopped) > stops, 30, what="the idle stop after the transfer")


def test_a_broker_dying_mid_transfer_cuts_the_answer_off_instead_of_hanging(
    idle_server: JupyterServer, upstream: Upstream
) -> None:
    size = 64 * MIB
    received = 0
    cut_off = False
    url = egress_url(idle_server, upstream, f"data/download?size={size}&seconds=8")
    with idle_server.token_client() as client, client.stream("GET", url) as answer:
        assert answer.status_code == 200
        started = time.monotonic()
        try:
            for chunk in answer.iter_raw():
                received += len(chunk)
                if received > MIB and idle_server.broker_pids():
                    for pid in idle_server.broker_pids():
                        os.kill(pid, 9)
        except httpx.RemoteProtocolError:
            cut_off = True  # fewer bytes than the Content-Length promised, then the connection closed
    assert cut_off
    assert 0 < received < size
    assert time.monotonic() - started < 20


def test_a_refused_call_with_a_large_body_is_the_brokers_refusal_not_a_gateway_error(
    owner_server: JupyterServer, upstream: Upstream
) -> None:
    # The broker refuses from the head and drops the body; it must keep the connection open until the extension's
    # client (which reads only after writing the whole body) is done: "Connection: close" made it a reset, 502.
    with owner_server.token_client() as client:
        for size in (10, 8 * MIB):
            answer = client.post(egress_url(owner_server, upstream, "outside/allowlist"), content=b"x" * size)
            assert (answer.status_code, answer.headers.get(ERROR_HEADER)) == (403, "egress_not_allowed"), size


def send_whole_body_then_read(server: JupyterServer, url: str, size: int) -> tuple[str, str]:
    """PUTs ``size`` bytes with a plain socket, all of them before reading: the answer's head and body."""
    host = server.url.removeprefix("http://").rstrip("/")
    with socket.create_connection(tuple(host.split(":")), timeout=30) as raw:  # type: ignore[arg-type]
        raw.sendall(
            f"PUT {url.removeprefix(server.url.rstrip('/'))} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: token {server.token}\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        raw.sendall(b"x" * size)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
    head, _, body = answer.decode("latin-1").partition("\r\n\r\n")
    return head, body


def test_no_broker_to_forward_to_is_a_marked_503_with_the_reason(
    tmp_path: Path, egress_idp: DemoIdp, upstream: Upstream
) -> None:
    provider = {**egress_providers(egress_idp, upstream)[0], "client_secret": "s3cr3t-value"}
    server = start_server(tmp_path, free_ports(1)[0], [provider], wait_for_broker=False)
    try:
        wait_until(lambda: "not started" in server.log_text(), 30, what="the refusal in the log")
        # A client that sends its whole body before it reads anything gets the answer, not a reset.
        head, body = send_whole_body_then_read(server, egress_url(server, upstream, "data/upload"), 16 * MIB)
        assert head.startswith("HTTP/1.1 503 "), head
        assert f"\r\n{ERROR_HEADER}: config_error\r\n" in head
        assert "client_secret" in json.loads(body)["error_description"]
        assert server.broker_pids() == []
    finally:
        server.stop()


@pytest.fixture
def sharing_hub() -> Iterator[FakeHub]:
    """A stand-in hub that answers the share questions (``test_hub_provider.py``)."""
    hub = FakeHub()
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    yield hub
    hub.shutdown()
    hub.server_close()


def test_no_egress_call_while_the_server_is_shared(
    tmp_path: Path, sharing_hub: FakeHub, egress_idp: DemoIdp, upstream: Upstream
) -> None:
    fake_hub = sharing_hub
    server = start_hub_server(tmp_path, fake_hub, providers=egress_providers(egress_idp, upstream))
    try:
        fake_hub.shares = [share_item("mallory")]
        with server.token_client(ALICE) as client:
            refused = client.post(egress_url(server, upstream, "data/upload"), content=b"from a visitor's code?")
            assert (refused.status_code, refused.headers[ERROR_HEADER]) == (403, "forbidden")
            assert "This server is shared through JupyterHub (1 share)" in refused.json()["error_description"]
            fake_hub.reset()
            time.sleep(0.6)  # past share_check_seconds
            # Not shared: the call reaches the broker (nobody signed in to the demo IdP on this server).
            allowed = client.get(egress_url(server, upstream, "data/echo"))
            assert allowed.headers[ERROR_HEADER] == "login_required", allowed.text
    finally:
        server.stop()
