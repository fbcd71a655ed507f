"""The JupyterHub this server runs under, as the hub's environment variables describe it.

JupyterHub gives every user server ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_USER``, ``JUPYTERHUB_SERVER_NAME`` and the
server's own ``JUPYTERHUB_API_TOKEN``. A hub that runs ``jupyter_token_broker.hub.configure()`` also sets the
non-secret ``JUPYTER_TOKEN_BROKER_HUB`` (JSON ``{"version": 1, "provider_id": "hub", "title": ...}``, and the
optional ``egress`` and ``expose_token`` of ``c.TokenBrokerHub``): the server extension then adds the user's hub login
as a provider of kind ``hub`` by itself. The API token reaches the broker
only inside its 0600 config file, never through its environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .contract import PROVIDER_ID

HUB_VARIABLE = "JUPYTER_TOKEN_BROKER_HUB"
"""Set by ``jupyter_token_broker.hub.configure()`` on every spawner."""

MAX_TITLE = 200


class HubAnnouncementError(ValueError):
    """``JUPYTER_TOKEN_BROKER_HUB`` is set but unusable; the message says why (it holds nothing secret)."""


@dataclass(frozen=True)
class HubEnvironment:
    """What the server knows of its hub. ``api_token`` is a secret: it has no repr and is never logged."""

    api_url: str
    user: str
    server_name: str
    api_token: str = field(repr=False)
    announcement: str | None = None
    """The raw ``JUPYTER_TOKEN_BROKER_HUB``, or None when the hub does not run ``configure()``."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HubEnvironment | None:
        """The hub of this server, or None when it does not run under JupyterHub (or lacks its API token)."""
        environ = os.environ if environ is None else environ
        api_url = environ.get("JUPYTERHUB_API_URL", "")
        user = environ.get("JUPYTERHUB_USER", "")
        token = environ.get("JUPYTERHUB_API_TOKEN", "")
        if not (api_url and user and token):
            return None
        return cls(
            api_url=api_url.rstrip("/"),
            user=user,
            server_name=environ.get("JUPYTERHUB_SERVER_NAME", ""),
            api_token=token,
            announcement=environ.get(HUB_VARIABLE) or None,
        )

    def url(self, *segments: str) -> str:
        """``{api_url}/seg/ments``, each segment percent-encoded (user names may hold ``@`` or ``/``)."""
        return "/".join([self.api_url, *(quote(segment, safe="") for segment in segments)])

    def hub_provider(self) -> dict[str, Any] | None:
        """The provider entry of the hub login (contract: ``docs/hub.md``), or None when the hub does not announce it.

        :raises HubAnnouncementError: when ``JUPYTER_TOKEN_BROKER_HUB`` is not what ``configure()`` writes.
        """
        if self.announcement is None:
            return None
        try:
            announced = json.loads(self.announcement)
        except ValueError as err:
            raise HubAnnouncementError(f"{HUB_VARIABLE} is not JSON") from err
        if not isinstance(announced, dict) or announced.get("version") != 1:
            raise HubAnnouncementError(f"{HUB_VARIABLE} must be a JSON object with version 1")
        provider_id = announced.get("provider_id", "hub")
        if not isinstance(provider_id, str) or not PROVIDER_ID.match(provider_id):
            raise HubAnnouncementError(f"{HUB_VARIABLE}: provider_id must match {PROVIDER_ID.pattern}")
        title = announced.get("title", "JupyterHub login")
        if not isinstance(title, str) or not title.strip():
            raise HubAnnouncementError(f"{HUB_VARIABLE}: title must be a non-empty string")
        provider: dict[str, Any] = {
            "id": provider_id,
            "title": title.strip()[:MAX_TITLE],
            "kind": "hub",
            "token_url": self.url("token-broker", "v1", "users", self.user, "token"),
            "hub_api_token": self.api_token,
        }
        # Optional (hubs from before them send neither). The shape only: the broker checks each prefix in full.
        if "egress" in announced:
            egress = announced["egress"]
            if not isinstance(egress, list) or not all(isinstance(prefix, str) for prefix in egress):
                raise HubAnnouncementError(f"{HUB_VARIABLE}: egress must be a list of URL prefixes")
            provider["egress"] = egress
        if "expose_token" in announced:
            if not isinstance(announced["expose_token"], bool):
                raise HubAnnouncementError(f"{HUB_VARIABLE}: expose_token must be true or false")
            provider["expose_token"] = announced["expose_token"]
        return provider


def hub_callback_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The path of the hub's single broker redirect URI, ``{JUPYTERHUB_BASE_URL}hub/user-redirect/token-broker/api/v1/
    callback``, when this server runs under a hub that runs ``configure()`` (its ``user_redirect_hook`` routes the
    callback to the right server); None otherwise (the server's own callback URL is used)."""
    environ = os.environ if environ is None else environ
    if not (environ.get(HUB_VARIABLE) and environ.get("JUPYTERHUB_USER")):
        return None
    base_url = environ.get("JUPYTERHUB_BASE_URL", "/") or "/"
    if not base_url.endswith("/"):
        base_url += "/"
    return f"{base_url}hub/user-redirect/token-broker/api/v1/callback"
