"""A real ``jupyter server`` subprocess with the token broker extension, for the tests."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = PACKAGE_DIR.parents[1]
BROKER_BUNDLE = REPO_DIR / "packages" / "broker" / "dist" / "token-broker.mjs"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
API = "token-broker/api/v1/"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports nobody listens on, from the OS (port 0): never a fixed port another suite or a
    running ``make demo`` (9400, 9401, 8888) could hold. They are released before the caller listens there."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class JupyterServer:
    """One running server: its URL (with base URL, ending in ``/``), token, process and log file."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log_file: Path
    runtime_dir: Path
    xdg_runtime_dir: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def api(self, path: str = "") -> str:
        """The absolute URL of ``token-broker/api/v1/{path}``."""
        return f"{self.url}{API}{path}"

    def token_client(self, token: str | None = None) -> httpx.Client:
        """A client authenticated like a kernel or script: ``Authorization: token …``."""
        return httpx.Client(headers={"Authorization": f"token {token or self.token}"}, timeout=30, trust_env=False)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    def broker_pids(self) -> list[int]:
        """The broker processes this server started (children running the bundle)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
            if ppid == self.pid and any(arg.endswith(b"token-broker.mjs") for arg in cmdline):
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Polls ``predicate`` until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def start_server(
    tmp: Path,
    port: int,
    providers: list[dict],
    *,
    env_extra: dict[str, str] | None = None,
    config_extra: str = "",
    token: str | None = None,
    wait_for_broker: bool = True,
    owner_token: str | None = None,
) -> JupyterServer:
    """Starts ``python -m jupyter_server`` on 127.0.0.1:``port``; with ``wait_for_broker``, also starts its broker
    (which starts on first use) with a provider list request of the owner (``owner_token``, default: the server's
    token) and waits until it is ready."""
    if not BROKER_BUNDLE.is_file():
        raise RuntimeError(f"{BROKER_BUNDLE} is missing: npm run build -w @jupyter-token-broker/broker")
    token = token or secrets.token_hex(24)
    runtime_dir = tmp / "runtime"
    xdg = tmp / "xdg"
    root = tmp / "root"
    for directory in (runtime_dir, xdg, root, tmp / "config", tmp / "data"):
        directory.mkdir(parents=True, exist_ok=True)
    xdg.chmod(0o700)
    config = tmp / "jupyter_server_config.py"
    config.write_text(
        f"""
c = get_config()  # noqa: F821
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = {port}
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True
c.ServerApp.root_dir = {str(root)!r}
c.IdentityProvider.token = {token!r}
c.ServerApp.jpserver_extensions = {{"jupyter_token_broker": True}}
c.TokenBroker.providers = {providers!r}
c.TokenBroker.broker_script = {str(BROKER_BUNDLE)!r}
c.TokenBroker.startup_timeout = 30
{config_extra}
"""
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JUPYTER", "JUPYTERHUB_", "XDG_", "PYTHONPATH"))
    }
    env.update(
        JUPYTER_RUNTIME_DIR=str(runtime_dir),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        XDG_RUNTIME_DIR=str(xdg),
        PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR), str(FIXTURES_DIR)]),
    )
    env.update(env_extra or {})
    log_file = tmp / "server.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--config", str(config), "--ServerApp.log_level=DEBUG"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(tmp),
        )
    server = JupyterServer(
        url=f"http://127.0.0.1:{port}/",
        token=token,
        process=process,
        log_file=log_file,
        runtime_dir=runtime_dir,
        xdg_runtime_dir=xdg,
        extra=env_extra or {},
    )

    def server_ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{server.log_text()[-4000:]}")
        return (runtime_dir / f"jpserver-{process.pid}.json").exists()

    try:
        wait_until(server_ready, 60, what="the jupyter server")
        if wait_for_broker:
            # The broker starts at the first request that needs it: the provider list, as a page load asks it.
            with server.token_client(owner_token) as client:
                first = client.get(server.api("providers"), timeout=60)
            what = f"its broker (the first request got {first.status_code} {first.text[:300]})"
            wait_until(lambda: "ready (version" in server.log_text(), 60, what=what)
    except Exception as err:
        server.stop()
        raise RuntimeError(f"{err}; server log:\n{server.log_text()[-3000:]}") from err
    return server


def runtime_info(server: JupyterServer) -> dict:
    """The server's own ``jpserver-<pid>.json``."""
    return json.loads((server.runtime_dir / f"jpserver-{server.pid}.json").read_text())
