"""The kernel helper: a fresh access token for notebook code, from the broker behind this kernel's server.

Standard library only (``urllib``): importing it in a kernel costs nothing and adds no dependency.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from .discovery import ServerInfo, find_server
from .errors import LoginRequired, TokenBrokerError

PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""Provider ids, as the broker's config allows them."""

CLIENT_LABEL = "kernel"
"""The audit-trail label of calls from a kernel (``X-Token-Broker-Client``)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The Jupyter token must never follow a redirect to somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies (the server is local, and a proxy must never see the Jupyter token) and no redirects.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _scope_list(scopes: str | Iterable[str] | None) -> list[str] | None:
    if scopes is None:
        return None
    if isinstance(scopes, str):
        return scopes.split()
    return [str(s) for s in scopes]


def _error_from_response(provider: str, status: int, raw: bytes) -> TokenBrokerError:
    """Turns an error response (the broker's ``{error, error_description}`` or Jupyter's own) into an error."""
    try:
        body: Any = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("error")
    if code == "login_required":
        return LoginRequired(provider, status)
    if not isinstance(code, str):
        # Jupyter itself refused (authentication, XSRF, origin): its body is {message, reason}.
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, "server_error")
    description = body.get("error_description") or body.get("message") or f"HTTP {status}"
    return TokenBrokerError(code, status, str(description))


def get_token(
    provider: str,
    scopes: str | Iterable[str] | None = None,
    min_ttl: int = 60,
    *,
    server: ServerInfo | None = None,
    timeout: float = 30.0,
) -> str:
    """A fresh access token of ``provider`` for the owner of this Jupyter server.

    :param provider: the provider id, as in ``c.TokenBroker.providers`` (e.g. ``"demo"``).
    :param scopes: the scopes to ask for (a list or a space-separated string); None means the provider's set.
    :param min_ttl: seconds the token must still be valid for when it is handed out.
    :param server: the Jupyter server to ask; by default the one that started this kernel.
    :param timeout: seconds to wait for the answer.
    :returns: the access token, for an ``Authorization: Bearer`` header.
    :raises LoginRequired: the provider has no grant: sign in from the Token Broker panel.
    :raises TokenBrokerError: any other failure, with ``code`` and ``status``.

    Example::

        import requests
        from jupyter_token_broker import get_token

        requests.get(url, headers={"Authorization": f"Bearer {get_token('demo')}"})
    """
    if not isinstance(provider, str) or not PROVIDER_ID.match(provider):
        raise TokenBrokerError("invalid_request", 400, f"Not a provider id: {provider!r}")
    info = server if server is not None else find_server()
    body: dict[str, Any] = {"min_ttl": int(min_ttl)}
    scope_list = _scope_list(scopes)
    if scope_list is not None:
        body["scopes"] = scope_list
    request = urllib.request.Request(  # noqa: S310 - the URL is the server's own http(s) URL
        f"{info.url}token-broker/api/v1/providers/{quote(provider)}/token",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"token {info.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Token-Broker-Client": CLIENT_LABEL,
        },
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            raise _error_from_response(provider, err.code, err.read()) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TokenBrokerError(
            "server_unreachable", 0, f"Could not reach the Jupyter server at {info.url}: {reason}"
        ) from None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenBrokerError("server_error", 502, "The token broker answered without an access token.")
    return token
