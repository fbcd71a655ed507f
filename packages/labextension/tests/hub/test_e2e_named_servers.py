"""Two named servers of one user, their kernels and the hub's own API all want a token at expiry: one IdP refresh.

alice runs her default server and a named one. Kernels in both (four threads each), direct calls to the hub's token
route and ``GET /hub/api/user`` (which makes the hub refresh the user, ``auth_refresh_age`` = 1 s) all start at the
same instant, when the hub login's access token has less than ``min_ttl`` left. The IdP rotates refresh tokens and
revokes the whole grant on reuse: a second refresh with the same refresh token would show as ``invalid_grant``.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from e2e_stack import E2E_TOKEN_TTL, E2eStack, LoggedIn, run_in_user_kernel, user_server
from hub_stack import wait_until

TOKEN_TTL = E2E_TOKEN_TTL
#: More than a token has left at the chosen instant, less than a fresh one has after waiting for the refresh.
MIN_TTL = TOKEN_TTL - 8
KERNEL_THREADS = 4

KERNEL_CODE = """
import json, pathlib, threading, time
from jupyter_token_broker import get_token
signals = pathlib.Path({signals!r})
(signals / "ready-{name}").write_text("")
while not (signals / "go").exists():
    time.sleep(0.02)
start = float((signals / "go").read_text())
time.sleep(max(0.0, start - time.time()))
tokens, errors = [], []
def one():
    try:
        tokens.append(get_token("hub", min_ttl={min_ttl}))
    except Exception as err:
        errors.append(repr(err))
threads = [threading.Thread(target=one) for _ in range({threads})]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({{"tokens": tokens, "errors": errors}}))
"""


def test_two_named_servers_kernels_and_hub_api_at_expiry_make_exactly_one_refresh(
    e2e: E2eStack, alice: LoggedIn, tmp_path: Path
) -> None:
    hub, idp = e2e.hub, e2e.idp
    hub.start_server("alice", "second")
    servers = {"default": alice.server, "second": user_server(hub, "alice", "second")}
    route_token = hub.user_token("alice", ["custom:token-broker:token!user=alice"])
    user_token = hub.user_token("alice", ["read:users:name!user=alice"])
    signals = tmp_path / "signals"
    signals.mkdir()

    outputs: dict[str, str] = {}

    def run(name: str) -> None:
        code = KERNEL_CODE.format(signals=str(signals), name=name, min_ttl=MIN_TTL, threads=KERNEL_THREADS)
        outputs[name] = run_in_user_kernel(servers[name], code, timeout=240)

    kernels = [threading.Thread(target=run, args=(name,)) for name in servers]
    for kernel in kernels:
        kernel.start()
    wait_until(lambda: all((signals / f"ready-{n}").exists() for n in servers), 240, "both kernels ready")

    with httpx.Client(headers={"Authorization": f"token {route_token}"}, timeout=30) as client:
        current = client.get(hub.token_route("alice"), params={"min_ttl": 1})
    assert current.status_code == 200, current.text
    # The instant: the current token then has less than MIN_TTL left, so every caller needs a fresher one.
    start = max(time.time() + 1, current.json()["expires_at"] - MIN_TTL + 1)
    refreshes_before = idp.refresh_count()
    invalid_grants_before = idp.invalid_grant_count()
    (signals / "go").write_text(str(start))

    def route_call() -> tuple[int, str]:
        time.sleep(max(0.0, start - time.time()))
        with httpx.Client(headers={"Authorization": f"token {route_token}"}, timeout=30) as client:
            answer = client.get(hub.token_route("alice"), params={"min_ttl": MIN_TTL})
        return answer.status_code, answer.json().get("access_token", answer.text)

    def hub_user_call() -> int:
        time.sleep(max(0.0, start - time.time()))
        with httpx.Client(headers={"Authorization": f"token {user_token}"}, timeout=30) as client:
            return client.get(f"{hub.api}user").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        routes = [pool.submit(route_call) for _ in range(6)]
        users = [pool.submit(hub_user_call) for _ in range(4)]
        route_answers = [f.result() for f in routes]
        user_answers = [f.result() for f in users]
    for kernel in kernels:
        kernel.join(240)

    kernel_answers = {}
    for name, output in outputs.items():
        lines = [line for line in output.splitlines() if line.startswith("{")]
        assert lines, f"{name}: {output}"
        kernel_answers[name] = json.loads(lines[-1])
    assert {name: answer["errors"] for name, answer in kernel_answers.items()} == {"default": [], "second": []}
    assert all(status == 200 for status, _ in route_answers), route_answers
    assert user_answers == [200] * len(user_answers)

    tokens = {token for _, token in route_answers}
    for answer in kernel_answers.values():
        assert len(answer["tokens"]) == KERNEL_THREADS
        tokens |= set(answer["tokens"])
    assert idp.refresh_count() - refreshes_before == 1, "exactly one refresh at the IdP"
    assert idp.invalid_grant_count() == invalid_grants_before
    assert len(tokens) == 1, "every caller, in both servers and at the hub, got the one fresh token"
