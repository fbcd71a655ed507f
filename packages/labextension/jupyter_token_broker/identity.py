"""Who may use the broker, and the trusted identity headers the server extension sends it.

Identity comes from Jupyter's authentication only, never from a request field: under JupyterHub the server's
owner is ``$JUPYTERHUB_USER`` and a visitor with sharing access is someone else; a standalone server has only
its owner, so every authenticated user is the owner.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping

CLIENT_LABEL = re.compile(r"^[A-Za-z0-9@/:._-]{1,128}$")
"""Client labels for the audit trail (``X-Broker-Client``)."""

DEFAULT_CLIENT = "jupyterlab"
"""The label when a request names none (or an invalid one)."""

TRUSTED_PREFIX = "x-broker-"
"""Header prefix that only the server extension may set; incoming ones are dropped."""


def hub_user(environ: Mapping[str, str] | None = None) -> str | None:
    """The server owner's JupyterHub name, or None when the server does not run under JupyterHub."""
    environ = os.environ if environ is None else environ
    return environ.get("JUPYTERHUB_USER") or None


def is_owner(username: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the authenticated ``username`` is this server's owner."""
    if not username:
        return False
    owner = hub_user(environ)
    return owner is None or username == owner


def owner_name(environ: Mapping[str, str] | None = None) -> str:
    """The name login state and grants are bound to (``X-Broker-User``).

    Under JupyterHub: the hub user. Standalone: the OS account running the server. Jupyter's own name for a
    standalone user is random per browser or token (an anonymous identity), but a standalone server has one
    owner, so the browser and the kernels must see the same grants.
    """
    return hub_user(environ) or getpass.getuser()


def client_label(requested: str | None) -> str:
    """The audit label for ``X-Token-Broker-Client``, falling back to ``jupyterlab`` when absent or invalid."""
    if requested and CLIENT_LABEL.match(requested):
        return requested
    return DEFAULT_CLIENT


def trusted_headers(*, key: str, user: str, client: str, redirect_uri: str | None = None) -> dict[str, str]:
    """The headers that tell the broker who is calling; the only ``X-Broker-*`` headers it ever receives."""
    headers = {
        "X-Broker-Key": key,
        "X-Broker-User": user,
        "X-Broker-Caller": "owner",
        "X-Broker-Client": client,
    }
    if redirect_uri is not None:
        headers["X-Broker-Redirect-Uri"] = redirect_uri
    return headers
