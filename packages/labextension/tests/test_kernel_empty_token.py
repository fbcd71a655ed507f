"""Regression: on a server started with an empty token (``ServerApp.token = ''``) and XSRF checks on, ``get_token``
failed with "'_xsrf' argument missing from POST", because it sent an empty ``Authorization: token`` header, which
does not exempt a POST from Jupyter's XSRF check.

A real jupyter-server with ``IdentityProvider.token = ''`` (authentication off, XSRF on), its own demo IdP
(free ports from the OS), a real sign-in.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

from jupyter_token_broker import LoginRequired, TokenBrokerError, get_token
from jupyter_token_broker.discovery import ServerInfo, from_runtime_file

from demo_idp import DemoIdp, sign_in, start_idp
from jupyter_process import JupyterServer, free_ports, start_server

IDP_PORT, API_PORT, SERVER_PORT = free_ports(3)


@pytest.fixture(scope="module")
def own_idp() -> Iterator[DemoIdp]:
    running = start_idp(IDP_PORT, [SERVER_PORT], api_port=API_PORT)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokenless_server(tmp_path_factory: pytest.TempPathFactory, own_idp: DemoIdp) -> Iterator[JupyterServer]:
    providers = [
        {
            "id": "demo",
            "title": "Demo IdP",
            "kind": "oidc",
            "issuer": own_idp.issuer,
            "client_id": "jupyter-demo",
            "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
        }
    ]
    running = start_server(
        tmp_path_factory.mktemp("tokenless"),
        SERVER_PORT,
        providers,
        config_extra='c.IdentityProvider.token = ""\nc.ServerApp.disable_check_xsrf = False',
    )
    yield running
    running.stop()


def browser(server: JupyterServer) -> httpx.Client:
    """A browser on a server without authentication: just its ``_xsrf`` cookie, as JupyterLab would have."""
    client = httpx.Client(timeout=30, trust_env=False, follow_redirects=False)
    client.cookies.set("_xsrf", "browser-xsrf-value", domain="127.0.0.1")
    return client


def kernels_view_of(server: JupyterServer) -> ServerInfo:
    """What a kernel of this server finds: its runtime file, whose token is empty."""
    info = from_runtime_file(server.runtime_dir / f"jpserver-{server.pid}.json")
    assert info is not None
    assert info.token == ""
    return info


def test_the_server_refuses_an_empty_authorization_token_on_post(tokenless_server: JupyterServer) -> None:
    # The premise of the regression: what the kernel helper used to send (httpx would not even send it).
    request = urllib.request.Request(  # noqa: S310 - an http URL of the test server
        tokenless_server.api("providers/demo/token"),
        data=b"{}",
        method="POST",
        headers={"Authorization": "token ", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30)
    with refused.value as response:
        assert response.code == 403
        assert "'_xsrf' argument missing from POST" in response.read().decode()


def test_get_token_on_a_server_with_an_empty_token_reaches_the_broker(tokenless_server: JupyterServer) -> None:
    info = kernels_view_of(tokenless_server)
    with pytest.raises(LoginRequired):  # the broker's answer, not Jupyter's XSRF refusal
        get_token("demo", server=info)

    with browser(tokenless_server) as person:
        sign_in(person, tokenless_server, "demo", "alice", "demo")
        try:
            token = get_token("demo", server=info)
            assert token.count(".") == 2
        finally:
            person.delete(tokenless_server.api("providers/demo/grant"), headers={"X-XSRFToken": "browser-xsrf-value"})


def test_a_server_that_needs_a_credential_says_the_kernel_has_none_to_use(server: JupyterServer) -> None:
    # A password-only server answers a kernel without a token like this server (which has one) answers.
    with pytest.raises(TokenBrokerError) as raised:
        get_token("demo", server=ServerInfo(url=server.url, token=""))
    assert (raised.value.code, raised.value.status) == ("forbidden", 403)
    assert "has no token this kernel could use" in str(raised.value)
