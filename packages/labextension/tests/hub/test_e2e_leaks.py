"""No IdP token, client secret or authorization code leaves the hub by a log, an environment or a hub route.

One user logs in through the IdP's form, starts a server, and a kernel gets tokens twice, the second time forcing a
refresh at the IdP (a rotated refresh token). Then every secret the stack ever held is looked for:
- in every log: the IdP's, the demo API's, the hub's (which also holds configurable-http-proxy's output, the user
  server's and its broker's, as SimpleLocalProcessSpawner passes its output through), and every file the user
  server and its broker wrote in the user's home (audit trail included);
- in ``/proc/<pid>/environ`` of every process the stack started (hub, proxy, user server, broker, kernels);
- in the answers of the hub's routes to the user server's own token (``JUPYTERHUB_API_TOKEN``).

JupyterHub's own tokens in environments are its design, not ours, and are listed here: ``JUPYTERHUB_API_TOKEN``
(and its old alias ``JPY_API_TOKEN``) in the user server and its kernels, ``CONFIGPROXY_AUTH_TOKEN`` in the proxy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from e2e_stack import E2E_TOKEN_TTL, E2eStack, LoggedIn, descendants, environ, run_in_user_kernel

TOKEN_TTL = E2E_TOKEN_TTL
#: Environment variables of JupyterHub's own design that hold a secret (the hub's tokens, never the IdP's).
HUB_DESIGN_SECRETS = {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "CONFIGPROXY_AUTH_TOKEN"}
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|CRYPT|KEY", re.IGNORECASE)
#: Names that look secret and are not: what configure(c) tells user servers (JSON: version, provider id, title).
NOT_SECRET = {"JUPYTER_TOKEN_BROKER_HUB"}

KERNEL_CODE = """
import json, time
from jupyter_token_broker import get_token
first = get_token("hub", min_ttl=5)
time.sleep(2)
# More than is left of a token at least 2 s old: the hub refreshes at the IdP (the refresh token rotates).
second = get_token("hub", min_ttl={min_ttl})
print(json.dumps({{"tokens": [first, second]}}))
"""


@pytest.fixture(scope="module")
def secrets_seen(e2e: E2eStack, alice: LoggedIn) -> dict[str, set[str]]:
    """alice (logged in, server running) gets two tokens in a kernel, one after a refresh; every secret seen."""
    states = [e2e.hub.auth_state("alice")]
    refreshes = e2e.idp.refresh_count()
    output = run_in_user_kernel(alice.server, KERNEL_CODE.format(min_ttl=TOKEN_TTL - 1))
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    kernel_tokens = json.loads(lines[-1])["tokens"]
    states.append(e2e.hub.auth_state("alice"))
    assert all(states), "auth_state (read with the test's admin:auth_state service token)"
    assert e2e.idp.refresh_count() > refreshes, "the second token came from a refresh at the IdP"
    seen: dict[str, set[str]] = {
        "access token": set(kernel_tokens),
        "refresh token": set(),
        "id token": set(),
        "client secret": {e2e.idp.client_secret_file.read_text().strip()},
        "authorization code": set(e2e.hub.authorization_codes),
    }
    for state in states:
        seen["access token"].add(state["access_token"])
        seen["refresh token"].add(state["refresh_token"])
        seen["id token"].add(state["id_token"])
    assert seen["authorization code"], "the login's authorization code (hub_stack.login records it)"
    assert len(seen["refresh token"]) >= 2, "the refresh token rotated"
    return seen


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def leaks(text: str, seen: dict[str, set[str]]) -> list[str]:
    return [kind for kind, values in seen.items() for value in values if value and value in text]


def test_no_log_holds_an_idp_token_the_client_secret_or_a_code(
    e2e: E2eStack, secrets_seen: dict[str, set[str]]
) -> None:
    found = {name: leaks(text, secrets_seen) for name, text in e2e.logs().items()}
    # Whatever the user server and its broker wrote in the user's home: Jupyter's runtime files, the broker's
    # audit trail and logs. The broker's 0600 config file holds the hub API token, which is not the IdP's.
    home = e2e.workdir / "home"
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(home))] = leaks(path.read_text(errors="replace"), secrets_seen)
    assert {name: kinds for name, kinds in found.items() if kinds} == {}


def test_no_process_environment_holds_an_idp_secret(
    e2e: E2eStack, alice: LoggedIn, secrets_seen: dict[str, set[str]]
) -> None:
    # The broker starts on first use and may stop when idle: a request that needs it makes sure it runs now.
    with alice.server.token_client() as client:
        assert client.get(alice.server.api("events")).status_code == 200
    # The hub's children: the proxy and the user servers (SimpleLocalProcessSpawner), with their brokers and kernels.
    # Other hubs on this machine (other test runs) have users named alice too: only this stack's processes count.
    pids = descendants(e2e.hub.process.pid, e2e.idp.process.pid, e2e.api.process.pid)
    commands = {pid: cmdline(pid) for pid in pids}
    assert any("configurable-http-proxy" in c for c in commands.values()), commands
    assert any("jupyterhub-singleuser" in c for c in commands.values()), commands
    # The broker itself (`token-broker.mjs serve`), not the short config check the server runs when it starts.
    assert any("token-broker.mjs serve" in c for c in commands.values()), "the user server's broker is running"

    leaked: dict[str, list[str]] = {}
    secret_names: dict[str, set[str]] = {}
    for pid, command in commands.items():
        env = environ(pid)
        label = f"{pid} {command[:80]}"
        kinds = leaks("\n".join(f"{k}={v}" for k, v in env.items()), secrets_seen)
        if kinds:
            leaked[label] = kinds
        names = {name for name in env if SECRET_NAME.search(name) and name not in NOT_SECRET}
        if names:
            secret_names[label] = names
        if "token-broker.mjs" in command:
            assert "JUPYTERHUB_API_TOKEN" not in env, "the broker gets the hub API token in its 0600 config file"
            assert "JPY_API_TOKEN" not in env
    assert leaked == {}
    # Only JupyterHub's own secrets are in environments: listed, as the hub's design.
    assert set().union(*secret_names.values()) <= HUB_DESIGN_SECRETS, secret_names


def test_the_servers_token_gets_no_refresh_or_id_token_from_any_hub_route(
    e2e: E2eStack, secrets_seen: dict[str, set[str]]
) -> None:
    server_pid = next(
        pid
        for pid in descendants(e2e.hub.process.pid)
        if environ(pid).get("JUPYTERHUB_USER") == "alice" and "jupyterhub-singleuser" in cmdline(pid)
    )
    server_token = environ(server_pid)["JUPYTERHUB_API_TOKEN"]
    forbidden = {kind: secrets_seen[kind] for kind in ("refresh token", "id token", "client secret")}
    api = e2e.hub.api
    routes = [
        "",
        "user",
        "users/alice",
        "users/alice?include_stopped_servers",
        "users/alice/tokens",
        "users/alice/shared",
        "shares/alice",
        "users",
        "groups",
        "token-broker/v1/users/alice/token",
        "token-broker/v1/users/alice/token?min_ttl=5",
        "token-broker/v1/users/bob/token",
        "oauth2/token",
    ]
    answers = {}
    with httpx.Client(headers={"Authorization": f"token {server_token}"}, timeout=30) as client:
        for route in routes:
            answer = client.get(f"{api}{route}")
            answers[route] = answer.status_code
            assert not leaks(answer.text + json.dumps(dict(answer.headers)), forbidden), route
    assert answers["token-broker/v1/users/alice/token?min_ttl=5"] == 200
    assert answers["token-broker/v1/users/bob/token"] in (403, 404), "another user's tokens"
    # The hub's own user model never carries auth_state to the server's token.
    with httpx.Client(headers={"Authorization": f"token {server_token}"}, timeout=30) as client:
        model = client.get(f"{api}users/alice").json()
    assert model.get("auth_state") is None
