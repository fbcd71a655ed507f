"""OAuthenticator raises a 500 whose message holds the id token when ``userdata_from_id_token`` meets an expired
one; after a refresh that answers no new id token, the hub side keeps the previous user data and logs only the
error's type. The real GenericOAuthenticator, no hub and no network (user data comes from the id token)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from types import SimpleNamespace

import pytest
from oauthenticator.generic import GenericOAuthenticator
from tornado.web import HTTPError

from jupyter_token_broker.hub.config import TokenBrokerHub
from jupyter_token_broker.hub.refresh import TokenRefresher


def unsigned_jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.fixture
def authenticator() -> GenericOAuthenticator:
    return GenericOAuthenticator(
        client_id="jupyterhub", userdata_from_id_token=True, username_claim="sub", enable_auth_state=True
    )


@pytest.fixture
def expired_id_token() -> str:
    return unsigned_jwt({"sub": "alice", "aud": "jupyterhub", "exp": int(time.time()) - 60})


def test_oauthenticator_puts_an_expired_id_token_in_its_error(
    authenticator: GenericOAuthenticator, expired_id_token: str
) -> None:
    with pytest.raises(HTTPError) as raised:
        asyncio.run(authenticator._token_to_auth_model({"access_token": "a", "id_token": expired_id_token}))
    assert raised.value.status_code == 500
    assert expired_id_token in str(raised.value)


def test_refresh_keeps_previous_user_data_and_logs_no_token(
    authenticator: GenericOAuthenticator, expired_id_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    refresher = TokenRefresher(authenticator, TokenBrokerHub())
    old = {
        "access_token": "old-access",
        "refresh_token": "old-refresh",
        "id_token": expired_id_token,
        "scope": ["openid"],
        "token_response": {},
        "oauth_user": {"sub": "alice", "name": "Alice"},
    }
    answer = {"access_token": "new-access-secret", "refresh_token": "new-refresh-secret", "expires_in": 12}
    caplog.set_level(logging.DEBUG)
    state, model = asyncio.run(refresher._auth_state_after(SimpleNamespace(name="alice"), old, dict(answer)))
    assert model is None
    assert state["access_token"] == "new-access-secret"
    assert state["refresh_token"] == "new-refresh-secret"
    assert state["oauth_user"] == {"sub": "alice", "name": "Alice"}
    assert "HTTPError" in caplog.text
    for secret in (expired_id_token, "new-access-secret", "new-refresh-secret", "old-refresh"):
        assert secret not in caplog.text
