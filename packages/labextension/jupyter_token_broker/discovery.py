"""How a kernel finds the Jupyter server it belongs to, and the credential to call it with.

The server writes its own ``jpserver-<pid>.json`` (mode 0600) into the Jupyter runtime directory; the nearest
ancestor process that has such a file is our server. Under JupyterHub without that file, the hub's
``JUPYTERHUB_API_TOKEN`` and ``JUPYTERHUB_SERVICE_URL`` that the single-user server already has are used.
Standard library only: this runs in every kernel.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

from .errors import TokenBrokerError


@dataclass(frozen=True)
class ServerInfo:
    """Where the Jupyter server answers (``url`` ends with its base URL and ``/``) and its auth token."""

    url: str
    token: str

    def __repr__(self) -> str:
        # Never show the token, not even in a traceback.
        return f"ServerInfo(url={self.url!r}, token=<hidden>)"


def parent_pid(pid: int) -> int | None:
    """The parent of ``pid`` from ``/proc/<pid>/stat``, or None when unknown (no /proc, gone, pid 1)."""
    if pid == os.getpid():
        return os.getppid()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may itself hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def ancestor_pids(pid: int, parent: Callable[[int], int | None] = parent_pid) -> list[int]:
    """``pid``'s ancestors, nearest first, stopping before init."""
    chain: list[int] = []
    current: int | None = parent(pid)
    while current is not None and current > 1 and current not in chain:
        chain.append(current)
        current = parent(current)
    return chain


def runtime_dir() -> Path:
    """Jupyter's runtime directory (jupyter_core is in every kernel: ipykernel depends on it)."""
    from jupyter_core.paths import jupyter_runtime_dir  # noqa: PLC0415 - only when a token is asked for

    return Path(jupyter_runtime_dir())


def from_runtime_file(path: Path) -> ServerInfo | None:
    """The server described by one ``jpserver-<pid>.json``, or None when it is unusable."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    url = info.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    token = info.get("token") or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    return ServerInfo(url=url if url.endswith("/") else url + "/", token=token)


def from_jupyterhub_env(environ: dict[str, str]) -> ServerInfo | None:
    """The single-user server under JupyterHub, from the variables the hub gives it; None outside JupyterHub."""
    token = environ.get("JUPYTERHUB_API_TOKEN")
    service_url = environ.get("JUPYTERHUB_SERVICE_URL")
    if not token or not service_url:
        return None
    parts = urlsplit(service_url)
    host = parts.hostname or "127.0.0.1"
    # The server binds to all interfaces; talk to it over loopback.
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a comparison, not a bind
        host = "127.0.0.1"
    netloc = f"{host}:{parts.port}" if parts.port else host
    path = parts.path or environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    return ServerInfo(url=urlunsplit((parts.scheme, netloc, path.rstrip("/") + "/", "", "")), token=token)


def find_server(pid: int | None = None, environ: dict[str, str] | None = None) -> ServerInfo:
    """The Jupyter server of this kernel.

    :raises TokenBrokerError: ``server_not_found`` when neither a runtime file nor JupyterHub's variables help.
    """
    environ = dict(os.environ) if environ is None else environ
    directory = runtime_dir()
    for ancestor in ancestor_pids(os.getpid() if pid is None else pid):
        candidate = directory / f"jpserver-{ancestor}.json"
        if candidate.exists():
            info = from_runtime_file(candidate)
            if info is not None:
                return info
    info = from_jupyterhub_env(environ)
    if info is not None:
        return info
    raise TokenBrokerError(
        "server_not_found",
        0,
        "No Jupyter server found for this process: get_token() works in a kernel started by a Jupyter server "
        f"(looked for jpserver-<pid>.json of its ancestors in {directory}).",
    )
