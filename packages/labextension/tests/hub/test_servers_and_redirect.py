"""What configure() gives user servers (scopes on their token, the non-secret env var), where a broker sign-in's
callback goes through /hub/user-redirect/, and that no token, secret or code reaches a log."""

from __future__ import annotations

import base64
import html
import json
import secrets
from pathlib import Path

import httpx
import pytest

from hub_stack import Hub, Idp, login

CALLBACK = "hub/user-redirect/token-broker/api/v1/callback"


def broker_state(server_name: str) -> str:
    """A broker login state naming its server, as the broker makes it."""
    prefix = base64.urlsafe_b64encode(server_name.encode()).decode().rstrip("=")
    return f"{prefix}.{secrets.token_urlsafe(16)}"


@pytest.fixture(scope="module")
def browser(hub: Hub) -> httpx.Client:
    return login(hub, "alice")


@pytest.fixture(scope="module")
def lab(hub: Hub, browser: httpx.Client) -> dict:
    """alice's named server `lab`, running."""
    return hub.start_server("alice", "lab")


def test_server_token_holds_the_custom_scope_and_read_shares(hub: Hub, lab: dict) -> None:
    tokens = hub.admin().get(f"{hub.api}users/alice/tokens").json()["api_tokens"]
    server_tokens = [t for t in tokens if "lab" in (t.get("note") or "") and "Server" in (t.get("note") or "")]
    assert len(server_tokens) == 1, [t.get("note") for t in tokens]
    scopes = set(server_tokens[0]["scopes"])
    assert {
        "custom:token-broker:token!user=alice",
        "read:shares!server=alice/lab",
        "access:servers!server=alice/lab",
        "users:activity!user=alice",
    } <= scopes
    assert not any(s.startswith("admin:auth_state") for s in scopes)


def test_server_environment_names_the_hub_provider_and_holds_no_token(hub: Hub, idp: Idp, lab: dict) -> None:
    model = hub.admin().get(f"{hub.api}users/alice").json()
    pid = model["servers"]["lab"]["state"]["pid"]
    environ = dict(
        entry.split("=", 1) for entry in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in entry
    )
    assert json.loads(environ["JUPYTER_TOKEN_BROKER_HUB"]) == {
        "version": 1,
        "provider_id": "hub",
        "title": "Demo IdP (hub login)",
    }
    state = hub.auth_state("alice")
    text = "\n".join(environ.values())
    client_secret = idp.client_secret_file.read_text().strip()
    for secret in (state["access_token"], state["refresh_token"], state["id_token"], client_secret):
        assert secret not in text


def test_callback_reaches_the_named_server_with_its_query(hub: Hub, browser: httpx.Client, lab: dict) -> None:
    code, state = secrets.token_urlsafe(24), broker_state("lab")
    answer = browser.get(f"{hub.url}{CALLBACK}", params={"code": code, "state": state, "iss": "http://localhost"})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("/user/alice/lab/token-broker/api/v1/callback?")
    assert f"code={code}" in location
    assert "state=" in location
    hub.authorization_codes.append(code)


@pytest.mark.parametrize(("server_name", "shown"), [("gone", "'gone' is not running"), ("", "default server is not")])
def test_callback_for_a_server_that_is_not_running_drops_the_code(
    hub: Hub, browser: httpx.Client, lab: dict, server_name: str, shown: str
) -> None:
    code = secrets.token_urlsafe(24)
    state = broker_state(server_name) if server_name else secrets.token_urlsafe(16)
    answer = browser.get(f"{hub.url}{CALLBACK}", params={"code": code, "state": state})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("/hub/token-broker/server-not-running")
    assert code not in location
    assert "spawn" not in location
    page = browser.get(httpx.URL(hub.url).join(location))
    assert page.status_code == 409
    assert shown in html.unescape(page.text)
    hub.authorization_codes.append(code)


def test_other_user_redirects_keep_the_hub_behaviour(hub: Hub, browser: httpx.Client, lab: dict) -> None:
    answer = browser.get(f"{hub.url}hub/user-redirect/lab/tree")
    assert answer.status_code == 302
    assert "/hub/spawn/alice" in answer.headers["location"] or "/user/alice/" in answer.headers["location"]


def test_no_token_secret_or_code_in_the_logs(hub: Hub, idp: Idp, browser: httpx.Client, lab: dict) -> None:
    token = hub.user_token("alice", ["custom:token-broker:token!user"])
    assert httpx.get(hub.token_route("alice"), headers={"Authorization": f"token {token}"}).status_code == 200
    state = hub.auth_state("alice")
    secrets_seen = [
        state["access_token"],
        state["refresh_token"],
        state["id_token"],
        idp.client_secret_file.read_text().strip(),
        *hub.authorization_codes,
    ]
    assert len(hub.authorization_codes) >= 4
    logs = hub.log_text() + idp.log_path.read_text()
    for secret in secrets_seen:
        assert secret not in logs
