"""The counter-example: the stock recipe (a token with admin:auth_state!user reading GET /hub/api/users/{name},
OAuthenticator's own refresh_user) races at expiry against an IdP with rotating refresh tokens and reuse
detection; the same traffic on a hub running configure() makes exactly one refresh. Both hubs read the user from
the IdP's userinfo endpoint with opaque access tokens (OAuthenticator's own refresh only reacts to a userinfo 401).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from hub_stack import SHORT_TOKEN_TTL, Hub, Idp, login, start_stack

CONCURRENT = 12
# Users (so their tokens) get admin:auth_state on themselves, the way that works on JupyterHub 5.5 and 6.x.
STOCK_RECIPE = """
c.JupyterHub.load_roles = [
    *c.JupyterHub.load_roles,
    {"name": "user", "scopes": ["self", "admin:auth_state!user"]},
]
"""


def read_user_concurrently_after_expiry(hub: Hub, idp: Idp) -> tuple[list[int], int, int]:
    """Logs alice in, waits until her access token expired, then reads her model CONCURRENT times at once.
    Returns the statuses, and the IdP's refreshes and invalid_grant answers during that burst.

    The IdP is paused while the reads arrive, so every read that calls it is waiting when it answers again: the
    reads overlap whatever the machine's load (unpaused, a busy CI machine once let the first read's refresh
    finish before the others asked, and the stock recipe made one refresh)."""
    login(hub, "alice")
    token = hub.user_token("alice", ["admin:auth_state!user", "read:users!user"])
    time.sleep(SHORT_TOKEN_TTL + 1)
    refreshes, errors = idp.refresh_count(), idp.invalid_grant_count()

    def read(_: int) -> int:
        return httpx.get(f"{hub.api}users/alice", headers={"Authorization": f"token {token}"}, timeout=60).status_code

    idp.pause()
    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            reads = [pool.submit(read, i) for i in range(CONCURRENT)]
            time.sleep(2)
            idp.resume()
            statuses = [r.result() for r in reads]
    finally:
        idp.resume()
    time.sleep(1)
    return statuses, idp.refresh_count() - refreshes, idp.invalid_grant_count() - errors


def test_stock_admin_auth_state_recipe_races_at_expiry(tmp_path: Path) -> None:
    idp, hub = start_stack(
        tmp_path,
        access_token_ttl=SHORT_TOKEN_TTL,
        audience="userinfo",
        configure=None,
        extra_config=STOCK_RECIPE,
        auth_refresh_age=1,
    )
    try:
        _, refreshes, invalid_grants = read_user_concurrently_after_expiry(hub, idp)
    finally:
        hub.stop()
        idp.stop()
    # The race this project exists to avoid: several refreshes with one rotating refresh token.
    assert invalid_grants >= 1 or refreshes > 1, (refreshes, invalid_grants)


def test_configured_hub_refreshes_once_for_the_same_traffic(tmp_path: Path) -> None:
    idp, hub = start_stack(
        tmp_path,
        access_token_ttl=SHORT_TOKEN_TTL,
        audience="userinfo",
        configure={},
        extra_config=STOCK_RECIPE,
        auth_refresh_age=1,
    )
    try:
        statuses, refreshes, invalid_grants = read_user_concurrently_after_expiry(hub, idp)
        token = hub.user_token("alice", ["custom:token-broker:token!user"])
        answer = httpx.get(
            hub.token_route("alice"), params={"min_ttl": "2"}, headers={"Authorization": f"token {token}"}
        )
        assert answer.status_code == 200, answer.json().get("error")
        # The token handed out is accepted by the IdP's userinfo endpoint (not expired, not revoked).
        me = httpx.get(f"{idp.issuer}/me", headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
        assert me.status_code == 200
        assert me.json()["sub"] == "alice"
    finally:
        hub.stop()
        idp.stop()
    assert statuses == [200] * CONCURRENT
    assert (refreshes, invalid_grants) == (1, 0)
