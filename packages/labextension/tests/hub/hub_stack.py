"""A real JupyterHub for tests: the demo IdP (oidc-provider) with a confidential ``jupyterhub`` client, JupyterHub
from the repo's .venv with GenericOAuthenticator and ``jupyter_token_broker.hub.configure``, configurable-http-proxy
from npm, and people logging in through the IdP's own HTML form with httpx.

Reusable outside this folder::

    from hub_stack import start_idp, start_hub, login
    idp = start_idp(tmp_path, access_token_ttl=15)
    hub = start_hub(tmp_path, idp)
    browser = login(hub, "alice")           # an httpx.Client holding the hub's login cookies
    token = hub.user_token("alice", ["custom:token-broker:token!user"])
    ...
    hub.stop(); idp.stop()

The IdP is reached as ``localhost`` and the hub as ``127.0.0.1``, so their cookies stay apart in one client.
Every port is free at start; nothing secret is put in an environment variable or on a command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from jupyter_process import free_ports

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = TESTS_DIR.parents[2]
VENV_BIN = Path(sys.executable).parent
IDP_SCRIPT = REPO_DIR / "packages" / "demo" / "idp.mjs"
CHP = REPO_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
#: The jupyterhub command: the repo's .venv (6.x), or another one named by TB_TEST_JUPYTERHUB (`make test-hub55`
#: runs JupyterHub 5.5 from .venv-hub55). The hub imports jupyter_token_broker from the source tree either way.
JUPYTERHUB = Path(os.environ.get("TB_TEST_JUPYTERHUB") or VENV_BIN / "jupyterhub")
HUB_CLIENT_ID = "jupyterhub"
DEMO_PASSWORD = "demo"
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
#: The scopes the hub asks the IdP for (`demo:read` makes the access token good for the demo API).
#: A short access-token lifetime (seconds) for tests that watch several expiries.
SHORT_TOKEN_TTL = 12
HUB_SCOPES = ["openid", "profile", "email", "offline_access", "demo:read"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    return free_ports(1)[0]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Idp:
    """The demo IdP with the hub client. Its stderr (JSON lines, no token material) is in ``log_path``."""

    issuer: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    client_secret_file: Path
    api_url: str

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if event is None or record.get("event") == event:
                lines.append(record)
        return lines

    def refresh_count(self, client_id: str = HUB_CLIENT_ID) -> int:
        """How many refresh_token grants the IdP answered with tokens for ``client_id``."""
        return sum(
            1
            for e in self.events("token.issued")
            if e.get("grant_type") == "refresh_token" and e.get("client_id") == client_id
        )

    def invalid_grant_count(self) -> int:
        return sum(1 for e in self.events("grant.error") if e.get("error") == "InvalidGrant")

    def pause(self) -> None:
        """The IdP stops answering (SIGSTOP): connections are accepted by the kernel, requests time out."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_idp(
    workdir: Path,
    *,
    access_token_ttl: int = 15,
    audience: str = "api",
    hub_redirect_uris: list[str] | None = None,
    jupyter_ports: list[int] | None = None,
) -> Idp:
    """Starts the demo IdP on a free port with the ``jupyterhub`` client (secret in a 0600 file).

    ``hub_redirect_uris`` may be given later by starting the hub with ``start_hub(..., idp=...)``: the IdP needs
    the hub's callback URI, so by default it accepts ``http://127.0.0.1:<hub port>/hub/oauth_callback`` for the
    port pre-allocated in ``idp.hub_port`` (see ``start_hub``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    secret_file = workdir / "hub-client-secret"
    secret_file.write_text(secrets.token_urlsafe(32) + "\n")
    secret_file.chmod(0o600)
    api_url = f"http://127.0.0.1:{free_port()}"
    argv = [
        "node",
        str(IDP_SCRIPT),
        "--port",
        str(port),
        "--issuer-host",
        "localhost",
        "--api-url",
        api_url,
        "--hub-client-secret-file",
        str(secret_file),
        "--hub-access-token-ttl",
        str(access_token_ttl),
        "--hub-audience",
        audience,
    ]
    for uri in hub_redirect_uris or []:
        argv += ["--hub-redirect-uri", uri]
    for jupyter_port in jupyter_ports or []:
        argv += ["--jupyter-port", str(jupyter_port)]
    log_path = workdir / "idp.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, cwd=str(IDP_SCRIPT.parent))
    assert process.stdout is not None
    line = process.stdout.readline()
    ready = json.loads(line) if line.startswith(b"{") else {}
    if not ready.get("ready"):
        process.kill()
        raise RuntimeError(f"demo IdP did not start: {line!r} {log_path.read_text()[-2000:]}")
    return Idp(
        issuer=ready["issuer"],
        port=port,
        process=process,
        log_path=log_path,
        client_secret_file=secret_file,
        api_url=api_url,
    )


HUB_CONFIG = """
import json, os
settings = json.load(open(os.environ["TB_TEST_HUB_SETTINGS"]))
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.command = [settings["chp"]]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % settings["proxy_api_port"]
c.ConfigurableHTTPProxy.auth_token = open(settings["proxy_token_file"]).read().strip()
c.JupyterHub.db_url = "sqlite:///" + os.path.join(settings["dir"], "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(settings["dir"], "cookie_secret")
c.JupyterHub.pid_file = os.path.join(settings["dir"], "jupyterhub.pid")
c.CryptKeeper.keys = [bytes.fromhex(open(settings["crypt_key_file"]).read().strip())]
c.JupyterHub.log_level = "DEBUG" if settings["debug"] else "INFO"
c.JupyterHub.cleanup_servers = True

c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.client_id = "jupyterhub"
c.GenericOAuthenticator.client_secret = open(settings["client_secret_file"]).read().strip()
c.GenericOAuthenticator.oauth_callback_url = settings["hub_url"] + "hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = settings["issuer"] + "/auth"
c.GenericOAuthenticator.token_url = settings["issuer"] + "/token"
if settings["audience"] == "api":
    c.GenericOAuthenticator.userdata_from_id_token = True
else:
    c.GenericOAuthenticator.userdata_url = settings["issuer"] + "/me"
c.GenericOAuthenticator.scope = settings["scopes"]
c.GenericOAuthenticator.username_claim = "preferred_username" if settings["audience"] == "api" else "sub"
c.GenericOAuthenticator.login_service = "Demo IdP"
c.GenericOAuthenticator.allow_all = True
c.GenericOAuthenticator.enable_auth_state = True
c.Authenticator.auth_refresh_age = settings["auth_refresh_age"]

c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = [settings["singleuser"]]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.JupyterHub.allow_named_servers = True

c.JupyterHub.services = [{"name": "test-admin", "api_token": open(settings["admin_token_file"]).read().strip()}]
c.JupyterHub.load_roles = [
    {
        "name": "test-admin",
        "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens", "admin:auth_state", "shares",
                   "read:roles"],
        "services": ["test-admin"],
    }
]

exec(settings["extra_config"])
if settings["configure"] is not None:
    from jupyter_token_broker.hub import configure
    configure(c, **settings["configure"])
exec(settings["after_configure"])
"""


@dataclass
class Hub:
    """A running hub. ``url`` is the proxy's public URL (``http://127.0.0.1:PORT/``), ``api`` the hub API's."""

    url: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    admin_token: str
    clients: list[httpx.Client] = field(default_factory=list)
    #: The authorization codes of the logins made by ``login`` (to check that no log holds them).
    authorization_codes: list[str] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"{self.url}hub/api/"

    def admin(self) -> httpx.Client:
        """An httpx client authenticated as the test's admin service."""
        client = httpx.Client(headers={"Authorization": f"token {self.admin_token}"}, timeout=30)
        self.clients.append(client)
        return client

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def user_token(self, name: str, scopes: list[str]) -> str:
        """A new API token owned by ``name`` with ``scopes`` (the subset ``name`` holds), made by the admin."""
        answer = self.admin().post(f"{self.api}users/{name}/tokens", json={"scopes": scopes, "note": "test"})
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]

    def auth_state(self, name: str) -> dict[str, Any] | None:
        answer = self.admin().get(f"{self.api}users/{name}")
        assert answer.status_code == 200, answer.text
        return answer.json().get("auth_state")

    def token_route(self, name: str) -> str:
        return f"{self.api}token-broker/v1/users/{name}/token"

    def start_server(self, name: str, server_name: str = "", timeout: float = 60) -> dict[str, Any]:
        """Starts a user's (named) server through the admin API and waits until it is ready; its model."""
        path = f"{self.api}users/{name}/servers/{server_name}" if server_name else f"{self.api}users/{name}/server"
        admin = self.admin()
        answer = admin.post(path)
        assert answer.status_code in (201, 202), answer.text

        def ready() -> dict[str, Any] | None:
            servers = admin.get(f"{self.api}users/{name}").json().get("servers", {})
            server = servers.get(server_name)
            return server if server and server.get("ready") else None

        return wait_until(ready, timeout, f"server {name}/{server_name} ready", interval=0.5)

    def use_broker(self, name: str, server_name: str = "") -> None:
        """Starts the broker of a user's running server (it starts at the first request that needs it) with the
        provider list a page load asks."""
        path = f"user/{name}/{server_name + '/' if server_name else ''}token-broker/api/v1/providers"
        token = self.user_token(name, ["inherit"])
        answer = httpx.get(f"{self.url}{path}", headers={"Authorization": f"token {token}"}, timeout=60)
        assert answer.status_code == 200, answer.text

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        # Whatever a killed (or crashed) hub left behind in its group: configurable-http-proxy.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def write_hub_settings(
    workdir: Path,
    idp: Idp,
    *,
    port: int,
    configure: dict[str, Any] | None,
    extra_config: str,
    after_configure: str,
    auth_refresh_age: int,
    audience: str,
    debug: bool,
) -> tuple[Path, str]:
    """Writes the hub's config and settings (secrets in 0600 files); returns the settings path and admin token."""
    workdir.mkdir(parents=True, exist_ok=True)

    def secret_file(name: str, value: str) -> str:
        path = workdir / name
        path.write_text(value + "\n")
        path.chmod(0o600)
        return str(path)

    admin_token = secrets.token_hex(32)
    settings = {
        "dir": str(workdir),
        "port": port,
        "hub_port": free_port(),
        "proxy_api_port": free_port(),
        "hub_url": f"http://127.0.0.1:{port}/",
        "issuer": idp.issuer,
        "audience": audience,
        "scopes": HUB_SCOPES if audience == "api" else ["openid", "profile", "email", "offline_access"],
        "chp": str(CHP),
        "singleuser": str(VENV_BIN / "jupyterhub-singleuser"),
        "client_secret_file": str(idp.client_secret_file),
        "admin_token_file": secret_file("admin-token", admin_token),
        "proxy_token_file": secret_file("proxy-token", secrets.token_hex(32)),
        "crypt_key_file": secret_file("crypt-key", secrets.token_hex(32)),
        "auth_refresh_age": auth_refresh_age,
        "configure": configure,
        "extra_config": extra_config,
        "after_configure": after_configure,
        "debug": debug,
    }
    settings_path = workdir / "settings.json"
    settings_path.write_text(json.dumps(settings))
    settings_path.chmod(0o600)
    (workdir / "jupyterhub_config.py").write_text(HUB_CONFIG)
    return settings_path, admin_token


def start_hub(
    workdir: Path,
    idp: Idp,
    *,
    port: int,
    configure: dict[str, Any] | None = None,
    extra_config: str = "",
    after_configure: str = "",
    auth_refresh_age: int = 300,
    audience: str = "api",
    debug: bool = False,
    jupyterhub: Path | None = None,
    wait: bool = True,
) -> Hub:
    """Starts JupyterHub (+ configurable-http-proxy) on ``port`` against ``idp``.

    ``port`` must be one of the IdP's hub redirect URIs' ports (see ``start_stack``). ``configure`` is the
    options of ``jupyter_token_broker.hub.configure`` (None: the stock hub, without it). ``extra_config`` runs
    before configure(), ``after_configure`` after it (Python, with ``c`` and ``settings``).
    """
    settings_path, admin_token = write_hub_settings(
        workdir,
        idp,
        port=port,
        configure=configure,
        extra_config=extra_config,
        after_configure=after_configure,
        auth_refresh_age=auth_refresh_age,
        audience=audience,
        debug=debug,
    )
    log_path = workdir / "jupyterhub.log"
    env = {
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(workdir),
        "TB_TEST_HUB_SETTINGS": str(settings_path),
        "PYTHONPATH": str(REPO_DIR / "packages" / "labextension"),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(jupyterhub or JUPYTERHUB), "-f", str(workdir / "jupyterhub_config.py")],
            cwd=str(workdir),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: a hub that has to be killed takes configurable-http-proxy with it (JupyterHub
            # stops the proxy itself only on a clean exit; user servers get sessions of their own and are stopped
            # by the hub or by their tests).
            start_new_session=True,
        )
    hub = Hub(
        url=f"http://127.0.0.1:{port}/",
        port=port,
        workdir=workdir,
        process=process,
        log_path=log_path,
        admin_token=admin_token,
    )
    if not wait:
        return hub

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited ({process.returncode}):\n{hub.log_text()[-4000:]}")
        try:
            return httpx.get(f"{hub.api}", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 120, "jupyterhub to answer", interval=0.25)
    except Exception:
        hub.stop()
        raise
    return hub


def start_stack(workdir: Path, *, access_token_ttl: int = 15, audience: str = "api", **hub_options: Any):
    """The IdP and a hub that logs in through it: ``(idp, hub)``."""
    port = free_port()
    idp = start_idp(
        workdir / "idp",
        access_token_ttl=access_token_ttl,
        audience=audience,
        hub_redirect_uris=[f"http://127.0.0.1:{port}/hub/oauth_callback"],
    )
    try:
        hub = start_hub(workdir / "hub", idp, port=port, audience=audience, **hub_options)
    except Exception:
        idp.stop()
        raise
    return idp, hub


def login(hub: Hub, username: str, password: str = DEMO_PASSWORD) -> httpx.Client:
    """Logs ``username`` in to the hub through the IdP's own form, as a browser would; the client keeps cookies.

    Stops at the hub's OAuth callback (no spawn). Raises when the login did not end at the hub with a cookie.
    """
    browser = httpx.Client(timeout=30)
    hub.clients.append(browser)
    # The hub's login handler redirects to the IdP with state and PKCE; the IdP redirects to its form.
    page = browser.get(f"{hub.url}hub/oauth_login?next=%2Fhub%2Fhome", follow_redirects=True)
    assert page.status_code == 200, page.text
    action = FORM_ACTION.search(page.text)
    assert action, f"the IdP's sign-in form: {page.text[:500]}"
    response = browser.post(urljoin(str(page.url), action.group(1)), data={"username": username, "password": password})
    for _ in range(10):
        location = response.headers.get("location")
        if location is None:
            break
        target = urljoin(str(response.url), location)
        response = browser.get(target)
        if urlsplit(target).path.endswith("/hub/oauth_callback"):
            hub.authorization_codes.extend(parse_qs(urlsplit(target).query).get("code", []))
            break
    assert response.status_code == 302, f"the hub's OAuth callback answered {response.status_code}: {response.text}"
    assert any(
        cookie.name.startswith("jupyterhub-session") or cookie.name == "jupyterhub-hub-login"
        for cookie in browser.cookies.jar
    ), "no hub login cookie"
    return browser
