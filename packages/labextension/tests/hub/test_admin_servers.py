"""The admin API and user servers: the list asks running servers for their providers, a revocation reaches a
running server at its internal URL, and a stopped server gets a durable order that it reads and acknowledges
through the orders route (only with its user's token)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from test_admin_api import ADMIN_SERVICES, ROUTES, TOKEN_SCOPE, admin_api, revoke, service
from test_idle_exit import brokers

from hub_stack import Hub, Idp, login, start_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Idp, Hub]]:
    workdir = tmp_path_factory.mktemp("admin-servers")
    home = workdir / "home"
    home.mkdir()
    idp, hub = start_stack(
        workdir,
        access_token_ttl=60,
        configure={"refresh_timeout_seconds": 2.0, "list_timeout_seconds": 3.0},
        extra_config=ADMIN_SERVICES + f"c.SimpleLocalProcessSpawner.home_dir_template = {str(home / '{username}')!r}\n",
    )
    yield idp, hub
    hub.stop()
    idp.stop()


@pytest.fixture(scope="module")
def alice(hub: Hub) -> str:
    """alice logged in, her default server running; a token as her servers hold."""
    login(hub, "alice")
    login(hub, "bob")
    hub.start_server("alice")
    return hub.user_token("alice", [TOKEN_SCOPE])


def orders_url(hub: Hub, name: str, order_id: str = "") -> str:
    return f"{hub.api}token-broker/v1/users/{name}/orders" + (f"/{order_id}" if order_id else "")


def test_the_list_does_not_start_a_broker_nobody_used(hub: Hub, alice: str) -> None:
    """Issue 12: the admin list asks every running server; a broker that has not started yet is not started for it
    (it was, and then ran for the idle time: one admin list started every user's broker)."""
    assert brokers(hub) == []
    answer = service(hub, "tb-admin").get(admin_api(hub) + "users", params={"user": "alice"})
    assert answer.status_code == 200, answer.text
    (server,) = answer.json()["users"][0]["servers"]
    assert (server["running"], server["broker_running"], server["providers"], server["error"]) == (
        True,
        False,
        [],
        None,
    )
    time.sleep(1)
    assert brokers(hub) == []


def test_list_shows_the_running_servers_providers(hub: Hub, alice: str) -> None:
    # alice's own provider list (a page load) starts her broker; the admin list then shows what it holds.
    browser_token = hub.user_token("alice", ["inherit"])
    owner = httpx.get(
        f"{hub.url}user/alice/token-broker/api/v1/providers",
        headers={"Authorization": f"token {browser_token}"},
        timeout=60,
    )
    assert owner.status_code == 200, owner.text
    assert len(brokers(hub)) == 1
    started = time.monotonic()
    answer = service(hub, "tb-admin").get(admin_api(hub) + "users", params={"user": "alice"})
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 3.5
    (user,) = answer.json()["users"]
    (server,) = user["servers"]
    assert server["name"] == ""
    assert server["running"] is True
    assert server["error"] is None
    assert server["broker_running"] is True
    hub_provider = next(p for p in server["providers"] if p["id"] == "hub")
    assert hub_provider["kind"] == "hub"
    assert set(hub_provider) == {"id", "title", "kind", "signed_in", "account", "scopes", "expires_at"}


def test_a_visitor_with_a_share_of_alices_server_gets_403_on_every_admin_route_and_the_page(
    hub: Hub, alice: str
) -> None:
    """bob visits alice's server through a JupyterHub share: the share reaches her server, never the admin API."""
    admin = hub.admin()
    shared = admin.post(f"{hub.api}shares/alice/", json={"user": "bob"})
    assert shared.status_code == 200, shared.text
    try:
        visitor = hub.user_token("bob", ["inherit"])
        headers = {"Authorization": f"token {visitor}"}
        reach = httpx.get(f"{hub.url}user/alice/api/status", headers=headers, timeout=30)
        assert reach.status_code == 200, "the share lets bob into alice's server"
        for method, path, body in ROUTES:
            answer = httpx.request(method, admin_api(hub) + path, json=body, headers=headers, timeout=30)
            assert answer.status_code == 403, (path, answer.text)
            assert answer.json()["error"] == "forbidden"
        # The page takes the hub cookie, not a token: bob's browser, logged in after the share was made.
        page = login(hub, "bob").get(f"{hub.url}hub/token-broker/", follow_redirects=False)
        assert page.status_code == 403, page.text[:300]
        # Nor through alice's server: its admin routes want the admin scope, which a share never carries.
        server_admin = httpx.get(
            f"{hub.url}user/alice/token-broker/api/v1/admin/providers", headers=headers, timeout=30
        )
        assert server_admin.status_code == 403, server_admin.text
    finally:
        assert admin.delete(f"{hub.api}shares/alice/").status_code in (200, 204)


def test_revoke_reaches_the_running_server_then_orders_the_stopped_one(hub: Hub, alice: str) -> None:
    admin = service(hub, "tb-admin")
    browser = login(hub, "alice")
    assert browser.get(f"{hub.url}hub/home").status_code == 200
    # Her browser has a session with her running server too.
    assert browser.get(f"{hub.url}user/alice/lab", follow_redirects=True).status_code == 200
    assert browser.get(f"{hub.url}user/alice/api/status").status_code == 200
    answer = revoke(admin, hub, "alice", reason="leaked notebook")
    assert answer.status_code == 200, answer.text
    # This hub refreshes logins only every 300 s (auth_refresh_age's default), yet her next hub page asks her to log
    # in at once: her hub sessions ended with the revocation.
    page = browser.get(f"{hub.url}hub/home")
    assert (page.status_code, page.headers.get("location")) == (302, "/hub/login?next=%2Fhub%2Fhome")
    # And her open server page is sent to log in too, at once (not after the server's 300 s token cache).
    assert browser.get(f"{hub.url}user/alice/api/status").status_code == 403
    page = browser.get(f"{hub.url}user/alice/lab", follow_redirects=True)
    assert page.url.path == "/hub/login", page.url
    steps = {s["target"]: s for s in answer.json()["steps"]}
    assert steps["server:"]["outcome"] == "ok", steps
    assert steps["order"]["outcome"] == "skipped"
    assert httpx.get(orders_url(hub, "alice"), headers={"Authorization": f"token {alice}"}).json() == {"orders": []}
    # A provider her running server does not have: nothing to do there, and no order for later.
    answer = revoke(admin, hub, "alice", provider="demo", reason="rotation")
    steps = {s["target"]: s for s in answer.json()["steps"]}
    assert (steps["server:"]["outcome"], steps["server:"]["code"]) == ("skipped", "unknown_provider")
    assert steps["order"]["outcome"] == "skipped"

    assert hub.admin().delete(f"{hub.api}users/alice/server").status_code in (202, 204)
    for _ in range(100):
        if not hub.admin().get(f"{hub.api}users/alice").json()["servers"]:
            break
        time.sleep(0.2)
    answer = revoke(admin, hub, "alice", provider="demo", reason="departed")
    assert answer.status_code == 200, answer.text
    steps = {s["target"]: s for s in answer.json()["steps"]}
    assert "server:" not in steps
    assert steps["order"]["outcome"] == "ok"
    listed = admin.get(admin_api(hub) + "users", params={"user": "alice"}).json()["users"][0]
    assert listed["pending_orders"] == 1
    # Her new login keeps the order her stopped server has still to apply.
    login(hub, "alice")
    listed = admin.get(admin_api(hub) + "users", params={"user": "alice"}).json()["users"][0]
    assert listed["pending_orders"] == 1
    assert listed["hub_login"]["held"] is True

    as_alice = {"Authorization": f"token {alice}"}
    orders = httpx.get(orders_url(hub, "alice"), params={"server": ""}, headers=as_alice).json()["orders"]
    assert [(o["provider"], o["reason"]) for o in orders] == [("demo", "departed")]
    # bob's servers can't read or acknowledge alice's orders.
    as_bob = {"Authorization": f"token {hub.user_token('bob', [TOKEN_SCOPE])}"}
    assert httpx.get(orders_url(hub, "alice"), headers=as_bob).status_code == 403
    assert httpx.delete(orders_url(hub, "alice", orders[0]["id"]), headers=as_bob).status_code == 403
    # Applied by her default server: gone, and in the audit trail.
    done = httpx.delete(orders_url(hub, "alice", orders[0]["id"]), params={"server": ""}, headers=as_alice)
    assert done.status_code == 204, done.text
    assert httpx.get(orders_url(hub, "alice"), headers=as_alice).json() == {"orders": []}
    assert httpx.delete(orders_url(hub, "alice", orders[0]["id"]), headers=as_alice).status_code == 404
    events = admin.get(admin_api(hub) + "audit", params={"user": "alice"}).json()["events"]
    assert events[0]["action"] == "order_applied"
    assert events[0]["actor"] == "user:alice"
