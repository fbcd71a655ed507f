"""How the hub reaches its users' running servers: at their internal URL (``spawner.server.url``, no proxy route), with
the api token of the hub service ``token-broker-admin`` that ``configure()`` registers."""

from __future__ import annotations

import json
import secrets
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

#: The hub service whose token the hub side uses to call user servers.
ADMIN_SERVICE = "token-broker-admin"
#: The role of that service (its own name, so that it never takes the place of an admin's role named after the
#: admin scope): reach every server, administer its broker, read user names.
ADMIN_SERVICE_ROLE = "token-broker-admin-service"
ADMIN_SERVICE_SCOPES = ("access:servers", "custom:token-broker:admin", "read:users")
#: The server extension's admin routes, relative to a server's URL.
REVOKE_PATH = "token-broker/api/v1/admin/revoke"
PROVIDERS_PATH = "token-broker/api/v1/admin/providers"


class AdminServiceToken:
    """The service's api token: made in memory when the hub's config runs (``configure()``), never written anywhere,
    and a new one at every hub start."""

    value: str | None = None

    @classmethod
    def make(cls) -> str:
        cls.value = secrets.token_urlsafe(32)
        return cls.value


class ServerCallFailed(Exception):
    """A user server did not do what was asked; ``code``/``description`` are safe to show (no token material)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def running_servers(user: Any) -> list[tuple[str, Any]]:
    """``(server name, spawner)`` of the user's servers that are up (``""`` for the default server)."""
    found = []
    for name in sorted(user.orm_user.orm_spawners.keys()):
        spawner = user.spawners.get(name) if hasattr(user.spawners, "get") else None
        if spawner is not None and spawner.ready and spawner.server is not None:
            found.append((name, spawner))
    return found


def server_names(user: Any, started_once: bool = False) -> list[str]:
    """Every server the user has in the hub's database, running or not; with ``started_once``, only those that
    were started at least once (a server never started holds no grant: it needs no order)."""
    spawners = user.orm_user.orm_spawners
    return sorted(name for name, orm in spawners.items() if not started_once or orm.last_activity is not None)


class ServerClient:
    """Calls the server extension's admin routes of one user server."""

    def __init__(self, http: AsyncHTTPClient | None = None) -> None:
        self.http = http or AsyncHTTPClient()

    async def revoke(self, spawner: Any, provider: str | None, reason: str, force: bool, timeout: float) -> str | None:
        """Asks the server's broker to revoke ``provider`` (None: every grant). Returns what it revoked (a summary
        such as ``demo (revoked), hub (not_supported)``, or None when it held none). Raises ServerCallFailed, also
        when the broker kept a grant because its IdP failed (it then needs the durable order), and with code
        ``unknown_provider`` when the server has no such provider."""
        body: dict[str, Any] = {"reason": reason}
        if provider is not None:
            body["provider"] = provider
        if force:
            body["force"] = True
        answer = await self._call(spawner, "POST", REVOKE_PATH, json.dumps(body), timeout)
        answer = answer if isinstance(answer, dict) else {}
        failed = [f for f in answer.get("failed") or [] if isinstance(f, dict)]
        if failed:
            kept = ", ".join(f"{f.get('provider')} ({f.get('error')})" for f in failed)
            raise ServerCallFailed(
                str(failed[0].get("error") or "upstream_unavailable")[:64],
                f"Kept because their identity provider failed: {kept}; revoke with force to forget them anyway.",
            )
        revoked = [r for r in answer.get("revoked") or [] if isinstance(r, dict)]
        return ", ".join(f"{r.get('provider')} ({r.get('upstream')})" for r in revoked) or None

    async def providers(self, spawner: Any, timeout: float) -> tuple[list[dict[str, Any]], bool]:
        """The server's broker providers, and whether its broker runs (a server answers for a broker that is not
        running, started on first use or stopped when idle, without starting it: then no providers)."""
        answer = await self._call(spawner, "GET", PROVIDERS_PATH, None, timeout)
        items = answer.get("providers") if isinstance(answer, dict) else answer
        if not isinstance(items, list):
            raise ServerCallFailed("upstream_error", "The server's provider list was not understood.")
        running = not (isinstance(answer, dict) and answer.get("broker_running") is False)
        return [_provider_view(p) for p in items if isinstance(p, dict)], running

    async def _call(self, spawner: Any, method: str, path: str, body: str | None, timeout: float) -> Any:
        token = AdminServiceToken.value
        if token is None:
            raise ServerCallFailed("server_error", "The hub has no token-broker-admin service token (configure()).")
        headers = {"Authorization": f"token {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = HTTPRequest(
            spawner.server.url + path,
            method=method,
            headers=headers,
            body=body,
            connect_timeout=timeout,
            request_timeout=timeout,
            follow_redirects=False,
        )
        try:
            response = await self.http.fetch(request, raise_error=False)
        except Exception as err:  # only the type: no URL, no header ends up in a message
            raise ServerCallFailed(
                "upstream_unavailable", f"The server did not answer ({type(err).__name__})."
            ) from None
        if response.code == 599:
            raise ServerCallFailed("upstream_unavailable", "The server did not answer in time.")
        parsed = _json(response.body)
        if response.code >= 400:
            code = parsed.get("error") if isinstance(parsed, dict) and isinstance(parsed.get("error"), str) else None
            raise ServerCallFailed(
                (code or ("upstream_unavailable" if response.code >= 500 else "upstream_error"))[:64],
                f"The server answered HTTP {response.code}.",
            )
        return parsed


def _provider_view(provider: dict[str, Any]) -> dict[str, Any]:
    """What the admin list shows of a broker provider (the broker's list holds no token material anyway)."""
    return {
        "id": provider.get("id"),
        "title": provider.get("title"),
        "kind": provider.get("kind"),
        "signed_in": bool(provider.get("signed_in")),
        "account": provider.get("account"),
        "scopes": provider.get("scopes") if isinstance(provider.get("scopes"), list) else [],
        "expires_at": provider.get("expires_at"),
    }


def _json(body: bytes | None) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None
