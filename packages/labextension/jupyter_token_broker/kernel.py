"""The kernel helper: a fresh access token for notebook code, from the broker behind this kernel's server.

Standard library only (``urllib``): importing it in a kernel costs nothing and adds no dependency. The auth
classes for ``requests`` and ``httpx`` live in :mod:`jupyter_token_broker.http_auth` and build on this module.
"""

from __future__ import annotations

import json
import math
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .contract import MAX_MIN_TTL, PROVIDER_ID
from .discovery import ServerInfo, find_server
from .errors import LoginRequired, TokenBrokerError

CLIENT_LABEL = "kernel"
"""The audit-trail label of calls from a kernel (``X-Token-Broker-Client``)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The Jupyter token must never follow a redirect to somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies (the server is local, and a proxy must never see the Jupyter token) and no redirects.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass(frozen=True)
class AccessToken:
    """One answer of the broker: the token and when it expires. Its ``repr`` never shows the token."""

    provider: str
    access_token: str = field(repr=False)
    expires_at: int
    scopes: tuple[str, ...]

    def seconds_left(self, now: float | None = None) -> int:
        """Whole seconds until the token expires (negative once it has), counted like the broker counts them."""
        return self.expires_at - math.floor(time.time() if now is None else now)


def _scope_list(scopes: str | Iterable[str] | None) -> list[str] | None:
    if scopes is None:
        return None
    if isinstance(scopes, str):
        return scopes.split()
    return [str(s) for s in scopes]


def credential_headers(info: ServerInfo) -> dict[str, str]:
    """How to authenticate to the Jupyter server, as a script or kernel would.

    With a token: ``Authorization: token …``, which also exempts the call from Jupyter's XSRF check. A server
    started with an empty token (``ServerApp.token = ''``, authentication off) has no token to send, and an empty
    ``Authorization: token`` header does not exempt anything: Jupyter would refuse the POST with "'_xsrf' argument
    missing from POST". So then the call carries Jupyter's double-submit XSRF pair instead, a random value sent
    both as the ``_xsrf`` cookie and as the ``X-XSRFToken`` header, which is exactly what JupyterLab sends.
    """
    if info.token:
        return {"Authorization": f"token {info.token}"}
    xsrf = secrets.token_hex(16)
    return {"Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf}


def _retry_after(value: str | None) -> int | None:
    """A ``Retry-After`` header in seconds (the broker sends seconds, never a date), or None."""
    try:
        seconds = int(value or "")
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _error_from_response(
    provider: str, status: int, raw: bytes, info: ServerInfo, retry_after: int | None = None
) -> TokenBrokerError:
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
    description = str(body.get("error_description") or body.get("message") or f"HTTP {status}")
    if not isinstance(code, str):
        # Jupyter itself refused (authentication, XSRF, origin): its body is {message, reason}.
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, "server_error")
        if status in (401, 403) and not info.token:
            description += (
                f" (the Jupyter server at {info.url} has no token this kernel could use; if it is protected by a"
                " password only, pass server=ServerInfo(url, token) with an API token of that server)"
            )
    if retry_after is not None and "try again in" not in description.lower():
        description += f" Try again in {retry_after} s."
    return TokenBrokerError(code, status, description, retry_after)


def request_token(
    provider: str,
    scopes: str | Iterable[str] | None = None,
    min_ttl: int | None = None,
    *,
    server: ServerInfo | None = None,
    timeout: float = 30.0,
) -> AccessToken:
    """Like :func:`get_token`, with the token's expiry: what :class:`~jupyter_token_broker.BrokerAuth` needs."""
    if not isinstance(provider, str) or not PROVIDER_ID.match(provider):
        raise TokenBrokerError("invalid_request", 400, f"Not a provider id: {provider!r}")
    info = server if server is not None else find_server()
    # No min_ttl: the broker's default, which fits any token lifetime (at most half of it).
    body: dict[str, Any] = {} if min_ttl is None else {"min_ttl": int(min_ttl)}
    scope_list = _scope_list(scopes)
    if scope_list is not None:
        body["scopes"] = scope_list
    request = urllib.request.Request(  # noqa: S310 - the URL is the server's own http(s) URL
        f"{info.url}token-broker/api/v1/providers/{quote(provider)}/token",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            **credential_headers(info),
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
            raise _error_from_response(
                provider, err.code, err.read(), info, _retry_after(err.headers.get("Retry-After"))
            ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TokenBrokerError(
            "server_unreachable", 0, f"Could not reach the Jupyter server at {info.url}: {reason}"
        ) from None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    expires_at = payload.get("expires_at") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token or not isinstance(expires_at, int):
        raise TokenBrokerError("server_error", 502, "The token broker answered without an access token.")
    granted = payload.get("scopes")
    return AccessToken(
        provider=provider,
        access_token=token,
        expires_at=expires_at,
        scopes=tuple(str(s) for s in granted) if isinstance(granted, list) else (),
    )


def request_fresher_token(
    rejected: AccessToken,
    scopes: str | Iterable[str] | None = None,
    min_ttl: int | None = None,
    *,
    server: ServerInfo | None = None,
    timeout: float = 30.0,
) -> AccessToken | None:
    """A token other than ``rejected`` (which an API refused with 401), or None when the broker has no other.

    The broker serves its cached token while it has ``min_ttl`` seconds left, so asking for more seconds than the
    rejected token has left makes it refresh. When even the fresh token cannot live that long (a short-lived
    token, just issued), the broker refuses with ``invalid_request`` but has cached the fresh token by then, so
    the plain request that follows gets it.
    """
    longer = min(MAX_MIN_TTL, max(int(min_ttl or 0), rejected.seconds_left() + 1))
    try:
        fresh = request_token(rejected.provider, scopes, longer, server=server, timeout=timeout)
    except TokenBrokerError as err:
        if err.code != "invalid_request":
            raise
        fresh = request_token(rejected.provider, scopes, min_ttl, server=server, timeout=timeout)
    return None if fresh.access_token == rejected.access_token else fresh


def get_token(
    provider: str,
    scopes: str | Iterable[str] | None = None,
    min_ttl: int | None = None,
    *,
    server: ServerInfo | None = None,
    timeout: float = 30.0,
) -> str:
    """A fresh access token of ``provider`` for the owner of this Jupyter server.

    :param provider: the provider id, as in ``c.TokenBroker.providers`` (e.g. ``"demo"``).
    :param scopes: the scopes to ask for (a list or a space-separated string); None means the provider's set.
        Fewer scopes than the sign-in granted is a narrowed token, which a provider gives only when its
        ``narrowing`` is ``"refresh"`` or ``"exchange"``; by default it raises ``TokenBrokerError``
        (``scope_not_allowed``), so that no narrowed request can shrink the sign-in for later ones.
    :param min_ttl: seconds the token must still be valid for when it is handed out: a promise, so a ``min_ttl``
        longer than the identity provider's tokens live raises ``TokenBrokerError`` (``invalid_request``). None
        (the default): the broker's ``default_min_ttl`` (30 s), at most half the token's lifetime, which works for
        any lifetime (a 10 s token is handed out with at least 5 s left).
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
    # An error is raised afresh here, at the entry point the notebook called, without the helper's own frames:
    # the notebook shows the message under a short traceback, not the plumbing.
    try:
        token = request_token(provider, scopes, min_ttl, server=server, timeout=timeout)
    except TokenBrokerError as err:
        raise err.with_traceback(None) from None
    return token.access_token


def auth_header(
    provider: str,
    scopes: str | Iterable[str] | None = None,
    min_ttl: int | None = None,
    *,
    server: ServerInfo | None = None,
    timeout: float = 30.0,
) -> dict[str, str]:
    """``{"Authorization": "Bearer …"}`` with a fresh access token of ``provider``, for any HTTP client.

    Takes the same arguments and raises the same errors as :func:`get_token`.

    Example::

        import urllib.request
        from jupyter_token_broker import auth_header

        urllib.request.urlopen(urllib.request.Request(url, headers=auth_header("demo")))
    """
    try:
        token = get_token(provider, scopes, min_ttl, server=server, timeout=timeout)
    except TokenBrokerError as err:
        raise err.with_traceback(None) from None  # as in get_token: the message, not the plumbing
    return {"Authorization": f"Bearer {token}"}
