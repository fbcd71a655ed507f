"""The IdP stops answering while a kernel needs a refreshed token of the hub login.

The kernel gets an error derived from the hub's 503 (``upstream_unavailable``) that says when to try again; the
user's hub session survives (the browser is still logged in, the login keeps its refresh token); once the IdP is
back, the kernel gets tokens again, and the IdP saw no reuse of a refresh token.
"""

from __future__ import annotations

import json
import re

from e2e_stack import E2E_TOKEN_TTL, E2eStack, LoggedIn, UserServer
from hub_stack import wait_until
from kernel_session import run_in_kernel

#: The shared stack's hub waits 2 s for the IdP before answering 503 (E2E_HUB_SETTINGS; the refresh goes on).
TOKEN_TTL = E2E_TOKEN_TTL

GET_TOKEN = """
import json
from jupyter_token_broker import TokenBrokerError, get_token
try:
    print(json.dumps({{"token": bool(get_token("hub", min_ttl={min_ttl}))}}))
except TokenBrokerError as err:
    print(json.dumps({{"status": err.status, "code": err.code, "message": err.description,
                      "retry_after": getattr(err, "retry_after", None)}}))
"""


def kernel_answer(server: UserServer, min_ttl: int) -> dict:
    output = run_in_kernel(server, GET_TOKEN.format(min_ttl=min_ttl))
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    return json.loads(lines[-1])


def test_idp_outage_during_a_refresh_gives_the_kernel_a_retry_hint_and_keeps_the_hub_login(
    e2e: E2eStack, alice: LoggedIn
) -> None:
    hub, idp = e2e.hub, e2e.idp
    browser, server = alice.browser, alice.server
    assert kernel_answer(server, 5) == {"token": True}

    invalid_grants = idp.invalid_grant_count()
    idp.pause()
    try:
        # More than any token a second old has left: the hub must refresh, and the IdP does not answer.
        failed = kernel_answer(server, TOKEN_TTL - 1)
        assert failed["status"] == 503, failed
        assert failed["code"] == "upstream_unavailable"
        # The hub session survives: the browser is still logged in, and the login keeps its refresh token.
        home = browser.get(f"{hub.url}hub/home")
        assert home.status_code == 200, (home.status_code, home.headers.get("location"))
        state = hub.auth_state("alice")
        assert state is not None
        assert state.get("refresh_token"), "the hub login keeps its tokens through the outage"
    finally:
        idp.resume()

    wait_until(
        lambda: kernel_answer(server, TOKEN_TTL - 5) == {"token": True}, 60, "tokens again after the outage", interval=2
    )
    assert idp.invalid_grant_count() == invalid_grants, (
        "the refresh sent during the outage finished and its rotation was kept"
    )
    assert browser.get(f"{hub.url}hub/home").status_code == 200
    # Checked last, so that the rest of the story is checked even without it: the error says when to retry.
    hint = failed.get("retry_after") or re.search(r"try again|retry", failed["message"], re.IGNORECASE)
    assert hint, f"no retry hint in the kernel's error: {failed}"
