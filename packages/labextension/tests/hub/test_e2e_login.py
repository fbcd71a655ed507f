"""A user logs in once at a real JupyterHub through the IdP's own form; every notebook then gets tokens of that login.

The hub runs the docs' fragment (``docs/z2jh/token_broker.py``); the tokens are checked by the demo API, a real
resource server validating the IdP's JWTs. Nobody signs in anywhere else: the IdP sees exactly one authorization.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import E2eStack, UserServer, e2e_stack, user_server

from hub_stack import login
from kernel_session import run_in_kernel

KERNEL_CODE = """
import json, requests
from jupyter_token_broker import BrokerAuth, get_token
api = {api!r}
token = get_token("hub")
whoami = requests.get(api + "/whoami", headers={{"Authorization": "Bearer " + token}}, timeout=10)
items = requests.get(api + "/items", auth=BrokerAuth("hub"), timeout=10)
print(json.dumps({{"whoami": [whoami.status_code, whoami.json()], "items": items.status_code}}))
"""


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2eStack]:
    # Tokens longer-lived than the kernel helper's default min_ttl (60 s), so the defaults work as a user runs them.
    with e2e_stack(Path(tmp_path_factory.mktemp("e2e-login")), access_token_ttl=90) as running:
        yield running


@pytest.fixture(scope="module")
def alice(e2e: E2eStack) -> UserServer:
    """alice logged in at the hub (through the IdP's form) and her default server started."""
    login(e2e.hub, "alice")
    e2e.hub.start_server("alice")
    return user_server(e2e.hub, "alice")


def last_json_line(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    return json.loads(lines[-1])


def test_one_hub_login_gives_a_kernel_tokens_the_api_accepts(e2e: E2eStack, alice: UserServer) -> None:
    answer = last_json_line(run_in_kernel(alice, KERNEL_CODE.format(api=e2e.api.url)))

    status, whoami = answer["whoami"]
    assert status == 200, whoami
    assert whoami["preferred_username"] == "alice"
    assert whoami["client_id"] == "jupyterhub", "a token of the hub's own login, not of another sign-in"
    assert answer["items"] == 200
    # One sign-in in all: the hub's. The kernel's tokens needed none.
    assert len(e2e.idp.events("authorization.success")) == 1


def test_the_panel_shows_the_hub_login(alice: UserServer) -> None:
    with alice.token_client() as client:
        answer = client.get(alice.api("providers"))
    assert answer.status_code == 200, answer.text
    hub = next((p for p in answer.json()["providers"] if p["id"] == "hub"), None)
    assert hub is not None, answer.json()
    assert hub["kind"] == "hub"
    assert hub["title"] == "Demo IdP (hub login)"
    assert hub["signed_in"] is True
    assert hub["needs_login"] is False
    assert hub["account"] == "alice"
