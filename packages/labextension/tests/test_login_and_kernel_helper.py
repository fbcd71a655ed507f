"""A person signs in through the demo IdP; notebook code then gets tokens, until the person signs out."""

from __future__ import annotations

import pytest

from jupyter_token_broker import LoginRequired, TokenBrokerError, get_token
from jupyter_token_broker.discovery import ServerInfo

from browser_session import browser_login, xsrf_headers
from demo_idp import sign_in
from jupyter_process import JupyterServer, runtime_info
from kernel_session import run_in_kernel

KERNEL_CODE = """
from jupyter_token_broker import LoginRequired, get_token
try:
    token = get_token("demo")
    print("TOKEN", token.count(".") == 2, len(token) > 100)
except LoginRequired as err:
    print("LOGIN-REQUIRED", err.provider, err.code, err.status)
    print(err)
"""


def server_info(server: JupyterServer) -> ServerInfo:
    info = runtime_info(server)
    return ServerInfo(url=info["url"], token=info["token"])


def signed_in(server: JupyterServer) -> bool:
    with server.token_client() as client:
        (demo,) = client.get(server.api("providers")).json()["providers"]
    return demo["signed_in"]


@pytest.fixture
def signed_out(server: JupyterServer):
    browser = browser_login(server)
    browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser))
    yield
    browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser))


@pytest.mark.usefixtures("signed_out")
def test_get_token_before_login_raises_login_required_naming_the_provider(server: JupyterServer) -> None:
    with pytest.raises(LoginRequired) as raised:
        get_token("demo", server=server_info(server))
    assert raised.value.provider == "demo"
    assert raised.value.code == "login_required"
    assert raised.value.status == 401
    assert str(raised.value) == (
        "Provider 'demo' needs a login: open the Token Broker panel in JupyterLab and sign in."
    )


def test_get_token_for_an_unknown_provider_raises_its_code(server: JupyterServer) -> None:
    with pytest.raises(TokenBrokerError) as raised:
        get_token("nope", server=server_info(server))
    assert (raised.value.code, raised.value.status) == ("unknown_provider", 404)


@pytest.mark.usefixtures("signed_out")
def test_sign_in_then_tokens_for_notebook_code_until_sign_out(server: JupyterServer) -> None:
    browser = browser_login(server)
    login = sign_in(browser, server, "demo", "alice", "demo")
    assert login.callback.status_code == 200
    assert login.callback.headers["Content-Type"].startswith("text/html")
    assert "jupyter-token-broker" in login.callback.text
    assert signed_in(server)

    token = get_token("demo", server=server_info(server))
    assert token.count(".") == 2  # the demo IdP issues JWT access tokens

    from_browser = browser.post(server.api("providers/demo/token"), json={"min_ttl": 30}, headers=xsrf_headers(browser))
    assert from_browser.status_code == 200
    assert from_browser.headers["Cache-Control"] == "no-store"
    assert "refresh_token" not in from_browser.json()

    assert browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser)).status_code == 204
    with pytest.raises(LoginRequired):
        get_token("demo", server=server_info(server))

    log = server.log_text()
    for secret in (token, from_browser.json()["access_token"], login.authorization_code):
        assert secret not in log


def test_kernel_started_by_the_server_finds_it_and_gets_a_token(server: JupyterServer) -> None:
    browser = browser_login(server)
    browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser))
    assert "LOGIN-REQUIRED demo login_required 401" in run_in_kernel(server, KERNEL_CODE)

    sign_in(browser, server, "demo", "alice", "demo")
    output = run_in_kernel(server, KERNEL_CODE)
    assert "TOKEN True True" in output, output
    browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser))
