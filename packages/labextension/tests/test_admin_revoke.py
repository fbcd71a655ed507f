"""Admin revocation and the admin provider list through a real jupyter-server and the real broker: only a
JupyterHub user holding the ``custom:token-broker:admin`` scope for this server reaches ``POST admin/revoke`` and
``GET admin/providers``; everyone else (the owner, a visitor with a share, an admin of another server), and everyone
outside JupyterHub, gets 403 from the extension.

Ports: free ones from the OS. No IdP is needed (nobody listens at the issuer): nobody is signed in, so nothing is
revoked upstream.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jupyter_token_broker.identity import ADMIN_SCOPE, grants_admin, hub_scopes, is_admin

from jupyter_process import JupyterServer, free_ports, start_server

STANDALONE_PORT, HUB_PORT, UNANSWERED_ISSUER_PORT = free_ports(3)
PROVIDERS = [
    {
        "id": "demo",
        "title": "Demo IdP",
        "kind": "oidc",
        "issuer": f"http://127.0.0.1:{UNANSWERED_ISSUER_PORT}",
        "client_id": "jupyter-demo",
        "scopes": ["openid"],
    }
]

# An identity provider shaped like jupyterhub-singleuser's: the user carries the hub's model with its scopes.
HUB_USERS = """
from jupyter_server.auth.identity import IdentityProvider, User

USERS = {
    "alice-token-0123456789abcdef": ("alice", ["access:servers!server=alice/"]),
    "hubadmin-token-0123456789abcdef": ("hubadmin", ["access:servers!server=alice/", "SCOPE!server=alice/"]),
    "otheradmin-token-0123456789abcdef": ("otheradmin", ["access:servers!server=alice/", "SCOPE!server=bob/"]),
    # A visitor with a JupyterHub share of alice's server: the share grants access:servers for it, nothing more.
    "mallory-token-0123456789abcdef": ("mallory", ["access:servers!server=alice/"]),
}


class HubUser(User):
    pass


class HubScopesIdentityProvider(IdentityProvider):
    def get_user(self, handler):
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        found = USERS.get(token) if scheme.lower() == "token" else None
        if found is None:
            return None
        handler._token_authenticated = True
        user = HubUser(username=found[0])
        user.hub_user = {"name": found[0], "scopes": found[1]}
        return user


c.ServerApp.identity_provider_class = HubScopesIdentityProvider
""".replace("SCOPE", ADMIN_SCOPE)

ALICE = "alice-token-0123456789abcdef"
HUB_ADMIN = "hubadmin-token-0123456789abcdef"
OTHER_ADMIN = "otheradmin-token-0123456789abcdef"
VISITOR = "mallory-token-0123456789abcdef"


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    running = start_server(tmp_path_factory.mktemp("admin-standalone"), STANDALONE_PORT, PROVIDERS)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    running = start_server(
        tmp_path_factory.mktemp("admin-hub"),
        HUB_PORT,
        PROVIDERS,
        env_extra={"JUPYTERHUB_USER": "alice"},
        config_extra=HUB_USERS,
        owner_token=ALICE,
    )
    yield running
    running.stop()


def test_admin_scope_matching() -> None:
    assert grants_admin([ADMIN_SCOPE], "alice")
    assert grants_admin([f"{ADMIN_SCOPE}!user=alice"], "alice")
    assert grants_admin([f"{ADMIN_SCOPE}!server=alice/"], "alice")
    assert grants_admin([f"{ADMIN_SCOPE}!server=alice/gpu"], "alice", "gpu")
    assert not grants_admin([f"{ADMIN_SCOPE}!server=alice/gpu"], "alice")
    assert not grants_admin([f"{ADMIN_SCOPE}!user=bob", f"{ADMIN_SCOPE}x"], "alice")
    assert not grants_admin(["admin:users", "access:servers!server=alice/"], "alice")


def test_admin_needs_jupyterhub() -> None:
    class Hubbed:
        def __init__(self) -> None:
            self.hub_user = {"name": "root", "scopes": [ADMIN_SCOPE]}

    assert hub_scopes(Hubbed()) == [ADMIN_SCOPE]
    assert hub_scopes(object()) == []
    assert is_admin(Hubbed(), environ={"JUPYTERHUB_USER": "alice"})
    assert not is_admin(Hubbed(), environ={})


def test_outside_jupyterhub_admin_revocation_is_refused(standalone: JupyterServer) -> None:
    with standalone.token_client() as client:
        response = client.post(standalone.api("admin/revoke"), json={"reason": "offboarding"})
        assert client.get(standalone.api("providers")).status_code == 200
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "error_description": "Admin revocation needs the JupyterHub scope custom:token-broker:admin.",
    }


def test_forged_caller_header_does_not_make_an_admin(standalone: JupyterServer) -> None:
    with standalone.token_client() as client:
        response = client.post(
            standalone.api("admin/revoke"), json={"reason": "x"}, headers={"X-Broker-Caller": "admin"}
        )
    assert response.status_code == 403


def test_owner_without_the_admin_scope_is_refused(hub: JupyterServer) -> None:
    with hub.token_client(ALICE) as client:
        assert client.get(hub.api("providers")).status_code == 200
        response = client.post(hub.api("admin/revoke"), json={"reason": "x"})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_admin_scope_for_another_server_is_refused(hub: JupyterServer) -> None:
    with hub.token_client(OTHER_ADMIN) as client:
        response = client.post(hub.api("admin/revoke"), json={"reason": "x"})
    assert response.status_code == 403


def test_hub_admin_reaches_admin_revoke_and_nothing_else(hub: JupyterServer) -> None:
    with hub.token_client(HUB_ADMIN) as client:
        revoked = client.post(hub.api("admin/revoke"), json={"reason": "account closed"})
        # Forwarded as admin: the broker itself checks the body (without the admin role it would say 403).
        no_reason = client.post(hub.api("admin/revoke"), json={})
        providers = client.get(hub.api("providers"))
        token = client.post(hub.api("providers/demo/token"), json={})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"revoked": [], "failed": []}
    assert no_reason.status_code == 400
    assert no_reason.json()["error"] == "invalid_request"
    assert providers.status_code == 403
    assert token.status_code == 403
    assert "admin revocation by hubadmin" in hub.log_text()


def test_hub_admin_lists_the_providers_without_token_material(hub: JupyterServer) -> None:
    with hub.token_client(HUB_ADMIN) as client:
        listed = client.get(hub.api("admin/providers"))
        # Only the list: the admin route takes no other method (the broker refuses an admin anything else).
        posted = client.post(hub.api("admin/providers"), json={})
    with hub.token_client(ALICE) as client:
        owner_view = client.get(hub.api("providers")).json()
    assert listed.status_code == 200, listed.text
    assert listed.headers["Cache-Control"] == "no-store"
    assert listed.json() == owner_view
    (demo,) = listed.json()["providers"]
    assert (demo["id"], demo["signed_in"]) == ("demo", False)
    for material in ("access_token", "refresh_token", "id_token"):
        assert material not in listed.text
    assert posted.status_code == 403
    assert "admin provider list by hubadmin" in hub.log_text()


@pytest.mark.parametrize(
    ("who", "token"),
    [("the owner without the admin scope", ALICE), ("a visitor with a share", VISITOR), ("bob's admin", OTHER_ADMIN)],
)
def test_the_admin_provider_list_is_refused_without_the_admin_scope_for_this_server(
    hub: JupyterServer, who: str, token: str
) -> None:
    with hub.token_client(token) as client:
        response = client.get(hub.api("admin/providers"))
    assert response.status_code == 403, who
    assert response.json() == {
        "error": "forbidden",
        "error_description": "The admin provider list needs the JupyterHub scope custom:token-broker:admin.",
    }


def test_outside_jupyterhub_the_admin_provider_list_is_refused(standalone: JupyterServer) -> None:
    with standalone.token_client() as client:
        response = client.get(standalone.api("admin/providers"), headers={"X-Broker-Caller": "admin"})
    assert response.status_code == 403
