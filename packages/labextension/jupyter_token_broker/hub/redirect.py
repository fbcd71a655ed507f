"""``/hub/user-redirect/token-broker/api/v1/callback`` → the right (possibly named) server, or a hub page.

IdPs know one redirect URI for every user's broker. JupyterHub's own user-redirect goes to the default server,
through ``/hub/spawn?next=…`` when it is not running, where the authorization code would sit inside ``next=``,
which the hub log does not scrub. This hook routes by the server name the broker put in its ``state``:
``state = "<base64url(server name), no padding>.<random>"`` (empty before the dot, or no dot, for the default
server), and sends a login whose server is not running to a page that says so, without the code.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from inspect import isawaitable
from typing import Any
from urllib.parse import parse_qs

from jupyterhub.utils import url_path_join
from tornado.httputil import url_concat

#: The broker's callback path under a user's server.
CALLBACK_PATH = "token-broker/api/v1/callback"
NOT_RUNNING_PATH = "token-broker/server-not-running"


def server_name_from_state(state: str) -> str | None:
    """The server name a broker's login ``state`` names ("" for the default server), None when malformed."""
    if "." not in state:
        return ""
    prefix = state.split(".", 1)[0]
    if not prefix:
        return ""
    try:
        return base64.urlsafe_b64decode(prefix + "=" * (-len(prefix) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def make_user_redirect_hook(previous: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """A ``c.JupyterHub.user_redirect_hook`` for broker callbacks; any other path goes to ``previous``."""

    async def user_redirect_hook(path: str, request: Any, user: Any, base_url: str) -> str | None:
        if path.strip("/") != CALLBACK_PATH:
            if previous is None:
                return None
            url = previous(path, request, user, base_url)
            return await url if isawaitable(url) else url
        state = parse_qs(request.query).get("state", [""])[0]
        name = server_name_from_state(state)
        if name is not None and name in user.orm_spawners:
            spawner = user.spawners[name]
            if spawner.ready:
                return f"{url_path_join(user.server_url(name), CALLBACK_PATH)}?{request.query}"
        return url_concat(url_path_join(base_url, "hub", NOT_RUNNING_PATH), {"server": name or ""})

    return user_redirect_hook
