"""The broker's private runtime directory: mode 0700, holding the config, the key (both 0600) and the socket.

Secrets are written with ``os.open(..., 0o600)`` so they are never readable by anyone else, not even for a
moment, and they travel to the broker only as paths on its command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY_BYTES = 32
"""Entropy of the shared key; its URL-safe text is 43 characters (the broker wants at least 32)."""

MAX_SOCKET_PATH = 100
"""Longest socket path we use, in bytes: the kernel's limit is 107 on Linux and 103 on macOS (``sun_path``), and a
longer path fails only at connect time (the broker may even listen on it)."""

RUNDIR_PREFIX = "jupyter-token-broker-"
SOCKET_NAME = "broker.sock"
_RUNDIR_NAME_LENGTH = len(RUNDIR_PREFIX) + 8  # mkdtemp adds 8 random characters


def base_directory(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_RUNTIME_DIR`` when it is a private directory of ours, else the temp dir."""
    environ = dict(os.environ) if environ is None else environ
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg:
        try:
            info = os.stat(xdg)
        except OSError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            return Path(xdg)
    return Path(tempfile.gettempdir())


def socket_base(preferred: Path) -> Path:
    """``preferred``, unless the broker's socket under it would be longer than :data:`MAX_SOCKET_PATH`: then the
    temp dir, then ``/tmp`` (a deep ``$XDG_RUNTIME_DIR`` or home made the broker unreachable before)."""
    # /tmp is safe here: mkdtemp makes a 0700 directory with a name nobody can guess inside it.
    for base in (preferred, Path(tempfile.gettempdir()), Path("/tmp")):  # noqa: S108
        if len(os.fsencode(base)) + len(f"/{'x' * _RUNDIR_NAME_LENGTH}/{SOCKET_NAME}") <= MAX_SOCKET_PATH:
            return base
    raise OSError(f"no directory short enough for the broker's socket (at most {MAX_SOCKET_PATH} bytes)")


def write_private(path: Path, text: str) -> None:
    """Creates ``path`` (it must not exist) readable and writable by its owner only, and writes ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


@dataclass(frozen=True)
class RunDir:
    """One broker's private directory and the files in it."""

    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def key_file(self) -> Path:
        return self.path / "broker.key"

    @property
    def socket(self) -> Path:
        return self.path / SOCKET_NAME

    @classmethod
    def create(cls, config: dict[str, Any], base: Path | None = None) -> tuple[RunDir, str]:
        """Makes a fresh 0700 directory with the config and a new random key in it.

        :returns: the directory and the key (kept in memory by the server extension, never logged).
        """
        # mkdtemp creates the directory with mode 0700 and a name nobody can guess.
        path = Path(tempfile.mkdtemp(prefix=RUNDIR_PREFIX, dir=socket_base(base or base_directory())))
        os.chmod(path, 0o700)
        rundir = cls(path)
        key = secrets.token_urlsafe(KEY_BYTES)
        write_private(rundir.key_file, key + "\n")
        write_private(rundir.config_file, json.dumps(config, indent=2) + "\n")
        return rundir, key

    def remove_stale_socket(self) -> None:
        """Removes a socket a killed broker left behind, so the next one can listen."""
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

    def remove(self) -> None:
        """Deletes the directory and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)
