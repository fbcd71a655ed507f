"""A deep runtime directory made the broker unreachable: its socket path passed the kernel's limit (107 bytes on
Linux), the broker still listened, and every request got 503 "The token broker is not running"."""

import os
import shutil
import socket
import tempfile
from pathlib import Path

from jupyter_token_broker.rundir import MAX_SOCKET_PATH, RunDir


def test_a_socket_under_a_deep_runtime_dir_stays_short_enough_to_connect(tmp_path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True, mode=0o700)
    rundir, _key = RunDir.create({"providers": []}, deep)
    try:
        path = os.fsencode(rundir.socket)
        assert len(path) <= MAX_SOCKET_PATH
        assert (os.stat(rundir.path).st_mode & 0o777) == 0o700
        # A real listen + connect on that path works.
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.listen()
        client = socket.socket(socket.AF_UNIX)
        client.connect(path)
        client.close()
        server.close()
    finally:
        rundir.remove()


def test_a_short_runtime_dir_is_kept() -> None:
    base = Path(tempfile.mkdtemp(dir="/tmp", prefix="rt"))
    try:
        rundir, _key = RunDir.create({"providers": []}, base)
        assert rundir.path.parent == base
    finally:
        shutil.rmtree(base)
