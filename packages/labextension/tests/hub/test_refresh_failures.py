"""When the IdP is down or ends the login: a 503 with Retry-After that keeps the hub login, and a 401
login_required once the IdP said invalid_grant."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from hub_stack import SHORT_TOKEN_TTL, Hub, Idp, free_port, login, start_hub, start_idp, wait_until
from tcp_gate import TcpGate

TOKEN_SCOPE = "custom:token-broker:token!user"


def get_token(hub: Hub, name: str, token: str, min_ttl: int) -> httpx.Response:
    return httpx.get(
        hub.token_route(name), params={"min_ttl": str(min_ttl)}, headers={"Authorization": f"token {token}"}, timeout=30
    )


def test_idp_outage_during_refresh_gives_503_keeps_the_login_and_tokens_flow_after(hub: Hub, idp: Idp) -> None:
    login(hub, "alice")
    token = hub.user_token("alice", [TOKEN_SCOPE, "read:users:name!user"])
    first = get_token(hub, "alice", token, min_ttl=1).json()
    min_ttl = 5
    time.sleep(max(0.0, first["expires_at"] - min_ttl - time.time() + 1.0))
    refreshes, errors = idp.refresh_count(), idp.invalid_grant_count()
    idp.pause()
    try:
        started = time.monotonic()
        answer = get_token(hub, "alice", token, min_ttl=min_ttl)
        assert answer.status_code == 503, answer.json().get("error")
        assert answer.json()["error"] == "upstream_unavailable"
        assert int(answer.headers["retry-after"]) > 0
        assert "access_token" not in answer.text
        assert time.monotonic() - started < 10  # bounded by refresh_timeout_seconds (2 s here)
        # The hub login is kept: the user's token still works at the hub API (the hub's own refresh of the user
        # also fails meanwhile, and must not log the user out).
        me = httpx.get(f"{hub.api}user", headers={"Authorization": f"token {token}"}, timeout=30)
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "alice"
        assert get_token(hub, "alice", token, min_ttl=min_ttl).status_code == 503
    finally:
        idp.resume()
    # The refresh that was sent goes on and its rotation is saved: tokens flow, with no second refresh.
    answer = wait_until(
        lambda: (a := get_token(hub, "alice", token, min_ttl=min_ttl)).status_code == 200 and a,
        20,
        "tokens after the IdP came back",
        interval=0.5,
    )
    assert answer.json()["expires_at"] - time.time() >= min_ttl - 1
    assert idp.refresh_count() == refreshes + 1
    assert idp.invalid_grant_count() == errors


def test_invalid_grant_ends_the_login_with_401_login_required(hub: Hub, idp: Idp) -> None:
    browser = login(hub, "bob")
    token = hub.user_token("bob", [TOKEN_SCOPE])
    assert get_token(hub, "bob", token, min_ttl=1).status_code == 200
    # Someone else spends the hub login's refresh token: the IdP rotates it, and the hub's next refresh is reuse,
    # for which the IdP revokes the whole grant (invalid_grant).
    state = hub.auth_state("bob")
    spent = httpx.post(
        f"{idp.issuer}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": state["refresh_token"],
            "client_id": "jupyterhub",
            "client_secret": idp.client_secret_file.read_text().strip(),
        },
        timeout=30,
    )
    assert spent.status_code == 200, spent.text
    answer = get_token(hub, "bob", token, min_ttl=SHORT_TOKEN_TTL)
    assert answer.status_code == 401, answer.json().get("error")
    body = answer.json()
    assert body["error"] == "login_required"
    assert "log in again" in body["error_description"]
    assert idp.invalid_grant_count() >= 1
    after = hub.auth_state("bob")
    assert not {"access_token", "refresh_token", "id_token", "token_response"} & set(after or {})
    assert get_token(hub, "bob", token, min_ttl=1).status_code == 401
    # The hub login keeps serving the user's token-authenticated API calls (JupyterHub 5.5 would refuse them if
    # refresh_user said False) ...
    time.sleep(2.5)  # auth_refresh_age
    reader = hub.user_token("bob", ["read:users:name!user"])
    me = httpx.get(f"{hub.api}user", headers={"Authorization": f"token {reader}"})
    assert me.status_code == 200
    # ... while bob's own browser is sent to log in again.
    time.sleep(2.5)
    home = browser.get(f"{hub.url}hub/home")
    assert home.status_code == 302
    assert "/hub/login" in home.headers["location"]
    # A new hub login brings tokens back.
    login(hub, "bob")
    assert get_token(hub, "bob", token, min_ttl=1).status_code == 200


def test_idp_refusing_connections_gives_503_then_tokens_flow_again(tmp_path: Path) -> None:
    """The IdP's token endpoint refuses connections (not just slow): 503 at once, login kept, then tokens again.
    The hub reaches the token endpoint through a gate that stops listening; browsers reach the IdP directly."""
    port = free_port()
    idp = start_idp(
        tmp_path / "idp",
        access_token_ttl=SHORT_TOKEN_TTL,
        hub_redirect_uris=[f"http://127.0.0.1:{port}/hub/oauth_callback"],
    )
    gate = TcpGate(idp.port)
    try:
        hub = start_hub(
            tmp_path / "hub",
            idp,
            port=port,
            configure={"refresh_timeout_seconds": 2.0, "retry_after_seconds": 2},
            extra_config=f'c.GenericOAuthenticator.token_url = "{gate.url}/token"',
        )
        try:
            login(hub, "alice")
            token = hub.user_token("alice", [TOKEN_SCOPE, "read:users:name!user"])
            refreshes = idp.refresh_count()
            gate.close()
            started = time.monotonic()
            answer = get_token(hub, "alice", token, min_ttl=SHORT_TOKEN_TTL)
            assert answer.status_code == 503, answer.json().get("error")
            assert answer.json()["error"] == "upstream_unavailable"
            assert int(answer.headers["retry-after"]) > 0
            assert time.monotonic() - started < 5
            me = httpx.get(f"{hub.api}user", headers={"Authorization": f"token {token}"}, timeout=30)
            assert me.status_code == 200
            gate.open()
            wait_until(
                lambda: get_token(hub, "alice", token, min_ttl=SHORT_TOKEN_TTL).status_code == 200,
                20,
                "tokens after the IdP came back",
                interval=0.5,
            )
            assert idp.refresh_count() == refreshes + 1
            assert idp.invalid_grant_count() == 0
        finally:
            hub.stop()
    finally:
        gate.close()
        idp.stop()
