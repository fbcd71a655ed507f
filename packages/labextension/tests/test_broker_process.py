"""The broker process as the server extension runs it: private files, a clean environment, restarts."""

from __future__ import annotations

import logging
import os
import signal
import stat
from pathlib import Path

from jupyter_token_broker.supervisor import log_level_of

from jupyter_process import JupyterServer, wait_until


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def broker_args(pid: int) -> dict[str, Path]:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return {name: Path(argv[argv.index(f"--{name}") + 1]) for name in ("config", "key-file", "socket")}


def test_socket_is_0600_in_a_0700_directory_with_0600_config_and_key(server: JupyterServer) -> None:
    (pid,) = server.broker_pids()
    paths = broker_args(pid)
    directory = paths["socket"].parent
    assert directory.parent == server.xdg_runtime_dir
    assert mode(directory) == 0o700
    assert stat.S_ISSOCK(os.stat(paths["socket"]).st_mode)
    assert mode(paths["socket"]) == 0o600
    assert mode(paths["config"]) == 0o600
    assert mode(paths["key-file"]) == 0o600
    assert {p.parent for p in paths.values()} == {directory}


def test_broker_environment_and_command_line_hold_no_secret(server: JupyterServer) -> None:
    (pid,) = server.broker_pids()
    key = broker_args(pid)["key-file"].read_text().strip()
    assert len(key) >= 32
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    assert names <= {"PATH", "HOME", "LANG"}
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    for secret in (key, server.token):
        assert secret.encode() not in environ
        assert secret.encode() not in cmdline
    assert key not in server.log_text()


def test_killed_broker_is_restarted_and_serves_again(restart_server: JupyterServer) -> None:
    (old_pid,) = restart_server.broker_pids()
    os.kill(old_pid, signal.SIGKILL)
    with restart_server.token_client() as client:
        down = client.get(restart_server.api("providers"))
        assert down.status_code == 503
        assert down.json()["error"] == "upstream_unavailable"
        assert int(down.headers["Retry-After"]) > 0

        def serving_again() -> bool:
            return client.get(restart_server.api("providers")).status_code == 200

        wait_until(serving_again, 30, what="the restarted broker")
    (new_pid,) = restart_server.broker_pids()
    assert new_pid != old_pid


def test_server_shutdown_stops_the_broker_and_removes_its_files(restart_server: JupyterServer) -> None:
    (pid,) = restart_server.broker_pids()
    directory = broker_args(pid)["socket"].parent
    restart_server.stop()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not directory.exists()


def test_broker_log_lines_keep_their_level_and_a_plain_text_line_is_a_warning() -> None:
    assert log_level_of('{"level":"error","event":"request_failed"}') == logging.ERROR
    assert log_level_of('{"level":"warn","event":"discovery_failed"}') == logging.WARNING
    assert log_level_of('{"level":"debug","event":"token_issued"}') == logging.DEBUG
    assert log_level_of('{"event":"no level"}') == logging.INFO
    # What the CLI writes when it cannot start, e.g. under a Node.js that is too old: not lost among info lines.
    assert log_level_of("token-broker: needs Node.js 20.19 or newer; this is Node.js 18.20.8.") == logging.WARNING
