"""A stopped server of alice with a file store: an admin revokes alice at the hub, alice starts the server again, and
the grant it kept on disk is gone, and revoked at the IdP, before the first token is served.

A real JupyterHub (the docs' hub fragment), the demo IdP, alice's default server with the broker's encrypted file
store and the demo IdP's public client as provider ``demo``, signed in through the hub's single redirect URI before
the stop. The hub holds a durable order while the server is stopped; the server applies it at its next start
(``jupyter_token_broker.orders``) before its broker serves anything.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from test_admin_api import ADMIN_SERVICES, admin_api, service

from e2e_stack import (
    ALICE_SERVER_CONFIG,
    BROKER_API,
    E2E_HUB_SETTINGS,
    USER_REDIRECT_CALLBACK,
    E2eStack,
    UserServer,
    e2e_stack,
    user_server,
)
from hub_stack import DEMO_PASSWORD, FORM_ACTION, Hub, login, wait_until
from jupyter_process import BROKER_BUNDLE

FILE_STORE = 'c.TokenBroker.store = {"type": "file"}\n'
DEMO_SCOPES = ["openid", "profile", "email", "offline_access", "demo:read"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2eStack]:
    with e2e_stack(
        tmp_path_factory.mktemp("orders"), access_token_ttl=90, extra_config=E2E_HUB_SETTINGS + ADMIN_SERVICES
    ) as running:
        config_dir = running.workdir / "home" / "alice" / ".jupyter"
        config_dir.mkdir(parents=True)
        (config_dir / "jupyter_server_config.py").write_text(
            ALICE_SERVER_CONFIG.format(issuer=running.idp.issuer) + FILE_STORE
        )
        yield running


def broker_serving(server: UserServer) -> None:
    """Waits until the server's broker serves (the hub calls a server ready before its broker is)."""

    def serving() -> bool:
        with server.token_client() as client:
            return client.get(server.api("providers")).status_code == 200

    wait_until(serving, 60, "alice's broker serving", interval=0.3)


def sign_in_to_demo(hub: Hub, browser: httpx.Client, token: str) -> None:
    """alice signs in to provider ``demo`` from her default server, through the hub's single redirect URI."""
    with httpx.Client(headers={"Authorization": f"token {token}"}, timeout=30) as client:
        started = client.post(f"{hub.url}user/alice/{BROKER_API}providers/demo/login", json={})
    assert started.status_code == 200, started.text
    page = browser.get(started.json()["authorization_url"], follow_redirects=True)
    action = FORM_ACTION.search(page.text)
    if action and urlsplit(str(page.url)).hostname == "localhost":
        page = browser.post(
            urljoin(str(page.url), action.group(1)),
            data={"username": "alice", "password": DEMO_PASSWORD},
            follow_redirects=True,
        )
    visited = [str(r.url) for r in page.history] + [str(page.url)]
    assert any(urlsplit(url).path.endswith(f"/{USER_REDIRECT_CALLBACK}") for url in visited), visited
    assert page.status_code == 200, (page.status_code, page.text[:500])


def stop_server(hub: Hub, name: str) -> None:
    admin = hub.admin()
    answer = admin.delete(f"{hub.api}users/{name}/server")
    assert answer.status_code in (202, 204), answer.text

    def stopped() -> bool:
        return not admin.get(f"{hub.api}users/{name}").json().get("servers", {}).get("")

    wait_until(stopped, 60, f"{name}'s server stopped", interval=0.5)


def grant_revocations(stack: E2eStack) -> int:
    """How many grants the IdP has revoked so far (its ``grant.revoked`` events; no token material)."""
    return len(stack.idp.events("grant.revoked"))


def token_answers_from_start(hub: Hub, token: str, timeout: float = 60) -> list[httpx.Response]:
    """Asks alice's just-started server for a ``demo`` token as often as it answers 503 (starting); every answer."""
    answers: list[httpx.Response] = []
    deadline = time.monotonic() + timeout
    with httpx.Client(headers={"Authorization": f"token {token}"}, timeout=30) as client:
        while time.monotonic() < deadline:
            answers.append(client.post(f"{hub.url}user/alice/{BROKER_API}providers/demo/token", json={}))
            if answers[-1].status_code != 503:
                return answers
            time.sleep(0.1)
    return answers


def refresh_with_a_copy(store_dir: Path, issuer: str, workdir: Path) -> tuple[dict, httpx.Response]:
    """Runs a broker of its own on a copy of the file store taken before the revocation, and has it refresh the grant
    it holds (``min_ttl`` above what its cached token has left): ``(its demo provider, the token answer)``."""
    workdir.mkdir(mode=0o700)
    copy = workdir / "store"
    shutil.copytree(store_dir, copy)
    key = secrets.token_urlsafe(32)
    key_file = workdir / "key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    config = workdir / "config.json"
    config.write_text(
        json.dumps(
            {
                "providers": [
                    {
                        "id": "demo",
                        "title": "Demo IdP",
                        "kind": "oidc",
                        "issuer": issuer,
                        "client_id": "jupyter-demo",
                        "scopes": DEMO_SCOPES,
                    }
                ],
                "store": {"type": "file", "path": str(copy / "grants.store"), "key_file": str(copy / "store.key")},
            }
        )
    )
    config.chmod(0o600)
    socket = workdir / "broker.sock"
    argv = ["node", str(BROKER_BUNDLE), "serve", "--config", str(config), "--key-file", str(key_file)]
    process = subprocess.Popen(
        [*argv, "--socket", str(socket)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"], "HOME": str(workdir)},
    )
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline()).get("ready") is True
        headers = {"X-Broker-Key": key, "X-Broker-User": "alice", "X-Broker-Caller": "owner"}
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), headers=headers, timeout=30) as client:
            (demo,) = client.get("http://broker/api/v1/providers").json()["providers"]
            answer = client.post("http://broker/api/v1/providers/demo/token", json={"min_ttl": 86400})
        return demo, answer
    finally:
        process.terminate()
        process.wait(10)


def test_a_revoked_users_stopped_server_forgets_its_grant_before_serving_a_token(stack: E2eStack) -> None:
    hub = stack.hub
    browser = login(hub, "alice")
    hub.start_server("alice")
    server = user_server(hub, "alice")
    broker_serving(server)
    sign_in_to_demo(hub, browser, server.token)
    with server.token_client() as client:
        demo = next(p for p in client.get(server.api("providers")).json()["providers"] if p["id"] == "demo")
        assert (demo["signed_in"], demo["account"]) == (True, "alice")
        assert client.post(server.api("providers/demo/token"), json={}).status_code == 200
    stop_server(hub, "alice")
    # What the stopped server keeps on disk: an encrypted grant with a refresh token.
    store_dir = stack.workdir / "home" / "alice" / ".local" / "share" / "jupyter" / "token-broker"
    assert (store_dir / "grants.store").is_file()
    kept = stack.workdir / "store-before-revocation"
    shutil.copytree(store_dir, kept)

    revoked = service(hub, "tb-admin").post(
        f"{admin_api(hub)}users/alice/revoke", json={"reason": "notebook with credentials published"}
    )
    assert revoked.status_code == 200, revoked.text
    steps = {step["target"]: step for step in revoked.json()["steps"]}
    assert steps["order"]["outcome"] in ("ok", "queued"), steps
    listed = service(hub, "tb-admin").get(f"{admin_api(hub)}users", params={"user": "alice"}).json()
    assert listed["users"][0]["pending_orders"] == 1
    revocations_before_start = grant_revocations(stack)

    # alice logs in again (the revocation ended her hub login) and starts the server: the order is applied first.
    login(hub, "alice")
    hub.start_server("alice")
    server = user_server(hub, "alice")
    answers = token_answers_from_start(hub, server.token)
    first = answers[-1]
    assert all(a.json()["error"] == "upstream_unavailable" for a in answers[:-1]), [a.text for a in answers]
    # (Never a token in a failure message either: status and error code only.)
    assert (first.status_code, first.json().get("error")) == (401, "login_required")
    assert not any("access_token" in a.text for a in answers)
    # The demo grant was revoked at the IdP while the server started (the hub login's own revocation came before).
    assert grant_revocations(stack) == revocations_before_start + 1
    with server.token_client() as client:
        demo = next(p for p in client.get(server.api("providers")).json()["providers"] if p["id"] == "demo")
        events = client.get(server.api("events")).json()["events"]
    assert demo["signed_in"] is False
    revoke = next(e for e in events if e["type"] == "revoke" and e["provider"] == "demo")
    assert revoke["outcome"] == "ok"
    assert "notebook with credentials published" in revoke["reason"]

    # The refresh token the stopped server had kept no longer refreshes at the IdP.
    copy_demo, refreshed = refresh_with_a_copy(kept, stack.idp.issuer, stack.workdir / "copy-broker")
    assert copy_demo["signed_in"] is True
    assert (refreshed.status_code, refreshed.json().get("error")) == (401, "login_required")
    assert any(e.get("error") == "InvalidGrant" for e in stack.idp.events("grant.error"))

    # The hub dropped the order (alice's only server applied it) and recorded that it was applied.
    listed = service(hub, "tb-admin").get(f"{admin_api(hub)}users", params={"user": "alice"}).json()
    assert listed["users"][0]["pending_orders"] == 0
    audit = service(hub, "tb-admin").get(f"{admin_api(hub)}audit", params={"user": "alice"}).json()["events"]
    assert any(e["action"] == "order_applied" and e["outcome"] == "ok" for e in audit), audit
