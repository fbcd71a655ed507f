"""Fixtures: the demo IdP, and real Jupyter servers running the extension with the real broker bundle.

Ports 9610-9629 (this package's share of 9600-9699): IdP 9610, servers 9620-9623.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo_idp import DemoIdp, start_idp
from jupyter_process import JupyterServer, start_server

IDP_PORT = 9610
STANDALONE_PORT = 9620
HUB_PORT = 9621
RESTART_PORT = 9622
LAX_XSRF_PORT = 9623


@pytest.fixture(scope="session")
def idp() -> Iterator[DemoIdp]:
    server = start_idp(IDP_PORT, [STANDALONE_PORT, HUB_PORT, RESTART_PORT])
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
