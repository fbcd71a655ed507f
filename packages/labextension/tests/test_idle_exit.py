"""Issue 12: the broker starts at the first request that needs it and leaves when idle if nothing would be lost.

Real Jupyter servers with the real broker bundle and the demo IdP; ``c.TokenBroker.idle_exit_seconds`` is made short.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import HUB_PORT, RESTART_PORT

from jupyter_token_broker.config import ConfigError, TokenBroker

from browser_session import browser_login
from demo_idp import sign_in
from jupyter_process import JupyterServer, start_server, wait_until

FILE_STORE = 'c.TokenBroker.store = {"type": "file"}'
STOPPED = "stopped after"
KEPT = "kept running"


def idle_after(seconds: float) -> str:
    return f"c.TokenBroker.idle_exit_seconds = {seconds}"


def providers_of(server: JupyterServer) -> list[dict]:
    with server.token_client() as client:
        answer = client.get(server.api("providers"))
    assert answer.status_code == 200, answer.text
    return answer.json()["providers"]


def token(server: JupyterServer) -> dict:
    with server.token_client() as client:
        answer = client.post(server.api("providers/demo/token"), json={}, headers={"X-Token-Broker-Client": "kernel"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_stopped(server: JupyterServer, times: int = 1) -> None:
    """Until the server log says the broker stopped for idleness ``times`` times and no broker process is left."""
    wait_until(
        lambda: server.log_text().count(STOPPED) >= times and not server.broker_pids(),
        30,
        what=f"idle stop number {times}",
    )


def test_no_broker_runs_until_a_request_needs_it_and_the_first_one_waits_for_it(
    tmp_path: Path, providers: list[dict]
) -> None:
    server = start_server(tmp_path, RESTART_PORT, providers, wait_for_broker=False)
    try:
        # The config check at start is a short broker process of its own; once it is gone, nothing runs.
        wait_until(lambda: not server.broker_pids(), 30, what="the config check to end")
        time.sleep(2)
        assert server.broker_pids() == []
        assert "ready (version" not in server.log_text()
        # A cold start answers the first request itself (not 503 "starting"): not signed in yet.
        with server.token_client() as client:
            first = client.post(server.api("providers/demo/token"), json={})
        assert first.status_code == 401, first.text
        assert first.json()["error"] == "login_required"
        assert len(server.broker_pids()) == 1
    finally:
        server.stop()


def test_a_file_store_sign_in_outlives_idle_stops_and_the_list_does_not_start_the_broker(
    tmp_path: Path, providers: list[dict]
) -> None:
    server = start_server(tmp_path, RESTART_PORT, providers, config_extra=f"{FILE_STORE}\n{idle_after(2)}")
    try:
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        first = token(server)
        wait_stopped(server)
        assert "nothing would be lost" in server.log_text()

        # The status bar reads the list every minute: answered from the stopped broker's last list, no start.
        for _ in range(6):
            (demo,) = providers_of(server)
            assert (demo["signed_in"], demo["account"], demo["needs_login"]) == (True, "alice", False)
            assert demo["expires_at"] is None  # no cached token while stopped
            time.sleep(0.5)
        assert server.broker_pids() == []

        # The next token request starts it again, with the sign-in: no new sign-in needed.
        second = token(server)
        assert second["expires_in"] > 0
        assert len(server.broker_pids()) == 1
        assert first["provider"] == second["provider"] == "demo"
        wait_stopped(server, times=2)
        assert token(server)["expires_in"] > 0
    finally:
        server.stop()


def test_a_memory_store_holding_a_sign_in_never_stops(tmp_path: Path, providers: list[dict]) -> None:
    server = start_server(tmp_path, RESTART_PORT, providers, config_extra=idle_after(1))
    try:
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        (pid,) = server.broker_pids()
        wait_until(lambda: KEPT in server.log_text(), 30, what="the broker to say why it keeps running")
        assert "memory store holds a sign-in of 'demo'" in server.log_text()
        time.sleep(4)  # several more idle periods
        assert server.broker_pids() == [pid]
        assert STOPPED not in server.log_text()
        assert token(server)["expires_in"] > 0
    finally:
        server.stop()


def test_a_broker_without_a_grant_stops_and_its_list_is_answered_while_stopped(
    tmp_path: Path, providers: list[dict]
) -> None:
    server = start_server(tmp_path, RESTART_PORT, providers, config_extra=idle_after(1))
    try:
        before = providers_of(server)
        wait_stopped(server)
        for _ in range(4):
            assert providers_of(server) == [{**p, "expires_at": None} for p in before]
            time.sleep(0.5)
        assert server.broker_pids() == []
        # A request the list cannot answer starts it: a sign-in.
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        assert providers_of(server)[0]["signed_in"] is True
    finally:
        server.stop()


def test_a_stopped_brokers_list_is_not_answered_once_another_server_changed_the_file_store(
    tmp_path: Path, providers: list[dict]
) -> None:
    """Two servers of one user on one file store (named servers share the Jupyter data dir)."""
    shared = {"JUPYTER_DATA_DIR": str(tmp_path / "shared-data")}
    config = f"{FILE_STORE}\n{idle_after(1)}"
    idle = start_server(tmp_path / "a", RESTART_PORT, providers, config_extra=config, env_extra=shared)
    other = None
    try:
        assert providers_of(idle)[0]["signed_in"] is False
        wait_stopped(idle)
        other = start_server(tmp_path / "b", HUB_PORT, providers, config_extra=config, env_extra=shared)
        assert sign_in(browser_login(other), other, "demo", "alice", "demo").callback.status_code == 200
        # The stopped broker's last list said "not signed in"; the store changed since, so it is asked again.
        (demo,) = providers_of(idle)
        assert (demo["signed_in"], demo["account"]) == (True, "alice")
        assert len(idle.broker_pids()) == 1
    finally:
        idle.stop()
        if other is not None:
            other.stop()


def test_a_negative_idle_time_is_a_config_mistake_naming_the_option() -> None:
    with pytest.raises(ConfigError, match=r"TokenBroker\.idle_exit_seconds: must not be negative"):
        TokenBroker(idle_exit_seconds=-1).validate()
