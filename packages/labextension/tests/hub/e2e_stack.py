"""What the end-to-end hub tests add to ``hub_stack``: the demo API, the docs' hub config fragment, user servers.

The hub runs ``docs/z2jh/token_broker.py`` as it is (the fragment that ``docs/z2jh/values.yaml`` puts in
``hub.extraConfig``), so the tests check what the docs tell admins to run. The IdP, the hub and the proxy come from
``hub_stack``; this module starts the demo API (``packages/demo/api.mjs``) against the same IdP, so tokens are
checked by a real resource server, and reaches user servers through the proxy with a token the user owns.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jupyter_client.blocking import BlockingKernelClient

from hub_stack import REPO_DIR, Hub, Idp, free_port, login, start_hub, start_idp, wait_until

API_SCRIPT = REPO_DIR / "packages" / "demo" / "api.mjs"
#: The hub side's part of jupyterhub_config.py, as the docs give it.
DOCS_FRAGMENT = REPO_DIR / "docs" / "z2jh" / "token_broker.py"
#: Runs the docs' fragment in the test hub's config (``after_configure`` of ``hub_stack.start_hub``).
RUN_DOCS_FRAGMENT = f"exec(open({str(DOCS_FRAGMENT)!r}).read())\n"
BROKER_API = "token-broker/api/v1/"
#: The hub's one redirect URI for sign-ins to other providers from any user server (``configure``'s redirect hook).
USER_REDIRECT_CALLBACK = "hub/user-redirect/token-broker/api/v1/callback"


@dataclass
class DemoApi:
    """The demo API (a resource server validating the IdP's JWTs). Its stderr log: path, subject, status."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_api(idp: Idp, workdir: Path, hub_port: int) -> DemoApi:
    """Starts the demo API at ``idp.api_url`` (the audience of the IdP's access tokens)."""
    port = int(idp.api_url.rsplit(":", 1)[1])
    log_path = workdir / "api.log"
    argv = ["node", str(API_SCRIPT), "--port", str(port), "--issuer", idp.issuer, "--jupyter-port", str(hub_port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, cwd=str(API_SCRIPT.parent))
    assert process.stdout is not None
    line = process.stdout.readline()
    ready = json.loads(line) if line.startswith(b"{") else {}
    if not ready.get("ready"):
        process.kill()
        raise RuntimeError(f"demo API did not start: {line!r} {log_path.read_text()[-2000:]}")
    return DemoApi(url=ready["url"].rstrip("/"), process=process, log_path=log_path)


@dataclass
class UserServer:
    """A user's (named) server behind the hub's proxy, reached with a token the user owns (as a kernel or script).

    Duck-types ``jupyter_process.JupyterServer`` for ``kernel_session.run_in_kernel``.
    """

    url: str
    token: str
    #: The user's home as the server has it (where it writes its kernels' connection files).
    home: Path | None = None

    def api(self, path: str = "") -> str:
        return f"{self.url}{BROKER_API}{path}"

    def token_client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(headers={"Authorization": f"token {token or self.token}"}, timeout=30, trust_env=False)


def descendants(*roots: int) -> set[int]:
    """Every live process below ``roots`` (and the roots), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def environ(pid: int) -> dict[str, str]:
    """A process's environment, from /proc (empty when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def server_environ(hub: Hub, name: str, server_name: str = "") -> dict[str, str]:
    """The environment of the running server ``name/server_name`` of this hub (a child of the hub process)."""
    for pid in descendants(hub.process.pid):
        env = environ(pid)
        if (
            env.get("JUPYTERHUB_USER") == name
            and env.get("JUPYTERHUB_SERVER_NAME", "") == server_name
            and env.get("JUPYTERHUB_SERVICE_URL")
        ):
            return env
    raise LookupError(f"no running server {name}/{server_name} under this hub")


def user_server(hub: Hub, name: str, server_name: str = "") -> UserServer:
    """The running server ``name/server_name``, with a new token of ``name`` that may access it.

    Reached at the port it listens on, not through configurable-http-proxy: the tests drive kernels over
    websockets, and a proxied websocket was seen to lose a kernel's reply under load (the product's own path,
    kernel -> server -> broker -> hub, does not go through the proxy either).
    """
    token = hub.user_token(name, [f"access:servers!user={name}"])
    env = server_environ(hub, name, server_name)
    return UserServer(url=env["JUPYTERHUB_SERVICE_URL"].rstrip("/") + "/", token=token, home=Path(env["HOME"]))


@dataclass
class E2eStack:
    idp: Idp
    hub: Hub
    api: DemoApi
    workdir: Path

    def logs(self) -> dict[str, str]:
        """Every log the stack wrote: IdP, API, hub (with the proxy's and the user servers' output)."""
        return {
            "idp": self.idp.log_path.read_text(errors="replace"),
            "api": self.api.log_path.read_text(errors="replace"),
            "hub": self.hub.log_text(),
        }


@contextmanager
def e2e_stack(
    workdir: Path, *, access_token_ttl: int = 15, extra_config: str = "", **hub_options: Any
) -> Iterator[E2eStack]:
    """IdP + demo API + hub (running the docs' fragment); users' homes under ``workdir/home``.

    The IdP's public demo client (``jupyter-demo``) also accepts the hub's user-redirect callback, so user servers
    may sign in to it as an extra provider through the hub's single redirect URI.
    """
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    extra = f"c.SimpleLocalProcessSpawner.home_dir_template = {str(home / '{username}')!r}\n" + extra_config
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}/"
    # idp.mjs takes further redirect URIs of the demo client from DEMO_REDIRECT_URIS (hub_stack passes none).
    previous = os.environ.get("DEMO_REDIRECT_URIS")
    os.environ["DEMO_REDIRECT_URIS"] = f"{hub_url}{USER_REDIRECT_CALLBACK}"
    try:
        idp = start_idp(
            workdir / "idp",
            access_token_ttl=access_token_ttl,
            hub_redirect_uris=[f"{hub_url}hub/oauth_callback"],
        )
    finally:
        if previous is None:
            os.environ.pop("DEMO_REDIRECT_URIS", None)
        else:
            os.environ["DEMO_REDIRECT_URIS"] = previous
    hub = api = None
    try:
        hub = start_hub(
            workdir / "hub",
            idp,
            port=port,
            configure=None,
            extra_config=extra,
            after_configure=RUN_DOCS_FRAGMENT,
            **hub_options,
        )
        api = start_api(idp, workdir, port)
        yield E2eStack(idp=idp, hub=hub, api=api, workdir=workdir)
    finally:
        if hub is not None:
            hub.stop()
        if api is not None:
            api.stop()
        idp.stop()


#: The access-token lifetime of the shared e2e stack: longer than the kernel helper's default min_ttl (60 s), so
#: notebooks work with the defaults; tests that need a refresh ask a min_ttl close to it instead of waiting.
E2E_TOKEN_TTL = 90
#: The hub's settings in the shared stack: short waits for the IdP (the outage test), then the docs' fragment.
E2E_HUB_SETTINGS = "c.TokenBrokerHub.refresh_timeout_seconds = 2.0\nc.TokenBrokerHub.retry_after_seconds = 2\n"
#: alice's servers' own config (her ~/.jupyter): the demo IdP's public client as an extra provider, signed in to
#: through the hub's single redirect URI (the server extension's default under a hub that runs configure()).
ALICE_SERVER_CONFIG = """
c.TokenBroker.providers = [
    {{
        "id": "demo",
        "title": "Demo IdP",
        "kind": "oidc",
        "issuer": {issuer!r},
        "client_id": "jupyter-demo",
        "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
    }}
]
"""


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2eStack]:
    """One IdP + demo API + hub for every e2e test module (the hub refreshes users at most every second)."""
    with e2e_stack(
        tmp_path_factory.mktemp("e2e"),
        access_token_ttl=E2E_TOKEN_TTL,
        extra_config=E2E_HUB_SETTINGS,
        auth_refresh_age=1,
    ) as running:
        config_dir = running.workdir / "home" / "alice" / ".jupyter"
        config_dir.mkdir(parents=True)
        (config_dir / "jupyter_server_config.py").write_text(ALICE_SERVER_CONFIG.format(issuer=running.idp.issuer))
        yield running


@dataclass
class LoggedIn:
    """A user logged in at the hub (a browser holding its cookies) with the default server running."""

    browser: httpx.Client
    server: UserServer


@pytest.fixture(scope="session")
def alice(e2e: E2eStack) -> LoggedIn:
    """alice logged in through the IdP's form, her default server started (once for all modules)."""
    browser = login(e2e.hub, "alice")
    e2e.hub.start_server("alice")
    return LoggedIn(browser=browser, server=user_server(e2e.hub, "alice"))


#: How long the test's kernel client waits for a heartbeat before it calls the kernel dead.
KERNEL_HEARTBEAT_SECONDS = 10.0


def run_in_user_kernel(server: UserServer, code: str, timeout: float = 120) -> str:
    """Starts a kernel in a user server (its REST API), runs ``code`` in it, returns what it printed.

    The kernel is the server's own (its environment, its server token, its broker); the test talks to it over
    ZeroMQ with the connection file the server wrote in the user's home (``home``), as a second client, rather
    than through the server's websocket: under load a websocket reply was seen lost, and the tests are about
    what the kernel gets, not about the websocket.
    """
    home = server.home
    assert home is not None, "run_in_user_kernel needs the server's home (user_server() sets it)"
    with server.token_client() as client:
        started = client.post(f"{server.url}api/kernels", json={"name": "python3"})
        assert started.status_code == 201, started.text
        kernel_id = started.json()["id"]
        try:
            connection_file = wait_until(
                lambda: next(home.rglob(f"kernel-{kernel_id}.json"), None), 60, f"kernel {kernel_id}'s connection file"
            )
            kernel = BlockingKernelClient()
            kernel.load_connection_file(str(connection_file))
            # A client without a kernel manager calls the kernel dead when one heartbeat goes unanswered for 1 s
            # (jupyter_client's default): a kernel still importing on a loaded machine, not a dead one.
            kernel.hb_channel.time_to_dead = KERNEL_HEARTBEAT_SECONDS
            kernel.start_channels()
            try:
                kernel.wait_for_ready(timeout=timeout)
                output: list[str] = []

                def collect(message: dict) -> None:
                    if message["msg_type"] == "stream":
                        output.append(message["content"]["text"])
                    elif message["msg_type"] == "error":
                        output.append(f"{message['content']['ename']}: {message['content']['evalue']}\n")

                kernel.execute_interactive(code, timeout=timeout, output_hook=collect, store_history=False)
                return "".join(output)
            finally:
                kernel.stop_channels()
        finally:
            client.delete(f"{server.url}api/kernels/{kernel_id}")
