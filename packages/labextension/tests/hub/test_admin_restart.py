"""A forced revocation whose IdP call could not be made survives a hub restart: the new hub process finds the queued
call in the database and sends it once the IdP is back (the audit trail, kept in its file, says so)."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
from test_admin_api import ADMIN_SERVICES, admin_api, refresh_at_idp, revoke, service

from hub_stack import JUPYTERHUB, REPO_DIR, VENV_BIN, Hub, login, start_stack, wait_until


def restart(hub: Hub) -> None:
    """Stops the hub and starts it again on the same database, settings and crypt key."""
    hub.stop()
    log = (hub.workdir / "jupyterhub.log").open("ab")
    hub.process = subprocess.Popen(
        [str(JUPYTERHUB), "-f", str(hub.workdir / "jupyterhub_config.py")],
        cwd=str(hub.workdir),
        env={
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(hub.workdir),
            "TB_TEST_HUB_SETTINGS": str(hub.workdir / "settings.json"),
            "PYTHONPATH": str(REPO_DIR / "packages" / "labextension"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()

    def up() -> bool:
        try:
            return httpx.get(hub.api, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 120, "the restarted hub", interval=0.25)


def test_a_queued_idp_revocation_is_sent_after_a_hub_restart(tmp_path) -> None:
    idp, hub = start_stack(
        tmp_path,
        access_token_ttl=60,
        configure={"revocation_timeout_seconds": 1.0, "revocation_retry_seconds": 600.0},
        extra_config=ADMIN_SERVICES,
    )
    try:
        login(hub, "alice")
        refresh_token = hub.auth_state("alice")["refresh_token"]
        idp.pause()
        try:
            answer = revoke(service(hub, "tb-admin"), hub, "alice", force=True, reason="compromised")
            assert answer.status_code == 200, answer.text
            assert answer.json()["steps"][0]["outcome"] == "queued"
        finally:
            idp.resume()
        # The next retry would be in 10 minutes: only the restarted hub, finding the queue at start, sends it sooner.
        hub.clients.clear()
        restart(hub)

        def retried() -> list[dict]:
            events = service(hub, "tb-admin").get(admin_api(hub) + "audit", params={"user": "alice"}).json()["events"]
            return [e for e in events if e["action"] == "idp_retry" and e["outcome"] == "ok"]

        (event,) = wait_until(retried, 30, "the queued revocation sent by the restarted hub", interval=0.5)
        assert event["reason"] == "compromised"
        assert refresh_at_idp(idp, refresh_token).status_code == 400
        # Sent once, then gone from the queue: no second attempt.
        time.sleep(1)
        assert len(retried()) == 1
        assert "token_broker_idp_retry" not in (hub.auth_state("alice") or {})
    finally:
        hub.stop()
        idp.stop()
