"""Binder's configuration as a public BinderHub runs it, where only the Jupyter server reaches the browser.

``binder/start`` (the demo IdP and API, ``DEMO_VIA_JUPYTER=1``) runs a real jupyter-server with
``binder/jupyter_server_config.py`` and jupyter-server-proxy, under a base URL like Binder's. A browser-like
client that may only talk to the Jupyter origin (every request it makes is checked) signs in through the popup's
URL, gets a token as JupyterLab does, and calls the demo API as the Archive Browser does; the kernel's path (a
server token, the API on 127.0.0.1) works too, and no token reaches any log.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from browser_session import browser_login, xsrf_headers
from demo_idp import sign_in
from jupyter_process import BROKER_BUNDLE, PACKAGE_DIR, REPO_DIR, JupyterServer, free_ports, wait_until
from kernel_session import run_in_kernel

BINDER_DIR = REPO_DIR / "binder"
BASE_URL = "/user/ada-binder-1x2y3z/"


class BinderStack:
    """``binder/start jupyter server …`` in a process group of its own, with a home of its own."""

    def __init__(self, tmp: Path) -> None:
        self.jupyter_port, self.idp_port, self.api_port = free_ports(3)
        self.token = secrets.token_hex(24)
        self.home = tmp / "home"
        (self.home / ".jupyter").mkdir(parents=True)
        # What binder/postBuild does.
        shutil.copy(BINDER_DIR / "jupyter_server_config.py", self.home / ".jupyter" / "jupyter_server_config.py")
        xdg = tmp / "xdg"
        xdg.mkdir(mode=0o700)
        root = tmp / "root"
        root.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "XDG_", "DEMO_", "PYTHONPATH"))}
        env.update(
            HOME=str(self.home),
            JUPYTER_CONFIG_DIR=str(self.home / ".jupyter"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            JUPYTER_DATA_DIR=str(tmp / "data"),
            XDG_RUNTIME_DIR=str(xdg),
            PYTHONPATH=str(PACKAGE_DIR),
            DEMO_IDP_PORT=str(self.idp_port),
            DEMO_API_PORT=str(self.api_port),
        )
        self.log_file = tmp / "server.log"
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(BINDER_DIR / "start"),
                    sys.executable,
                    "-m",
                    "jupyter_server",
                    "--ServerApp.ip=127.0.0.1",
                    f"--ServerApp.port={self.jupyter_port}",
                    "--ServerApp.port_retries=0",
                    f"--ServerApp.base_url={BASE_URL}",
                    f"--ServerApp.root_dir={root}",
                    "--ServerApp.open_browser=False",
                    "--ServerApp.allow_root=True",
                    f"--IdentityProvider.token={self.token}",
                    f"--TokenBroker.broker_script={BROKER_BUNDLE}",
                    "--ServerApp.log_level=DEBUG",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(tmp),
                start_new_session=True,
            )
        self.server = JupyterServer(
            url=f"http://127.0.0.1:{self.jupyter_port}{BASE_URL}",
            token=self.token,
            process=self.process,
            log_file=self.log_file,
            runtime_dir=tmp / "runtime",
            xdg_runtime_dir=xdg,
        )

    def wait_ready(self) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"binder/start exited:\n{self.log_text()[-4000:]}")
            return any((self.server.runtime_dir).glob("jpserver-*.json"))

        wait_until(up, 90, what="binder/start's jupyter server")
        # Its broker starts at the first request that needs it, as at a page load.
        with self.server.token_client() as client:
            client.get(self.server.api("providers"), timeout=60)
        wait_until(lambda: "ready (version" in self.log_text(), 60, what="its broker")

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    def demo_logs(self) -> str:
        """The IdP's and the API's logs (``~/.demo-logs``)."""
        return "".join(path.read_text(errors="replace") for path in sorted((self.home / ".demo-logs").glob("*.log")))

    def stop(self) -> None:
        """Ends the whole group: the server (binder/start exec'd into it), its broker, the IdP and the API."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

        def group_gone() -> bool:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            return False

        try:
            wait_until(group_gone, 10, what="the demo IdP and API to stop")
        except TimeoutError:
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BinderStack]:
    stack = BinderStack(tmp_path_factory.mktemp("binder"))
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


class JupyterOriginOnly:
    """An httpx event hook that records every request and refuses any that leaves the Jupyter origin."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.urls: list[str] = []

    def __call__(self, request: httpx.Request) -> None:
        url = str(request.url)
        self.urls.append(url)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            raise AssertionError(f"the browser left the Jupyter origin {self.origin}: {url}")


@pytest.fixture(scope="module")
def browser(binder: BinderStack) -> Iterator[tuple[httpx.Client, JupyterOriginOnly]]:
    client = browser_login(binder.server)
    guard = JupyterOriginOnly(f"http://127.0.0.1:{binder.jupyter_port}")
    client.event_hooks["request"].append(guard)
    yield client, guard
    client.close()


def test_the_demo_story_runs_through_the_jupyter_origin_alone(
    binder: BinderStack, browser: tuple[httpx.Client, JupyterOriginOnly]
) -> None:
    client, guard = browser
    server = binder.server

    # The popup: the IdP's sign-in form and its redirects all under this server's proxy, then the callback.
    started = client.post(server.api("providers/demo/login"), json={}, headers=xsrf_headers(client))
    assert started.status_code == 200, started.text
    assert started.json()["authorization_url"].startswith(f"{server.url}proxy/absolute/{binder.idp_port}/auth?")
    client.delete(server.api("providers/demo/grant"), headers=xsrf_headers(client))
    signed = sign_in(client, server, "demo", "alice", "demo")
    assert signed.callback.status_code == 200, signed.callback.text
    idp_pages = [url for url in guard.urls if "/proxy/absolute/" in url]
    assert any("/interaction/" in url for url in idp_pages), guard.urls
    providers = client.get(server.api("providers")).json()["providers"]
    assert [(p["id"], p["signed_in"], p["account"]) for p in providers] == [("demo", True, "alice")]

    # The Archive Browser: a token from JupyterLab's broker API, then the demo API through the proxy.
    token = client.post(
        server.api("providers/demo/token"), json={"scopes": ["demo:read"]}, headers=xsrf_headers(client)
    ).json()["access_token"]
    items = client.get(f"{server.url}proxy/{binder.api_port}/items", headers={"Authorization": f"Bearer {token}"})
    assert items.status_code == 200, items.text
    assert len(items.json()["items"]) > 0
    refused = client.get(f"{server.url}proxy/{binder.api_port}/items")
    assert refused.status_code == 401

    # A notebook: the kernel holds the server's token and calls the API on 127.0.0.1 directly, where the server's
    # environment (which kernels inherit) says it is.
    environ = dict(
        entry.split("=", 1) for entry in Path(f"/proc/{binder.process.pid}/environ").read_text().split("\0") if entry
    )
    assert environ["DEMO_API_URL"] == f"http://127.0.0.1:{binder.api_port}"
    with server.token_client() as kernel:
        kernel_token = kernel.post(server.api("providers/demo/token"), json={}).json()["access_token"]
    whoami = httpx.get(
        f"http://127.0.0.1:{binder.api_port}/whoami",
        headers={"Authorization": f"Bearer {kernel_token}"},
        trust_env=False,
    )
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["preferred_username"] == "alice"

    logs = binder.log_text() + binder.demo_logs()
    for secret in (token, kernel_token, signed.authorization_code):
        assert secret not in logs


def test_the_archive_browser_is_pointed_at_the_api_through_the_proxy(
    browser: tuple[httpx.Client, JupyterOriginOnly], binder: BinderStack
) -> None:
    client, _ = browser
    settings = client.get(f"{binder.server.url}lab/api/settings/@jupyter-token-broker/archive-browser:plugin")
    if settings.status_code == 404:
        pytest.skip("the Archive Browser extension is not installed in this environment")
    assert settings.status_code == 200, settings.text
    # overrides.json sets the schema's defaults.
    assert settings.json()["schema"]["properties"]["apiUrl"]["default"] == f"proxy/{binder.api_port}"


def test_the_proxied_idp_sends_codes_only_to_the_jupyter_server_it_was_reached_through(
    binder: BinderStack, browser: tuple[httpx.Client, JupyterOriginOnly]
) -> None:
    client, _ = browser
    query = {
        "client_id": "jupyter-demo",
        "response_type": "code",
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "s",
    }
    authorize = f"{binder.server.url}proxy/absolute/{binder.idp_port}/auth"
    for foreign in (
        "https://attacker.example/token-broker/api/v1/callback",
        f"http://127.0.0.1:{binder.jupyter_port}/user/someone-else/token-broker/api/v1/callback",
    ):
        refused = client.get(f"{authorize}?{urlencode({**query, 'redirect_uri': foreign})}")
        assert refused.status_code == 400, refused.headers
        assert "redirect_uri did not match" in refused.text
        assert "Location" not in refused.headers

    own = f"{binder.server.url}token-broker/api/v1/callback"
    # prompt=login: the sign-in form even if alice is still signed in to the IdP from another test.
    accepted = client.get(f"{authorize}?{urlencode({**query, 'redirect_uri': own, 'prompt': 'login'})}")
    assert accepted.status_code == 303
    assert accepted.headers["Location"].startswith(f"{BASE_URL}proxy/absolute/{binder.idp_port}/interaction/")


def test_the_demo_notebook_runs_as_is_in_a_kernel_including_its_egress_cell(
    binder: BinderStack, browser: tuple[httpx.Client, JupyterOriginOnly]
) -> None:
    client, _ = browser
    server = binder.server
    providers = client.get(server.api("providers")).json()["providers"]
    if not providers[0]["signed_in"]:
        assert sign_in(client, server, "demo", "alice", "demo").callback.status_code == 200
    notebook = json.loads((BINDER_DIR / "demo.ipynb").read_text())
    cells = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert any("broker_session(" in cell for cell in cells), "the demo shows the egress"
    # Every code cell as it is, in order, in a kernel of this server; then what the egress cell's last
    # expression shows in the notebook, printed.
    output = run_in_kernel(
        server,
        "\n".join(cells) + '\nprint("egress:", type(demo).__name__, demo.get(f"{API}/items").json())\n',
        timeout=120,
    )
    assert "Error" not in output, output
    assert "'preferred_username': 'alice'" in output, output
    egress_line = next(line for line in output.splitlines() if line.startswith("egress:"))
    assert egress_line.startswith("egress: BrokerSession {'items': ["), egress_line
    # The egress call reached the API with the broker's token: the broker's audit trail has it, as the kernel's.
    with server.token_client() as owner:
        events = owner.get(server.api("events"), params={"limit": 1000, "provider": "demo"})
    assert events.status_code == 200, events.text
    egress = [e for e in events.json()["events"] if e["type"] == "egress" and e["client"] == "kernel"]
    assert any(e["status"] == 200 and e["path"] == "/items" for e in egress), egress
