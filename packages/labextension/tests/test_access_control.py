"""Who gets through to the broker: Jupyter's authentication and XSRF check, the owner check, request limits."""

from __future__ import annotations

from urllib.parse import quote

from browser_session import browser_login, xsrf_headers
from demo_idp import DemoIdp
from fixtures.two_users import TOKENS
from jupyter_process import JupyterServer

ALICE = next(token for token, name in TOKENS.items() if name == "alice")
MALLORY = next(token for token, name in TOKENS.items() if name == "mallory")


def test_unauthenticated_request_is_refused_by_jupyter(server: JupyterServer) -> None:
    with server.token_client("not-the-token") as client:
        assert client.get(server.api("providers")).status_code == 403
        assert client.post(server.api("providers/demo/token"), json={}).status_code == 403
    with server.token_client() as client:
        client.headers.pop("Authorization")
        assert client.get(server.api("providers")).status_code == 403


def test_callback_without_login_sends_the_browser_to_jupyters_login_page(server: JupyterServer) -> None:
    with server.token_client() as client:
        client.headers.pop("Authorization")
        response = client.get(server.api("callback?code=x&state=y"))
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_browser_post_without_xsrf_token_is_refused(server: JupyterServer, idp: DemoIdp) -> None:
    browser = browser_login(server)
    assert browser.get(server.api("providers")).status_code == 200
    refused = browser.post(server.api("providers/demo/login"), json={})
    assert refused.status_code == 403
    accepted = browser.post(server.api("providers/demo/login"), json={}, headers=xsrf_headers(browser))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["authorization_url"].startswith(f"{idp.issuer}/")


def test_xsrf_check_stays_on_for_the_broker_when_disabled_server_wide(lax_xsrf_server: JupyterServer) -> None:
    browser = browser_login(lax_xsrf_server)
    assert browser.post(lax_xsrf_server.api("providers/demo/login"), json={}).status_code == 403
    with lax_xsrf_server.token_client() as client:
        assert client.post(lax_xsrf_server.api("providers/demo/login"), json={}).status_code == 200


def test_login_uses_the_servers_own_callback_as_redirect_uri(server: JupyterServer) -> None:
    with server.token_client() as client:
        started = client.post(server.api("providers/demo/login"), json={})
    assert started.status_code == 200, started.text
    assert f"redirect_uri={quote(server.api('callback'), safe='')}" in started.json()["authorization_url"]


def test_body_over_16_kib_is_refused_with_413(server: JupyterServer) -> None:
    with server.token_client() as client:
        response = client.post(server.api("providers/demo/token"), json={"scopes": ["x" * 17000]})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_no_request_can_hand_the_broker_a_grant(server: JupyterServer) -> None:
    # Grants come only from a sign-in the broker completes itself: no route takes one from a request.
    browser = browser_login(server)
    response = browser.put(server.api("providers/demo/grant"), json={}, headers=xsrf_headers(browser))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_forged_broker_headers_are_replaced(server: JupyterServer) -> None:
    forged = {"X-Broker-Key": "guess", "X-Broker-User": "someone-else", "X-Broker-Caller": "admin"}
    with server.token_client() as client:
        response = client.get(server.api("providers"), headers=forged)
    assert response.status_code == 200


def test_path_climbing_out_of_the_api_is_refused(server: JupyterServer) -> None:
    with server.token_client() as client:
        response = client.get(server.api("providers/%2e%2e/%2e%2e/metrics"))
    assert response.status_code in (400, 404)


def test_visitor_of_a_hub_users_server_gets_403(hub_server: JupyterServer) -> None:
    with hub_server.token_client(MALLORY) as client:
        visitor = client.get(hub_server.api("providers"))
        visitor_token = client.post(hub_server.api("providers/demo/token"), json={})
    assert visitor.status_code == 403
    assert visitor.json()["error"] == "forbidden"
    assert visitor_token.status_code == 403
    with hub_server.token_client(ALICE) as client:
        owner = client.get(hub_server.api("providers"))
    assert owner.status_code == 200
    assert [p["id"] for p in owner.json()["providers"]] == ["demo"]
