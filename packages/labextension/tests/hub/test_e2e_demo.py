"""``make demo`` as a person runs it: ``packages/demo/start-hub-demo.mjs`` on free ports, one login at the hub,
then the demo notebook (``packages/demo/hub/hub-demo.ipynb``) run as is in a kernel of the user's server.

The launcher prints the hub URL and the users, writes only into its state directory, keeps the client secret out of
every log, and on SIGTERM stops everything it started (the hub, the proxy, the user's server, its broker and
kernels, the API and the IdP).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from e2e_stack import UserServer, run_in_user_kernel
from hub_stack import REPO_DIR, free_port, login, wait_until

LAUNCHER = REPO_DIR / "packages" / "demo" / "start-hub-demo.mjs"
NOTEBOOK = REPO_DIR / "packages" / "demo" / "hub" / "hub-demo.ipynb"


def processes_of(state_dir: Path) -> list[str]:
    """Live processes started for this demo: they carry its state directory in their environment or arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(state_dir).encode() in environ + cmdline:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name} {command[:120]}")
    return found


def xsrf_header(browser: httpx.Client, path: str) -> dict[str, str]:
    """The hub's XSRF header for a cookie-authenticated POST (the hub's own ``_xsrf`` cookie, of path /hub/)."""
    cookie = next(c for c in browser.cookies.jar if c.name == "_xsrf" and c.path.startswith(path))
    return {"X-XSRFToken": cookie.value}


@pytest.fixture
def demo(tmp_path: Path):
    ports = {"idp": free_port(), "api": free_port(), "hub": free_port()}
    state_dir = tmp_path / "hub-demo"
    log_path = tmp_path / "demo.log"
    out_path = tmp_path / "launcher.out"
    argv = ["node", str(LAUNCHER), "--idp-port", str(ports["idp"]), "--api-port", str(ports["api"])]
    argv += ["--hub-port", str(ports["hub"]), "--state-dir", str(state_dir), "--log-file", str(log_path)]
    env = {**os.environ, "DEMO_VENV": str(REPO_DIR / ".venv")}
    with out_path.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO_DIR))
    try:
        wait_until(
            lambda: process.poll() is not None or "JupyterHub at" in out_path.read_text(),
            150,
            "the hub demo to say it is up",
            interval=0.5,
        )
        assert process.poll() is None, out_path.read_text() + log_path.read_text()
        yield SimpleNamespace(process=process, ports=ports, state_dir=state_dir, log_path=log_path, out_path=out_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def test_make_demo_one_hub_login_then_the_demo_notebook_gets_tokens(demo) -> None:
    said = demo.out_path.read_text()
    hub_url = f"http://127.0.0.1:{demo.ports['hub']}/"
    assert f"JupyterHub at {hub_url}" in said
    assert "alice / demo" in said
    assert "bob / demo" in said

    hub = SimpleNamespace(url=hub_url, clients=[], authorization_codes=[])
    browser = login(hub, "alice")
    try:
        spawn = browser.get(f"{hub_url}hub/spawn", follow_redirects=True)
        assert spawn.status_code == 200, spawn.text[:500]

        def ready() -> bool:
            model = browser.get(f"{hub_url}hub/api/user").json()
            return bool(model.get("servers", {}).get("", {}).get("ready"))

        wait_until(ready, 90, "alice's server", interval=1)
        made = browser.post(
            f"{hub_url}hub/api/users/alice/tokens",
            json={"scopes": ["access:servers!user=alice"], "note": "test"},
            headers=xsrf_header(browser, "/hub"),
        )
        assert made.status_code == 201, made.text
        server = UserServer(
            url=f"{hub_url}user/alice/", token=made.json()["token"], home=demo.state_dir / "home" / "alice"
        )

        # The notebook the demo puts in alice's home, run as it is.
        notebook = json.loads((demo.state_dir / "home" / "alice" / "hub-demo.ipynb").read_text())
        assert notebook == json.loads(NOTEBOOK.read_text())
        code = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
        output = run_in_user_kernel(server, code, timeout=180)
        assert "200 {" in output, output
        assert "'preferred_username': 'alice'" in output, output
        assert "'items': [" in output, output
        # The egress cell: the hub login's token added by alice's broker on the way to the demo API, which accepts it.
        egress_line = next((line for line in output.splitlines() if line.startswith("egress ")), "")
        assert egress_line.startswith("egress 200 {"), output
        assert "'preferred_username': 'alice'" in egress_line, output

        with server.token_client() as client:
            providers = client.get(server.api("providers")).json()["providers"]
        hub_provider = next(p for p in providers if p["id"] == "hub")
        assert hub_provider["signed_in"] is True
        assert hub_provider["title"] == "Demo IdP (hub login)"
        assert hub_provider["egress"] == [f"http://127.0.0.1:{demo.ports['api']}/"]
        assert hub_provider["expose_token"] is True
    finally:
        for client in hub.clients:
            client.close()

    secret = (demo.state_dir / "hub-client-secret").read_text().strip()
    assert oct((demo.state_dir / "hub-client-secret").stat().st_mode & 0o777) == "0o600"
    assert secret not in demo.log_path.read_text()
    assert secret not in demo.out_path.read_text()

    # The broker starts on first use (the notebook's): it runs now, so its stop below is checked, not assumed.
    started = processes_of(demo.state_dir)
    assert any("token-broker.mjs serve" in p for p in started), started
    demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(60) == 0
    deadline = time.monotonic() + 20
    while processes_of(demo.state_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of(demo.state_dir) == [], "everything the demo started has stopped"
