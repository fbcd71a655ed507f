"""Over ten short token lifetimes, every token handed out has at least min_ttl left, and the IdP sees exactly
one refresh per lifetime and no invalid_grant, while the hub also refreshes the user on its own (every 2 s)."""

from __future__ import annotations

import math
import time

import httpx

from hub_stack import SHORT_TOKEN_TTL, Hub, Idp, login

LIFETIMES = 10  # issue 8: "over at least 10 token lifetimes"


def test_every_token_has_min_ttl_left_and_one_refresh_per_lifetime(hub: Hub, idp: Idp) -> None:
    login(hub, "alice")
    token = hub.user_token("alice", ["custom:token-broker:token!user", "read:users:name!user"])
    headers = {"Authorization": f"token {token}"}
    min_ttl = 4
    refreshes, errors = idp.refresh_count(), idp.invalid_grant_count()
    seen: list[str] = []
    started = time.monotonic()
    with httpx.Client(headers=headers, timeout=30) as client:
        while len(seen) < LIFETIMES + 1:
            assert time.monotonic() - started < (LIFETIMES + 2) * SHORT_TOKEN_TTL, seen
            asked = time.time()
            answer = client.get(hub.token_route("alice"), params={"min_ttl": str(min_ttl)})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["expires_at"] - asked >= min_ttl - 1, (body["expires_at"], asked)
            if not seen or seen[-1] != body["access_token"]:
                seen.append(body["access_token"])
            # Hub API traffic with the same token makes the hub refresh the user too (auth_refresh_age = 2).
            assert client.get(f"{hub.api}user").status_code == 200
            time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert len(set(seen)) == len(seen)
    made = idp.refresh_count() - refreshes
    # The first token came from the login; each later one from exactly one refresh.
    assert made == len(seen) - 1
    assert made <= math.ceil(elapsed / (SHORT_TOKEN_TTL - min_ttl)) + 1
    assert idp.invalid_grant_count() == errors
