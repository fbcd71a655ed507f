"""The IdP stops answering while a kernel needs a refreshed token of the hub login.

The kernel gets an error derived from the hub's 503 (``upstream_unavailable``) that says when to try again; the
user's hub session survives (the browser is still logged in, the login keeps its refresh token); once the IdP is
back, the kernel gets tokens again, and the IdP saw no reuse of a refresh token.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from e2e_stack import E2E_TOKEN_TTL, E2eStack, LoggedIn, UserServer, run_in_user_kernel
from hub_stack import wait_until

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
#: The same, once the kernel is up and the test says go (so that the IdP is paused only for the request itself).
GET_TOKEN_ON_SIGNAL = (
    """
import pathlib, time
signals = pathlib.Path({signals!r})
(signals / "ready").write_text("")
while not (signals / "go").exists():
    time.sleep(0.05)
"""
    + GET_TOKEN
)


def last_json(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    return json.loads(lines[-1])


def kernel_answer(server: UserServer, min_ttl: int) -> dict:
    return last_json(run_in_user_kernel(server, GET_TOKEN.format(min_ttl=min_ttl), timeout=180))


def test_idp_outage_during_a_refresh_gives_the_kernel_a_retry_hint_and_keeps_the_hub_login(
    e2e: E2eStack, alice: LoggedIn, tmp_path: Path
) -> None:
    hub, idp = e2e.hub, e2e.idp
    browser, server = alice.browser, alice.server
    assert kernel_answer(server, 5) == {"token": True}

    # A kernel that asks, once told to, for more than any token a second old has left: the hub must refresh.
    outputs: list[str] = []
    code = GET_TOKEN_ON_SIGNAL.format(signals=str(tmp_path), min_ttl=TOKEN_TTL - 1)
    kernel = threading.Thread(target=lambda: outputs.append(run_in_user_kernel(server, code, timeout=180)))
    kernel.start()
    wait_until((tmp_path / "ready").exists, 180, "the kernel to be up")

    invalid_grants = idp.invalid_grant_count()
    idp.pause()
    # Whatever happens here, the IdP answers again well within the hub's deadline for a refresh it sent (60 s):
    # a refresh the IdP received after the hub gave up would rotate the refresh token unseen and end the login.
    safety = threading.Timer(20, idp.resume)
    safety.start()
    try:
        (tmp_path / "go").write_text("")
        kernel.join(60)
        assert outputs, "the kernel's answer during the outage"
        failed = last_json(outputs[0])
        assert failed["status"] == 503, failed
        assert failed["code"] == "upstream_unavailable"
        # The hub session survives: the browser is still logged in, and the login keeps its refresh token.
        home = browser.get(f"{hub.url}hub/home")
        assert home.status_code == 200, (home.status_code, home.headers.get("location"))
        state = hub.auth_state("alice")
        assert state is not None
        assert state.get("refresh_token"), "the hub login keeps its tokens through the outage"
    finally:
        safety.cancel()
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
