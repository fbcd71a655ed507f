"""The README's notebook snippet works whatever the access-token lifetime (issue 11, defect 6).

With 30 s tokens the README's own ``get_token('demo')`` failed: the kernel helper asked ``min_ttl=60`` by default,
longer than the tokens live. Here the demo IdP issues 10 s, 30 s and 300 s tokens, a real Jupyter server runs the
extension, and a real kernel runs the snippet exactly as the README prints it, against the demo API.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from browser_session import browser_login
from demo_idp import DemoIdp, sign_in, start_idp
from jupyter_process import REPO_DIR, JupyterServer, free_ports, start_server
from kernel_session import run_in_kernel

API_SCRIPT = REPO_DIR / "packages" / "demo" / "api.mjs"


def readme_snippet() -> str:
    """The notebook cell of the README's demo story (the Python block that uses ``BrokerAuth("demo")``)."""
    readme = (REPO_DIR / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    (snippet,) = [block for block in blocks if 'BrokerAuth("demo")' in block and "get_token('demo')" in block]
    # The README indents the block under a list item.
    return "\n".join(line[3:] if line.startswith("   ") else line for line in snippet.splitlines())


@dataclass
class Stack:
    """A demo IdP issuing ``ttl``-second access tokens, the demo API, and a signed-in Jupyter server."""

    ttl: int
    idp: DemoIdp
    api: subprocess.Popen[bytes]
    server: JupyterServer


def start_api(port: int, issuer: str, jupyter_port: int) -> subprocess.Popen[bytes]:
    argv = ["node", str(API_SCRIPT), "--port", str(port), "--issuer", issuer, "--jupyter-port", str(jupyter_port)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(API_SCRIPT.parent))
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line or not json.loads(line).get("ready"):
        process.kill()
        raise RuntimeError(f"demo API did not start: {line!r}")
    return process


@pytest.fixture(params=[10, 30, 300], ids=lambda ttl: f"{ttl}s-tokens", scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A demo IdP issuing ``request.param``-second access tokens, the demo API, and a Jupyter server using both."""
    ttl = request.param
    idp_port, api_port, jupyter_port = free_ports(3)
    idp = start_idp(idp_port, [jupyter_port], api_port=api_port, access_token_ttl=ttl)
    api = start_api(api_port, idp.issuer, jupyter_port)
    providers = [
        {
            "id": "demo",
            "title": "Demo IdP",
            "kind": "oidc",
            "issuer": idp.issuer,
            "client_id": "jupyter-demo",
            "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
        }
    ]
    server = None
    try:
        server = start_server(
            tmp_path_factory.mktemp(f"ttl{ttl}"),
            jupyter_port,
            providers,
            env_extra={"DEMO_API_URL": idp.api_url},
        )
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        yield Stack(ttl=ttl, idp=idp, api=api, server=server)
    finally:
        if server is not None:
            server.stop()
        api.terminate()
        api.wait(10)
        idp.stop()


def refreshes(server: JupyterServer) -> int:
    """Refreshes the broker made at the IdP, from its audit trail."""
    with server.token_client() as client:
        answer = client.get(server.api("events"), params={"limit": 1000, "provider": "demo"})
    assert answer.status_code == 200, answer.text
    return sum(1 for event in answer.json()["events"] if (event["type"], event["outcome"]) == ("refresh", "ok"))


def test_readme_snippet_runs_in_a_kernel(stack: Stack) -> None:
    snippet = readme_snippet()
    first = run_in_kernel(stack.server, snippet)
    assert "'preferred_username': 'alice'" in first, first
    assert "Error" not in first, first
    assert "'items'" in first or "items" in first, first

    # Past half the token's life the default needs a new token: the snippet goes on working, and the token
    # was refreshed (not refused as shorter than a default min_ttl).
    if stack.ttl <= 30:
        before = refreshes(stack.server)
        time.sleep(stack.ttl / 2 + 1)
        again = run_in_kernel(stack.server, snippet)
        assert "'preferred_username': 'alice'" in again, again
        assert "Error" not in again, again
        assert refreshes(stack.server) > before


def test_an_explicit_min_ttl_longer_than_the_tokens_live_is_still_refused(stack: Stack) -> None:
    lifetime = stack.ttl
    code = f"""
from jupyter_token_broker import TokenBrokerError, get_token
try:
    get_token("demo", min_ttl={lifetime + 1})
    print("SERVED")
except TokenBrokerError as err:
    print("REFUSED", err.code, err.status)
    print(err)
"""
    output = run_in_kernel(stack.server, code)
    assert "REFUSED invalid_request 400" in output, output
    assert f"min_ttl {lifetime + 1} is longer than the identity provider's token lifetime" in output, output
