"""A real JupyterHub share: the visitor reaches every handler of the owner's server, and its kernels run as the owner.

alice shares her server with bob (``POST /hub/api/shares/alice/`` with an admin token). bob's own requests to the
broker routes get 403; code bob runs in alice's kernel (which holds alice's server token) gets a clear refusal
saying the server is shared. Once the share is revoked, alice's kernel gets tokens again.
"""

from __future__ import annotations

import json
import time

from e2e_stack import E2eStack, LoggedIn, UserServer, run_in_user_kernel
from hub_stack import login, wait_until

GET_TOKEN = """
import json
from jupyter_token_broker import TokenBrokerError, get_token
try:
    print(json.dumps({"token": bool(get_token("hub", min_ttl=30))}))
except TokenBrokerError as err:
    print(json.dumps({"status": err.status, "code": err.code, "message": err.description}))
"""

#: Every route of the broker behind a Jupyter server: (method, path, JSON body).
BROKER_ROUTES = [
    ("GET", "providers", None),
    ("POST", "providers/hub/token", {}),
    ("POST", "providers/hub/login", {}),
    ("GET", "providers/hub/login", None),
    ("DELETE", "providers/hub/grant", None),
    ("GET", "events", None),
    ("GET", "consents", None),
    ("POST", "admin/revoke", {"reason": "test"}),
    ("GET", "callback?code=x&state=y", None),
]


def kernel_answer(server: UserServer) -> dict:
    output = run_in_user_kernel(server, GET_TOKEN)
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    return json.loads(lines[-1])


def test_a_shared_servers_visitor_and_kernels_get_no_tokens_until_the_share_is_revoked(
    e2e: E2eStack, alice: LoggedIn
) -> None:
    hub = e2e.hub
    login(hub, "bob")
    owner = alice.server
    assert kernel_answer(owner) == {"token": True}, "before sharing, alice's kernel gets tokens"

    admin = hub.admin()
    shared = admin.post(f"{hub.api}shares/alice/", json={"user": "bob"})
    assert shared.status_code == 200, shared.text
    # bob, the visitor: a token of his that the share lets into alice's server.
    visitor = UserServer(url=owner.url, token=hub.user_token("bob", ["access:servers!server=alice/"]), home=owner.home)
    with visitor.token_client() as client:
        assert client.get(f"{owner.url}api/status").status_code == 200, "the share lets bob into alice's server"
        for method, path, body in BROKER_ROUTES:
            answer = client.request(method, visitor.api(path), json=body)
            assert answer.status_code == 403, f"{method} {path}: {answer.status_code} {answer.text}"

    # Code bob runs in alice's server runs as alice, with alice's server token: refused while shared. The server
    # reuses the hub's answer to "is it shared?" for c.TokenBroker.share_check_seconds (5 s); past that, every token
    # request sees the share.
    time.sleep(6)
    refused = kernel_answer(visitor)
    assert refused["status"] == 403, refused
    assert refused["code"] == "forbidden"
    assert "shared" in refused["message"], refused
    # And alice's own kernels too: the broker cannot tell whose code a kernel runs.
    assert kernel_answer(owner)["code"] == "forbidden"

    revoked = admin.delete(f"{hub.api}shares/alice/")
    assert revoked.status_code == 204, revoked.text
    # The server reuses the hub's "is it shared?" answer for a few seconds (share_check_seconds).
    wait_until(lambda: kernel_answer(owner) == {"token": True}, 60, "alice's kernel gets tokens again", interval=2)
