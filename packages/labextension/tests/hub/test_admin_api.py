"""The hub's token-broker admin API on a real hub: who may use it, the list with its filters, revoking a user (the
IdP revokes her hub login's refresh token, she must log in again, bob is untouched), the IdP down during a revoke
(503 without force; forgotten, queued and retried with force), and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub_stack import Hub, Idp, login, start_stack, wait_until

TOKEN_SCOPE = "custom:token-broker:token!user"
ADMIN_SERVICES = """
import secrets
for name, scopes in (
    ("tb-admin", ["custom:token-broker:admin", "admin:groups"]),
    ("tb-admin-bob", ["custom:token-broker:admin!user=bob"]),
):
    token = secrets.token_hex(32)
    path = os.path.join(settings["dir"], name + "-token")
    with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
        f.write(token)
    c.JupyterHub.services.append({"name": name, "api_token": token})
    c.JupyterHub.load_roles.append({"name": name, "scopes": scopes, "services": [name]})
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Idp, Hub]]:
    idp, hub = start_stack(
        tmp_path_factory.mktemp("admin-api"),
        access_token_ttl=60,
        configure={
            "refresh_timeout_seconds": 2.0,
            "revocation_timeout_seconds": 1.5,
            "revocation_retry_seconds": 1.0,
            "revocation_retry_max_seconds": 2.0,
        },
        auth_refresh_age=2,
        extra_config=ADMIN_SERVICES,
    )
    yield idp, hub
    hub.stop()
    idp.stop()


def service(hub: Hub, name: str) -> httpx.Client:
    token = (hub.workdir / f"{name}-token").read_text().strip()
    client = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=30)
    hub.clients.append(client)
    return client


def admin_api(hub: Hub) -> str:
    return f"{hub.api}token-broker/v1/admin/"


def revoke(client: httpx.Client, hub: Hub, name: str, **body: object) -> httpx.Response:
    return client.post(f"{admin_api(hub)}users/{name}/revoke", json={"reason": "test", **body})


def refresh_at_idp(idp: Idp, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{idp.issuer}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "jupyterhub",
            "client_secret": idp.client_secret_file.read_text().strip(),
        },
        timeout=30,
    )


def hub_token(hub: Hub, name: str, token: str) -> httpx.Response:
    return httpx.get(hub.token_route(name), headers={"Authorization": f"token {token}"}, timeout=30)


@pytest.fixture(scope="module")
def people(hub: Hub) -> dict[str, tuple[httpx.Client, str]]:
    """alice and bob logged in (browser, and a token as their servers hold); bob in group `team`."""
    found = {name: (login(hub, name), hub.user_token(name, [TOKEN_SCOPE])) for name in ("alice", "bob")}
    answer = service(hub, "tb-admin").post(f"{hub.api}groups/team", json={"users": ["bob"]})
    assert answer.status_code == 201, answer.text
    return found


ROUTES = [
    ("GET", "users", None),
    ("GET", "audit", None),
    ("POST", "users/alice/revoke", {"reason": "x"}),
    ("POST", "revoke", {"reason": "x"}),
]


def test_users_and_admins_without_the_custom_scope_get_403_on_every_admin_route(hub: Hub, people) -> None:
    callers = {
        "alice": hub.user_token("alice", ["inherit"]),
        "bob": hub.user_token("bob", ["inherit"]),
        "hub admin without the scope": hub.admin_token,
    }
    for who, token in callers.items():
        for method, path, body in ROUTES:
            answer = httpx.request(
                method, admin_api(hub) + path, json=body, headers={"Authorization": f"token {token}"}, timeout=30
            )
            assert answer.status_code == 403, (who, path, answer.text)
            assert answer.json()["error"] == "forbidden"
    # alice's own browser (her hub cookie) too; and nobody at all is 401.
    browser, _ = people["alice"]
    assert browser.get(admin_api(hub) + "users").status_code == 403
    assert httpx.get(admin_api(hub) + "users", timeout=30).status_code in (401, 403)
    # A filtered admin can't revoke someone outside its filter.
    assert revoke(service(hub, "tb-admin-bob"), hub, "alice").status_code == 403


def test_list_shows_what_the_hub_login_holds_filtered_by_user_and_group(hub: Hub, people) -> None:
    admin = service(hub, "tb-admin")
    answer = admin.get(admin_api(hub) + "users")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    users = {u["name"]: u for u in answer.json()["users"]}
    assert {"alice", "bob"} <= set(users)
    login_info = users["alice"]["hub_login"]
    assert login_info["held"] is True
    assert login_info["account"] == "alice"
    assert "demo:read" in login_info["scopes"]
    assert login_info["expires_at"] > 0
    state = hub.auth_state("alice")
    for secret in (state["access_token"], state["refresh_token"], state["id_token"]):
        assert secret not in answer.text
    only = admin.get(admin_api(hub) + "users", params={"user": "alice"}).json()["users"]
    assert [u["name"] for u in only] == ["alice"]
    team = admin.get(admin_api(hub) + "users", params={"group": "team"}).json()["users"]
    assert [u["name"] for u in team] == ["bob"]
    # An admin scope filtered to bob lists bob only.
    filtered = service(hub, "tb-admin-bob").get(admin_api(hub) + "users").json()["users"]
    assert [u["name"] for u in filtered] == ["bob"]
    # Listing is audited too (who looked at whom); the filtered admin sees only events about bob.
    events = admin.get(admin_api(hub) + "audit", params={"user": "alice"}).json()["events"]
    assert events[0]["action"] == "list"
    assert events[0]["actor"] == "service:tb-admin"
    assert service(hub, "tb-admin-bob").get(admin_api(hub) + "users", params={"user": "bob"}).status_code == 200
    seen = service(hub, "tb-admin-bob").get(admin_api(hub) + "audit").json()["events"]
    assert seen
    assert {e["user"] for e in seen} == {"bob"}
    assert service(hub, "tb-admin-bob").get(admin_api(hub) + "audit", params={"user": "alice"}).status_code == 403


def test_revoking_alice_revokes_her_refresh_token_at_the_idp_and_she_must_log_in_again(
    hub: Hub, idp: Idp, people
) -> None:
    alice_browser, alice_token = people["alice"]
    bob_browser, bob_token = people["bob"]
    assert alice_browser.get(f"{hub.url}hub/home").status_code == 200
    refresh_token = hub.auth_state("alice")["refresh_token"]
    grants_revoked = len(idp.events("grant.revoked"))
    answer = revoke(service(hub, "tb-admin"), hub, "alice", reason="laptop stolen")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "ok"
    assert [(s["target"], s["outcome"]) for s in body["steps"]] == [
        ("idp", "ok"),
        ("auth_state", "ok"),
        ("order", "skipped"),
    ]
    assert refresh_token not in answer.text
    assert refresh_token not in hub.log_text()
    # The IdP revoked it (its revocation endpoint ended the grant): the refresh token no longer works.
    assert len(idp.events("grant.revoked")) == grants_revoked + 1
    spent = refresh_at_idp(idp, refresh_token)
    assert spent.status_code == 400, spent.text
    assert spent.json()["error"] == "invalid_grant"
    # Her servers get 401 login_required; her next hub page sends her to log in.
    refused = hub_token(hub, "alice", alice_token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "login_required"
    page = alice_browser.get(f"{hub.url}hub/home")
    assert page.status_code == 302, page.status_code
    assert "/hub/login" in page.headers["location"] or "/hub/oauth_login" in page.headers["location"]
    # bob is untouched.
    assert hub_token(hub, "bob", bob_token).status_code == 200
    assert bob_browser.get(f"{hub.url}hub/home").status_code == 200
    # Revoking is not banning: alice logs in again and her servers get tokens again.
    login(hub, "alice")
    assert hub_token(hub, "alice", alice_token).status_code == 200
    # Her default server was never started (it holds no grant): no order for it.
    listed = service(hub, "tb-admin").get(admin_api(hub) + "users", params={"user": "alice"}).json()["users"]
    assert listed[0]["pending_orders"] == 0
    events = service(hub, "tb-admin").get(admin_api(hub) + "audit", params={"user": "alice"}).json()["events"]
    events = [e for e in events if e["action"] != "list"]
    assert events[0]["action"] == "revoke"
    assert events[0]["actor"] == "service:tb-admin"
    assert events[0]["outcome"] == "ok"
    assert events[0]["reason"] == "laptop stolen"


def test_idp_down_without_force_is_503_and_forgets_nothing(hub: Hub, idp: Idp, people) -> None:
    _, alice_token = people["alice"]
    login(hub, "alice")
    before = hub.auth_state("alice")
    idp.pause()
    try:
        answer = revoke(service(hub, "tb-admin"), hub, "alice")
    finally:
        idp.resume()
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "upstream_unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert answer.json()["outcome"] == "error"
    assert hub.auth_state("alice")["refresh_token"] == before["refresh_token"]
    assert hub_token(hub, "alice", alice_token).status_code == 200


def test_idp_down_with_force_forgets_queues_and_retries_once_the_idp_is_back(hub: Hub, idp: Idp, people) -> None:
    _, alice_token = people["alice"]
    login(hub, "alice")
    refresh_token = hub.auth_state("alice")["refresh_token"]
    admin = service(hub, "tb-admin")
    idp.pause()
    try:
        answer = revoke(admin, hub, "alice", force=True)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["outcome"] == "partial"
        assert [(s["target"], s["outcome"]) for s in body["steps"]][:2] == [("idp", "queued"), ("auth_state", "ok")]
        assert hub_token(hub, "alice", alice_token).status_code == 401
        assert "refresh_token" not in (hub.auth_state("alice") or {})
    finally:
        idp.resume()

    def retried() -> list[dict]:
        events = admin.get(admin_api(hub) + "audit", params={"user": "alice"}).json()["events"]
        return [e for e in events if e["action"] == "idp_retry" and e["outcome"] == "ok"]

    wait_until(retried, 30, "the queued IdP revocation to be retried", interval=0.5)
    assert refresh_at_idp(idp, refresh_token).status_code == 400
    audit_file = Path(hub.workdir / "token-broker-audit.jsonl")
    assert audit_file.stat().st_mode & 0o777 == 0o600
    text = audit_file.read_text()
    assert refresh_token not in text
    assert '"idp_retry"' in text


def test_revoke_one_provider_for_a_group_and_for_everyone_the_caller_covers(hub: Hub, people) -> None:
    admin = service(hub, "tb-admin")
    answer = admin.post(
        admin_api(hub) + "revoke", json={"provider": "demo", "reason": "key rotation", "groups": ["team"]}
    )
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert result["user"] == "bob"
    assert result["provider"] == "demo"
    # Only broker providers: bob's hub login is untouched (and he has no server that ever ran).
    assert [(s["target"], s["outcome"]) for s in result["steps"]] == [("order", "skipped")]
    assert hub_token(hub, "bob", people["bob"][1]).status_code == 200
    # The admin filtered to bob: everyone it covers is bob; naming alice is refused.
    bob_admin = service(hub, "tb-admin-bob")
    everyone = bob_admin.post(admin_api(hub) + "revoke", json={"provider": "demo", "reason": "key rotation"})
    assert [r["user"] for r in everyone.json()["results"]] == ["bob"]
    refused = bob_admin.post(admin_api(hub) + "revoke", json={"reason": "x", "users": ["alice"]})
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"


def test_no_token_material_in_the_hub_log(hub: Hub, people) -> None:
    log = hub.log_text()
    for name in ("alice", "bob"):
        state = hub.auth_state(name) or {}
        for key in ("access_token", "refresh_token", "id_token"):
            if state.get(key):
                assert state[key] not in log
    assert "revoked everything of alice" in log


def test_bad_requests_get_400(hub: Hub, people) -> None:
    admin = service(hub, "tb-admin")
    assert revoke(admin, hub, "alice", reason="").status_code == 400
    assert revoke(admin, hub, "alice", provider="Not an id!").status_code == 400
    assert revoke(admin, hub, "nobody").status_code == 404
    assert admin.get(admin_api(hub) + "audit", params={"limit": "0"}).status_code == 400
