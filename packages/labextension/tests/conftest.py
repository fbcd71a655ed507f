"""Fixtures: the demo IdP, and real Jupyter servers running the extension with the real broker bundle.

Ports: free ones from the OS, picked once per session (a running ``make demo`` or another suite never collides).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo_idp import DemoIdp, start_idp
from fixtures.two_users import TOKENS
from jupyter_process import JupyterServer, free_ports, start_server

IDP_PORT, DEMO_API_PORT, STANDALONE_PORT, HUB_PORT, RESTART_PORT, LAX_XSRF_PORT = free_ports(6)


@pytest.fixture(scope="session")
def idp() -> Iterator[DemoIdp]:
    server = start_idp(IDP_PORT, [STANDALONE_PORT, HUB_PORT, RESTART_PORT], api_port=DEMO_API_PORT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def providers(idp: DemoIdp) -> list[dict]:
    return [
        {
            "id": "demo",
            "title": "Demo IdP",
            "kind": "oidc",
            "issuer": idp.issuer,
            "client_id": "jupyter-demo",
            "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
        }
    ]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, providers: list[dict]) -> Iterator[JupyterServer]:
    """A standalone single-user server (no JupyterHub): every authenticated user is the owner."""
    running = start_server(tmp_path_factory.mktemp("standalone"), STANDALONE_PORT, providers)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory, providers: list[dict]) -> Iterator[JupyterServer]:
    """alice's server under JupyterHub (``JUPYTERHUB_USER=alice``); mallory is a visitor with access to it."""
    running = start_server(
        tmp_path_factory.mktemp("hub"),
        HUB_PORT,
        providers,
        env_extra={"JUPYTERHUB_USER": "alice"},
        config_extra='c.ServerApp.identity_provider_class = "two_users.TwoUsersIdentityProvider"',
        owner_token=next(token for token, name in TOKENS.items() if name == "alice"),
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def restart_server(tmp_path_factory: pytest.TempPathFactory, providers: list[dict]) -> Iterator[JupyterServer]:
    """A server whose broker the test kills."""
    running = start_server(tmp_path_factory.mktemp("restart"), RESTART_PORT, providers)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def lax_xsrf_server(tmp_path_factory: pytest.TempPathFactory, providers: list[dict]) -> Iterator[JupyterServer]:
    """A server whose admin switched Jupyter's XSRF check off (``disable_check_xsrf``)."""
    running = start_server(
        tmp_path_factory.mktemp("lax-xsrf"),
        LAX_XSRF_PORT,
        providers,
        config_extra="c.ServerApp.disable_check_xsrf = True",
    )
    yield running
    running.stop()
