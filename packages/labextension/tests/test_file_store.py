"""With ``c.TokenBroker.store = {"type": "file"}`` a sign-in outlives a restart of the whole Jupyter server."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import RESTART_PORT

from browser_session import browser_login
from demo_idp import sign_in
from jupyter_process import JupyterServer, start_server, wait_until

FILE_STORE = 'c.TokenBroker.store = {"type": "file"}'


def demo_provider(server: JupyterServer) -> dict:
    with server.token_client() as client:
        (demo,) = client.get(server.api("providers")).json()["providers"]
    return demo


def token_status(server: JupyterServer) -> int:
    with server.token_client() as client:
        return client.post(server.api("providers/demo/token"), json={}).status_code


def test_a_sign_in_survives_a_server_restart_in_an_encrypted_private_file(
    tmp_path: Path, providers: list[dict]
) -> None:
    first = start_server(tmp_path, RESTART_PORT, providers, config_extra=FILE_STORE)
    try:
        login = sign_in(browser_login(first), first, "demo", "alice", "demo")
        assert login.callback.status_code == 200
        assert demo_provider(first)["account"] == "alice"
    finally:
        first.stop()

    state = tmp_path / "data" / "token-broker"
    store, key = state / "grants.store", state / "store.key"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # Encrypted at rest: neither the account nor any token field is readable in the file.
    raw = store.read_bytes()
    for plain in (b"alice", b"refresh_token", b"eyJ"):
        assert plain not in raw

    second = start_server(tmp_path, RESTART_PORT, providers, config_extra=FILE_STORE)
    try:
        demo = demo_provider(second)
        assert (demo["signed_in"], demo["account"]) == (True, "alice")
        assert token_status(second) == 200
    finally:
        second.stop()


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_store_file_others_can_read_is_refused_and_the_reason_reaches_the_user(
    tmp_path: Path, providers: list[dict], mode: int
) -> None:
    state = tmp_path / "data" / "token-broker"
    state.mkdir(parents=True, mode=0o700)
    store = state / "grants.store"
    store.write_bytes(b"not ours")
    store.chmod(mode)
    server = start_server(tmp_path, RESTART_PORT, providers, config_extra=FILE_STORE, wait_for_broker=False)
    try:

        def refused() -> dict | None:
            with server.token_client() as client:
                answer = client.get(server.api("providers"))
            body = answer.json()
            return body if "could not start" in body.get("error_description", "") else None

        body = wait_until(refused, 30, what="the broker's refusal")
        assert body["error"] == "upstream_unavailable"
        assert "store_unavailable" in body["error_description"]
        assert str(store) in body["error_description"]
        assert store.read_bytes() == b"not ours"  # nothing overwritten
    finally:
        server.stop()


def test_an_older_copy_of_the_store_put_back_is_refused_and_does_not_bring_a_signed_out_grant_back(
    tmp_path: Path, providers: list[dict]
) -> None:
    """Issue 11, defect 11: a store file restored from an older copy brought back a grant the user had ended."""
    server = start_server(tmp_path, RESTART_PORT, providers, config_extra=FILE_STORE)
    state = tmp_path / "data" / "token-broker"
    store = state / "grants.store"
    try:
        assert sign_in(browser_login(server), server, "demo", "alice", "demo").callback.status_code == 200
        signed_in_copy = store.read_bytes()
        with server.token_client() as client:
            assert client.delete(server.api("providers/demo/grant")).status_code in (200, 204)
        assert demo_provider(server)["signed_in"] is False
    finally:
        server.stop()

    store.write_bytes(signed_in_copy)  # e.g. a backup restored, or a sync of an old copy
    second = start_server(tmp_path, RESTART_PORT, providers, config_extra=FILE_STORE, wait_for_broker=False)
    try:

        def refused() -> dict | None:
            with second.token_client() as client:
                body = client.get(second.api("providers")).json()
            return body if "store_rolled_back" in body.get("error_description", "") else None

        body = wait_until(refused, 30, what="the broker's refusal of the older copy")
        assert str(store) in body["error_description"]
        assert "To fix it: remove" in body["error_description"]
        assert token_status(second) != 200
        assert store.read_bytes() == signed_in_copy  # left for the user to look at, not overwritten
    finally:
        second.stop()
