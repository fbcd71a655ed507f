"""Who may use the broker, and the trusted identity headers the server extension sends it.

Identity comes from Jupyter's authentication only, never from a request field; who the owner is (under JupyterHub
``$JUPYTERHUB_USER``, standalone whoever Jupyter's own identity provider lets in, or ``c.TokenBroker.owner``) is
decided in ``owner.py``.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from urllib.parse import quote

from .contract import CLIENT_LABEL

DEFAULT_CLIENT = "jupyterlab"
"""The label when a request names none (or an invalid one)."""

TRUSTED_PREFIX = "x-broker-"
"""Header prefix that only the server extension may set; incoming ones are dropped."""

ADMIN_SCOPE = "custom:token-broker:admin"
"""The JupyterHub custom scope that lets its holder revoke this server's grants (admin revocation)."""


def hub_user(environ: Mapping[str, str] | None = None) -> str | None:
    """The server owner's JupyterHub name, or None when the server does not run under JupyterHub."""
    environ = os.environ if environ is None else environ
    return environ.get("JUPYTERHUB_USER") or None


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


def hub_scopes(user: object) -> list[str]:
    """The JupyterHub scopes of an authenticated user, as jupyterhub-singleuser's identity provider records them.

    ``JupyterHubIdentityProvider`` returns a ``JupyterHubUser`` whose ``hub_user`` is the hub's model of the
    token or session, including its expanded ``scopes``. Any other identity provider (a standalone server)
    has none.
    """
    model = getattr(user, "hub_user", None)
    scopes = model.get("scopes") if isinstance(model, Mapping) else None
    if not isinstance(scopes, (list, tuple, set, frozenset)):
        return []
    return [scope for scope in scopes if isinstance(scope, str)]


def grants_admin(scopes: list[str], owner: str, server_name: str = "") -> bool:
    """Whether ``scopes`` hold :data:`ADMIN_SCOPE` for this server: unfiltered, ``!user=owner`` or
    ``!server=owner/server_name``. Group filters are not resolved here (as in JupyterHub's own ``check_scopes``)."""
    accepted = {
        ADMIN_SCOPE,
        f"{ADMIN_SCOPE}!user={owner}",
        f"{ADMIN_SCOPE}!server={owner}/{server_name}",
    }
    return any(scope in accepted for scope in scopes)


def is_admin(user: object, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the authenticated ``user`` may revoke this server's grants.

    Only under JupyterHub, and only with :data:`ADMIN_SCOPE` for this server; outside JupyterHub there is no
    admin, so admin revocation is always refused.
    """
    environ = os.environ if environ is None else environ
    owner = hub_user(environ)
    if owner is None or user is None:
        return False
    return grants_admin(hub_scopes(user), owner, environ.get("JUPYTERHUB_SERVER_NAME", ""))


def trusted_headers(
    *,
    key: str,
    user: str,
    client: str,
    redirect_uri: str | None = None,
    server_url: str | None = None,
    server_name: str | None = None,
    caller: str = "owner",
) -> dict[str, str]:
    """The headers that tell the broker who is calling; the only ``X-Broker-*`` headers it ever receives."""
    headers = {
        "X-Broker-Key": key,
        "X-Broker-User": user,
        "X-Broker-Caller": caller,
        "X-Broker-Client": client,
    }
    if redirect_uri is not None:
        headers["X-Broker-Redirect-Uri"] = redirect_uri
    if server_url is not None:
        headers["X-Broker-Server-Url"] = server_url
    if server_name:
        # Percent-encoded: JupyterHub server names need not be ASCII. The broker puts the name in the login's
        # state, where the hub's user_redirect_hook finds the server to send the callback to.
        headers["X-Broker-Server-Name"] = quote(server_name, safe="")
    return headers


def hub_server_name(environ: Mapping[str, str] | None = None) -> str:
    """This server's JupyterHub name (``JUPYTERHUB_SERVER_NAME``; ``""`` for the default server or standalone)."""
    environ = os.environ if environ is None else environ
    return environ.get("JUPYTERHUB_SERVER_NAME", "") if hub_user(environ) else ""
