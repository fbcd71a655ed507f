"""The hub's token route: only the access token, only to a token holding the custom scope for that user,
with at least min_ttl left (refreshed ahead of expiry, once)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hub_stack import SHORT_TOKEN_TTL as TOKEN_TTL
from hub_stack import Hub, Idp, login

TOKEN_SCOPE = "custom:token-broker:token!user"


def get_token(hub: Hub, name: str, token: str, min_ttl: int | None = None) -> httpx.Response:
    params = {} if min_ttl is None else {"min_ttl": str(min_ttl)}
    return httpx.get(hub.token_route(name), params=params, headers={"Authorization": f"token {token}"}, timeout=30)


@pytest.fixture(scope="module")
def alice(hub: Hub) -> str:
    """alice logged in; an API token of hers that holds only the custom scope (as her server's would)."""
    login(hub, "alice")
    return hub.user_token("alice", [TOKEN_SCOPE])


def test_route_answers_only_the_access_token_uncached(hub: Hub, alice: str) -> None:
    answer = get_token(hub, "alice", alice, min_ttl=2)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_at", "scope"}
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
    assert body["token_type"] == "Bearer"
    assert "demo:read" in body["scope"].split()
    assert body["expires_at"] - time.time() >= 2 - 1  # whole seconds
    state = hub.auth_state("alice")
    assert body["access_token"] == state["access_token"]
    for secret in (state["refresh_token"], state["id_token"]):
        assert secret not in answer.text


def test_token_without_the_custom_scope_gets_403(hub: Hub, alice: str) -> None:
    other = hub.user_token("alice", ["read:users!user"])
    answer = get_token(hub, "alice", other)
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    assert "access_token" not in answer.text
    # Not even the admin service (admin:auth_state) gets it through this route.
    assert httpx.get(hub.token_route("alice"), headers={"Authorization": f"token {hub.admin_token}"}).status_code == 403


def test_another_users_name_gets_403(hub: Hub, alice: str) -> None:
    login(hub, "bob")
    answer = get_token(hub, "bob", alice)
    assert answer.status_code == 403, answer.json().get("error")
    assert answer.json()["error"] == "forbidden"
    # An unknown name is not told apart from another user's.
    assert get_token(hub, "nobody", alice).status_code == 403
    assert httpx.get(hub.token_route("alice")).status_code == 403


def test_service_with_the_scope_for_every_user_gets_404_for_an_unknown_user(hub: Hub, alice: str) -> None:
    reader = (hub.workdir / "reader-token").read_text().strip()
    assert get_token(hub, "nobody", reader).json()["error"] == "unknown_user"
    assert get_token(hub, "nobody", reader).status_code == 404
    assert get_token(hub, "alice", reader, min_ttl=1).status_code == 200


def test_bad_min_ttl_gets_400_naming_both_lifetimes(hub: Hub, alice: str) -> None:
    assert get_token(hub, "alice", alice, min_ttl=-1).json()["error"] == "invalid_request"
    answer = httpx.get(hub.token_route("alice"), params={"min_ttl": "x"}, headers={"Authorization": f"token {alice}"})
    assert answer.status_code == 400
    answer = get_token(hub, "alice", alice, min_ttl=TOKEN_TTL + 1)
    assert answer.status_code == 400
    description = answer.json()["error_description"]
    assert str(TOKEN_TTL + 1) in description
    assert f"{TOKEN_TTL} s" in description


def test_min_ttl_is_met_by_refreshing_ahead(hub: Hub, idp: Idp, alice: str) -> None:
    first = get_token(hub, "alice", alice, min_ttl=1).json()
    refreshes = idp.refresh_count()
    min_ttl = TOKEN_TTL - 2
    # Wait until the token has less than min_ttl left, but is still valid.
    time.sleep(max(0.0, first["expires_at"] - min_ttl - time.time() + 1))
    asked = time.time()
    answer = get_token(hub, "alice", alice, min_ttl=min_ttl)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["access_token"] != first["access_token"]
    assert body["expires_at"] - asked >= min_ttl - 1
    assert idp.refresh_count() == refreshes + 1


def test_twelve_concurrent_requests_at_expiry_make_one_refresh(hub: Hub, idp: Idp, alice: str) -> None:
    first = get_token(hub, "alice", alice, min_ttl=1).json()
    refreshes, errors = idp.refresh_count(), idp.invalid_grant_count()
    min_ttl = 5
    time.sleep(max(0.0, first["expires_at"] - min_ttl - time.time() + 1.0))
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: get_token(hub, "alice", alice, min_ttl=min_ttl), range(12)))
    assert [a.status_code for a in answers] == [200] * 12, [a.text for a in answers]
    assert len({a.json()["access_token"] for a in answers}) == 1
    assert idp.refresh_count() == refreshes + 1
    assert idp.invalid_grant_count() == errors
