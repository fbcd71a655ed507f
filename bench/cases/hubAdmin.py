"""The hub admin API at scale: a real JupyterHub with N users holding real hub logins, M of them with running
servers, timed through ``GET admin/users`` (the list) and ``POST admin/revoke`` (one provider for everyone).

Run by ``cases/hubAdmin.mjs`` (``PYTHONPATH`` = the hub tests' folders, for ``hub_stack``); prints progress on
stderr and one JSON line of figures on stdout.

How the users get their hub logins: the demo IdP has two people (alice, bob), so each of the N users' auth_state
is a real login of alice or bob through the IdP's own form (a new IdP session and a new grant every time, with its
own refresh token), read back from the hub and written to the user with the hub's REST API
(``PATCH /hub/api/users/{name}`` ``{"auth_state": …}``, scope ``admin:auth_state``). So every user holds exactly
what the authenticator writes at login, and every refresh token is distinct and live at the IdP: the revocation
does N real RFC 7009 calls, as on a hub whose N users logged in. Only the account inside the tokens is alice or bob.
The M running servers are started by the hub (SimpleLocalProcessSpawner, as in the hub tests), each with the
server extension and its broker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from hub_stack import Hub, login, start_stack, wait_until

ADMIN_API = "hub/api/token-broker/v1/admin/"
ACCOUNTS = ("alice", "bob")
#: A service holding the admin scope (its token in a 0600 file in the hub's directory), and admin:groups to put the
#: users with and without running servers in two groups (the list is then also timed per group).
BENCH_ADMIN = """
import secrets
bench_admin_token = secrets.token_hex(32)
with open(os.path.join(settings["dir"], "bench-admin-token"), "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
    f.write(bench_admin_token)
c.JupyterHub.services.append({"name": "bench-admin", "api_token": bench_admin_token})
c.JupyterHub.load_roles.append(
    {"name": "bench-admin", "scopes": ["custom:token-broker:admin", "admin:groups"], "services": ["bench-admin"]}
)
# Many servers start at once on a small machine.
c.JupyterHub.concurrent_spawn_limit = 0
"""


def say(text: str) -> None:
    sys.stderr.write(f"[hubAdmin {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def expect(holds: bool, answer: httpx.Response) -> None:
    if not holds:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text[:500]}"
        )


def create_users(hub: Hub, names: list[str]) -> None:
    answer = hub.admin().post(f"{hub.api}users", json={"usernames": names})
    expect(answer.status_code == 201, answer)


def give_hub_logins(hub: Hub, names: list[str]) -> float:
    """Each user gets the auth_state of a fresh real login (see the module's doc); returns the seconds taken."""
    started = time.monotonic()
    errors: list[str] = []

    def work(account: str, share: list[str]) -> None:
        admin = httpx.Client(headers={"Authorization": f"token {hub.admin_token}"}, timeout=60)
        try:
            for index, name in enumerate(share):
                browser = login(hub, account)
                browser.close()
                hub.clients.remove(browser)
                state = admin.get(f"{hub.api}users/{account}").json().get("auth_state")
                if not state or not state.get("refresh_token"):
                    errors.append(f"{account}'s login left no refresh token")
                    return
                answer = admin.patch(f"{hub.api}users/{name}", json={"auth_state": state})
                if answer.status_code != 200:
                    errors.append(f"PATCH {name}: {answer.status_code}")
                    return
                if index % 50 == 49:
                    say(f"  {account}: {index + 1}/{len(share)} logins copied")
        finally:
            admin.close()

    threads = [
        threading.Thread(target=work, args=(account, names[i :: len(ACCOUNTS)])) for i, account in enumerate(ACCOUNTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return time.monotonic() - started


def start_servers(hub: Hub, names: list[str], timeout: float) -> float:
    started = time.monotonic()
    admin = hub.admin()
    for name in names:
        answer = admin.post(f"{hub.api}users/{name}/server")
        expect(answer.status_code in (201, 202), answer)

    def all_ready() -> bool:
        users = admin.get(f"{hub.api}users", params={"state": "ready"}).json()
        return len({u["name"] for u in users} & set(names)) == len(names)

    wait_until(all_ready, timeout, f"{len(names)} servers ready", interval=1)
    return time.monotonic() - started


def make_group(hub: Hub, token: str, name: str, members: list[str]) -> None:
    client = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=60)
    try:
        answer = client.post(f"{hub.api}groups/{name}", json={"users": members})
        expect(answer.status_code == 201, answer)
    finally:
        client.close()


def series(client: httpx.Client, url: str, params: dict[str, str] | None, calls: int) -> list[float]:
    latencies = []
    for _ in range(calls):
        elapsed, answer = timed(client, "GET", url, params=params)
        expect(answer.status_code == 200, answer)
        latencies.append(elapsed)
    return latencies


def timed(client: httpx.Client, method: str, url: str, **kwargs: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = client.request(method, url, **kwargs)
    return (time.perf_counter() - started) * 1000, answer


def check_list(body: dict[str, Any], users: int, running: int) -> dict[str, int]:
    """What the list shows; it must show every user (the bench's and the IdP accounts that logged in)."""
    listed = body["users"]
    servers = [s for u in listed for s in u["servers"] if s["running"]]
    figures = {
        "users": len(listed),
        "with_hub_login": sum(1 for u in listed if u["hub_login"]["held"]),
        "running_servers": len(servers),
        "servers_answered": sum(1 for s in servers if s["providers"] is not None),
        "servers_not_answered": sum(1 for s in servers if s["error"] is not None),
    }
    if figures["users"] != users + len(ACCOUNTS) or figures["running_servers"] != running:
        raise RuntimeError(f"the list does not show the bench's hub: {figures}")
    return figures


def measure(hub: Hub, token: str, *, users: int, running: int, calls: int, provider: str) -> dict[str, Any]:
    client = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=600)
    try:
        url = hub.url + ADMIN_API
        cold_ms, answer = timed(client, "GET", url + "users")
        expect(answer.status_code == 200, answer)
        before = check_list(answer.json(), users, running)
        say(f"list (first call) {cold_ms:.0f} ms: {before}")
        load = os.getloadavg()[0]
        latencies = series(client, url + "users", None, calls)
        _, answer = timed(client, "GET", url + "users")
        last = check_list(answer.json(), users, running)
        say(f"list x{calls}: p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms")
        # Where the time goes: the users without a running server (no fan-out), and the running ones alone.
        idle = series(client, url + "users", {"group": "idle"}, calls // 2)
        busy = series(client, url + "users", {"group": "running"}, calls // 2)
        say(
            f"list of the idle group p50 {statistics.median(idle):.0f} ms, "
            f"of the running group {statistics.median(busy):.0f} ms"
        )

        body = {"provider": provider, "reason": "bench: one provider revoked for everyone", "force": False}
        revoke_ms, answer = timed(client, "POST", url + "revoke", json=body)
        expect(answer.status_code == 200, answer)
        results = answer.json()["results"]
        outcomes = Counter(r["outcome"] for r in results)
        steps = Counter(f"{s['target'].split(':')[0]}:{s['outcome']}" for r in results for s in r["steps"])
        say(f"revoke {provider!r} for everyone: {revoke_ms / 1000:.1f} s, {dict(outcomes)}, steps {dict(steps)}")

        after_ms, answer = timed(client, "GET", url + "users")
        after = check_list(answer.json(), users, running)
        say(f"list after the revocation {after_ms:.0f} ms: {after}")
        return {
            "list_first_ms": cold_ms,
            "list_p50_ms": statistics.median(latencies),
            "list_p95_ms": percentile(latencies, 0.95),
            "list_max_ms": max(latencies),
            "list_calls": calls,
            "list_samples_ms": latencies,
            "list_idle_group_p50_ms": statistics.median(idle),
            "list_running_group_p50_ms": statistics.median(busy),
            "load_average_1m": load,
            "list_before": before,
            "list_last": last,
            "revoke_provider": provider,
            "revoke_all_s": revoke_ms / 1000,
            "revoke_users": len(results),
            "revoke_outcomes": dict(outcomes),
            "revoke_steps": dict(steps),
            "list_after_revoke_ms": after_ms,
            "list_after_revoke": after,
        }
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--running", type=int, default=10)
    parser.add_argument("--calls", type=int, default=20, help="timed list calls")
    parser.add_argument("--provider", default="hub", help="the provider revoked for everyone")
    parser.add_argument("--workdir", help="default: a new private temporary directory")
    parser.add_argument("--harness-only", action="store_true", help="set up users and servers, measure nothing")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tb-bench-hubadmin-"))
    os.chmod(workdir, 0o700)
    names = [f"user{i:03d}" for i in range(args.users)]
    started = time.monotonic()
    say(f"starting the IdP and the hub in {workdir}")
    idp, hub = start_stack(
        workdir,
        # Long-lived access tokens: no refresh happens while the bench runs, so it times only the admin API.
        access_token_ttl=3600,
        configure={},
        after_configure=BENCH_ADMIN,
    )
    try:
        create_users(hub, names)
        say(f"{len(names)} users created; logging them in (2 parallel streams through the IdP's form)")
        logins_s = give_hub_logins(hub, names)
        say(f"hub logins: {logins_s:.0f} s; starting {args.running} servers")
        servers_s = start_servers(hub, names[: args.running], timeout=60 + 30 * args.running)
        say(f"servers ready: {servers_s:.0f} s")
        token = (hub.workdir / "bench-admin-token").read_text().strip()
        make_group(hub, token, "running", names[: args.running])
        make_group(hub, token, "idle", names[args.running :])
        figures: dict[str, Any] = {
            "users": args.users,
            "running": args.running,
            "setup_logins_s": logins_s,
            "setup_servers_s": servers_s,
        }
        if not args.harness_only:
            figures.update(
                measure(hub, token, users=args.users, running=args.running, calls=args.calls, provider=args.provider)
            )
            figures["idp_grants_revoked"] = len(idp.events("grant.revoked"))
        figures["total_s"] = time.monotonic() - started
        print(json.dumps(figures))
        return 0
    finally:
        hub.stop()
        idp.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
