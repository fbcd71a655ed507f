"""A user logs in once at a real JupyterHub through the IdP's own form; every notebook then gets tokens of that login.

The hub runs the docs' fragment (``docs/z2jh/token_broker.py``); the tokens are checked by the demo API, a real
resource server validating the IdP's JWTs. Nobody signs in anywhere else: the IdP sees no new authorization while
the kernel gets its tokens, with the kernel helper's defaults (tokens of 90 s, no min_ttl: the default).
"""

from __future__ import annotations

import json

from e2e_stack import E2eStack, LoggedIn, run_in_user_kernel

KERNEL_CODE = """
import json, requests
from jupyter_token_broker import BrokerAuth, get_token
api = {api!r}
token = get_token("hub")
whoami = requests.get(api + "/whoami", headers={{"Authorization": "Bearer " + token}}, timeout=10)
items = requests.get(api + "/items", auth=BrokerAuth("hub"), timeout=10)
print(json.dumps({{"whoami": [whoami.status_code, whoami.json()], "items": items.status_code}}))
"""


def last_json_line(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    return json.loads(lines[-1])


def test_one_hub_login_gives_a_kernel_tokens_the_api_accepts(e2e: E2eStack, alice: LoggedIn) -> None:
    authorizations = len(e2e.idp.events("authorization.success"))

    answer = last_json_line(run_in_user_kernel(alice.server, KERNEL_CODE.format(api=e2e.api.url)))

    status, whoami = answer["whoami"]
    assert status == 200, whoami
    assert whoami["preferred_username"] == "alice"
    assert whoami["client_id"] == "jupyterhub", "a token of the hub's own login, not of another sign-in"
    assert answer["items"] == 200
    assert len(e2e.idp.events("authorization.success")) == authorizations, "no second sign-in"


def test_the_panel_shows_the_hub_login(alice: LoggedIn) -> None:
    with alice.server.token_client() as client:
        answer = client.get(alice.server.api("providers"))
    assert answer.status_code == 200, answer.text
    hub = next((p for p in answer.json()["providers"] if p["id"] == "hub"), None)
    assert hub is not None, answer.json()
    assert hub["kind"] == "hub"
    assert hub["title"] == "Demo IdP (hub login)"
    assert hub["signed_in"] is True
    assert hub["needs_login"] is False
    assert hub["account"] == "alice"
