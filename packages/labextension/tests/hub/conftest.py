"""Fixtures of the hub-side tests: a real JupyterHub (from the repo's .venv) with GenericOAuthenticator against the
demo IdP, configured by ``jupyter_token_broker.hub.configure`` (see hub_stack.py). Every port is free at start."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

# alice and e2e: the shared stack of the end-to-end tests (test_e2e_*.py), one IdP, demo API and hub per session.
from e2e_stack import alice, e2e  # noqa: F401
from hub_stack import CHP, SHORT_TOKEN_TTL, Hub, Idp, start_stack

#: The hub client's access-token lifetime in the shared stack: short, so that tests see several expiries.
TOKEN_TTL = SHORT_TOKEN_TTL
#: A service holding the custom scope for every user (its token is the file `reader-token` in the hub's dir).
READER_SERVICE = """
import secrets
reader_token = secrets.token_hex(32)
with open(os.path.join(settings["dir"], "reader-token"), "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
    f.write(reader_token)
c.JupyterHub.services.append({"name": "token-reader", "api_token": reader_token})
c.JupyterHub.load_roles.append(
    {"name": "token-reader", "scopes": ["custom:token-broker:token"], "services": ["token-reader"]}
)
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not CHP.exists() or shutil.which("node") is None:
        skip = pytest.mark.skip(reason="configurable-http-proxy (npm) or node missing: run npm ci")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Idp, Hub]]:
    """The IdP (12 s hub access tokens) and a hub running configure() with short timeouts, one per test module."""
    idp, hub = start_stack(
        tmp_path_factory.mktemp("hub-stack"),
        access_token_ttl=TOKEN_TTL,
        configure={"refresh_timeout_seconds": 2.0, "retry_after_seconds": 2, "refresh_margin_seconds": 4},
        # The hub refreshes its users (refresh_user) at most every 2 s: its refreshes and the route's share the lock.
        auth_refresh_age=2,
        extra_config=READER_SERVICE,
    )
    yield idp, hub
    hub.stop()
    idp.stop()


@pytest.fixture(scope="module")
def idp(stack: tuple[Idp, Hub]) -> Idp:
    return stack[0]


@pytest.fixture(scope="module")
def hub(stack: tuple[Idp, Hub]) -> Hub:
    return stack[1]
