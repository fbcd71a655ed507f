"""Leave when idle, under a real JupyterHub: a user server's broker stopped for idleness loses nothing (the hub login,
a grant in the file store), is not started again by the provider list the status bar polls, and an admin's
revocation still reaches it.

A real JupyterHub running the docs' fragment, the demo IdP and the demo API (a resource server checking the IdP's
JWTs). alice's server (her ``~/.jupyter``) has the hub login as provider ``hub``, the demo IdP's public client as
provider ``demo`` in the broker's encrypted file store, and ``c.TokenBroker.idle_exit_seconds`` = 2: its broker starts
at the first request that needs it and stops after 2 s without one (``jupyter_token_broker.supervisor``). Whether a
broker runs is read from /proc (a ``token-broker.mjs serve`` process under alice's server), whether it stopped for
idleness from the server's log line (in the hub's log: SimpleLocalProcessSpawner passes its output through).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_admin_api import ADMIN_SERVICES, admin_api, service
from test_orders_stopped_server import FILE_STORE, sign_in_to_demo

from e2e_stack import (
    ALICE_SERVER_CONFIG,
    E2E_HUB_SETTINGS,
    E2eStack,
    UserServer,
    descendants,
    e2e_stack,
    environ,
    user_server,
)
from hub_stack import Hub, login, wait_until

#: alice's servers' idle time: short, so that a test sees several idle stops.
IDLE_EXIT_SECONDS = 2
#: The server's log line of an idle stop (``BrokerSupervisor``).
IDLE_STOP_LINE = "token-broker: stopped after"
#: How long and how often the provider list is read while the broker is stopped (the status bar reads it every minute).
LIST_POLL_SECONDS = 4.0
LIST_POLL_INTERVAL = 0.5


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2eStack]:
    with e2e_stack(
        tmp_path_factory.mktemp("idle-exit"), access_token_ttl=90, extra_config=E2E_HUB_SETTINGS + ADMIN_SERVICES
    ) as running:
        config_dir = running.workdir / "home" / "alice" / ".jupyter"
        config_dir.mkdir(parents=True)
        (config_dir / "jupyter_server_config.py").write_text(
            ALICE_SERVER_CONFIG.format(issuer=running.idp.issuer)
            + FILE_STORE
            + f"c.TokenBroker.idle_exit_seconds = {IDLE_EXIT_SECONDS}\n"
        )
        yield running


@pytest.fixture(scope="module")
def alice(stack: E2eStack) -> tuple[httpx.Client, UserServer]:
    """alice logged in through the IdP's form (her browser), her default server running (a token it accepts)."""
    browser = login(stack.hub, "alice")
    stack.hub.start_server("alice")
    return browser, user_server(stack.hub, "alice")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def brokers(hub: Hub, name: str = "alice") -> list[int]:
    """The broker processes under ``name``'s running default server (not its short config check)."""
    servers = [
        pid
        for pid in descendants(hub.process.pid)
        if "jupyterhub-singleuser" in cmdline(pid) and environ(pid).get("JUPYTERHUB_USER") == name
    ]
    assert len(servers) == 1, f"{name}'s one running server: {servers}"
    return [pid for pid in descendants(servers[0]) if "token-broker.mjs serve" in cmdline(pid)]


def idle_stops(hub: Hub) -> int:
    return hub.log_text().count(IDLE_STOP_LINE)


def wait_for_idle_stop(hub: Hub, stops_before: int) -> None:
    """Waits until the server says its broker stopped for idleness once more and the process is gone."""
    wait_until(
        lambda: idle_stops(hub) > stops_before and not brokers(hub),
        IDLE_EXIT_SECONDS + 20,
        "alice's broker stopped for idleness",
        interval=0.2,
    )


def token(server: UserServer, provider: str) -> httpx.Response:
    """A token request as a notebook makes it (``get_token``): the server's route, with a token alice owns."""
    with server.token_client() as client:
        return client.post(server.api(f"providers/{provider}/token"), json={})


def providers(server: UserServer) -> list[dict]:
    """The provider list as the panel reads it, without the cached token's expiry (a stopped broker has no cache)."""
    with server.token_client() as client:
        answer = client.get(server.api("providers"))
    assert answer.status_code == 200, answer.text
    return [{key: value for key, value in p.items() if key != "expires_at"} for p in answer.json()["providers"]]


def whoami(stack: E2eStack, access_token: str) -> dict:
    """What the demo API (a resource server checking the IdP's signature and expiry) says of a token."""
    answer = httpx.get(f"{stack.api.url}/whoami", headers={"Authorization": f"Bearer {access_token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_hub_login_gives_tokens_again_after_an_idle_exit(stack: E2eStack, alice) -> None:
    hub, idp = stack.hub, stack.idp
    _, server = alice
    authorizations = len(idp.events("authorization.success"))

    first = token(server, "hub")
    assert first.status_code == 200, first.text
    assert first.json()["access_token"] == hub.auth_state("alice")["access_token"], "the hub login's token"
    assert brokers(hub), "a token request starts the broker"
    stops = idle_stops(hub)

    # Nothing asked for 2 s: the hub provider keeps nothing in the broker, so it stops.
    wait_for_idle_stop(hub, stops)

    second = token(server, "hub")
    assert second.status_code == 200, second.text
    identity = whoami(stack, second.json()["access_token"])
    assert (identity["preferred_username"], identity["client_id"]) == ("alice", "jupyterhub"), identity
    assert second.json()["access_token"] == hub.auth_state("alice")["access_token"], "the same hub login's token"
    assert len(idp.events("authorization.success")) == authorizations, "no new login at the IdP"
    assert brokers(hub), "the token request started the broker again"


def test_the_provider_list_read_while_stopped_does_not_start_the_broker(stack: E2eStack, alice) -> None:
    hub = stack.hub
    _, server = alice
    assert token(server, "hub").status_code == 200
    stops = idle_stops(hub)
    running_list = providers(server)  # the running broker's own list, as a page load reads it
    assert brokers(hub), "the broker is running"
    wait_for_idle_stop(hub, stops)

    # Every 0.5 s for at least 4 s (twice the idle time: a broker started by a read could not have stopped again).
    for read in range(1, round(LIST_POLL_SECONDS / LIST_POLL_INTERVAL) + 1):
        assert providers(server) == running_list
        assert brokers(hub) == [], f"read {read} of the provider list started the broker"
        time.sleep(LIST_POLL_INTERVAL)
    assert idle_stops(hub) == stops + 1, "no start, so no second idle stop"
    hub_provider = next(p for p in running_list if p["id"] == "hub")
    assert (hub_provider["kind"], hub_provider["signed_in"], hub_provider["account"]) == ("hub", True, "alice")


def signed_in_to_demo(stack: E2eStack, alice) -> None:
    """alice has signed in to provider ``demo`` from her server (its grant is in the file store)."""
    browser, server = alice
    if not next(p for p in providers(server) if p["id"] == "demo")["signed_in"]:
        sign_in_to_demo(stack.hub, browser, server.token)
    demo = next(p for p in providers(server) if p["id"] == "demo")
    assert (demo["signed_in"], demo["account"]) == (True, "alice")


def test_a_file_store_grant_gives_tokens_again_after_an_idle_exit(stack: E2eStack, alice) -> None:
    hub, idp = stack.hub, stack.idp
    _, server = alice
    signed_in_to_demo(stack, alice)
    assert token(server, "demo").status_code == 200
    authorizations = len(idp.events("authorization.success"))
    # The demo grant is in the file store: stopping loses nothing, so the broker stops with it on disk.
    wait_for_idle_stop(hub, idle_stops(hub))

    again = token(server, "demo")
    assert again.status_code == 200, again.json().get("error")
    identity = whoami(stack, again.json()["access_token"])
    assert (identity["preferred_username"], identity["client_id"]) == ("alice", "jupyter-demo"), identity
    assert len(idp.events("authorization.success")) == authorizations, "no new sign-in at the IdP"
    assert brokers(hub), "the token request started the broker again"


def test_an_admin_revocation_reaches_a_broker_stopped_for_idleness(stack: E2eStack, alice) -> None:
    hub, idp = stack.hub, stack.idp
    _, server = alice
    signed_in_to_demo(stack, alice)
    assert token(server, "demo").status_code == 200
    # The demo grant is in the file store: stopping loses nothing, so the broker stops with it on disk.
    wait_for_idle_stop(hub, idle_stops(hub))
    revocations = len(idp.events("grant.revoked"))

    revoked = service(hub, "tb-admin").post(
        f"{admin_api(hub)}users/alice/revoke", json={"reason": "notebook with credentials published"}
    )
    assert revoked.status_code == 200, revoked.text
    steps = {step["target"]: step for step in revoked.json()["steps"]}
    assert steps["idp"]["outcome"] == "ok", steps
    # The hub reached the running server at once (its broker started for the revocation): no order is left.
    assert steps["server:"]["outcome"] == "ok", steps
    assert "demo" in steps["server:"]["description"], steps
    assert steps["order"]["outcome"] == "skipped", steps

    # alice logs in again (the revocation ended her hub login): the demo grant is gone, revoked at the IdP.
    login(hub, "alice")
    refused = wait_until(
        lambda: (answer := token(server, "demo")).status_code != 503 and answer,
        60,
        "the demo token answer (not 503 while the broker applies the order)",
        interval=0.3,
    )
    # (Never a token in a failure message: status and error code only.)
    assert (refused.status_code, refused.json().get("error")) == (401, "login_required")
    assert "access_token" not in refused.text
    assert next(p for p in providers(server) if p["id"] == "demo")["signed_in"] is False
    # The hub login's refresh token and the demo grant: both revoked at the IdP.
    assert len(idp.events("grant.revoked")) >= revocations + 2
    with server.token_client() as client:
        events = client.get(server.api("events")).json()["events"]
    revoke = next(e for e in events if e["type"] == "revoke" and e["provider"] == "demo")
    assert revoke["outcome"] == "ok"
    assert "notebook with credentials published" in revoke["reason"]
