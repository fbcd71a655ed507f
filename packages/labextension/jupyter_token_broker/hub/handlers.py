"""The hub's routes: the access token of a user's hub login for that user's servers, and the page a broker
sign-in lands on when its server is not running."""

from __future__ import annotations

import html
import json
import time
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.scopes import Scope
from tornado import web

from ..contract import MAX_MIN_TTL
from .audit import now_iso
from .errors import Forbidden, HubTokenError, InvalidRequest, LoginRequired, UnknownUser
from .expiry import expires_at, lifetime

#: The custom scope that lets a token get the access token of a user's hub login (filter `!user=<name>`).
TOKEN_SCOPE = "custom:token-broker:token"  # noqa: S105 - a scope name
#: The custom scope of token-broker administration (`!server=<user>/<server>` in user servers).
ADMIN_SCOPE = "custom:token-broker:admin"


class TokenHandler(APIHandler):
    """``GET /hub/api/token-broker/v1/users/{name}/token?min_ttl=N``: ``{access_token, token_type, expires_at,
    scope}`` and nothing else of auth_state, to a caller whose token holds TOKEN_SCOPE for that user."""

    async def get(self, name: str) -> None:
        asked_at = time.time()
        self.set_header("Cache-Control", "no-store")
        self.set_header("Pragma", "no-cache")
        try:
            body = await self._token_for(name, asked_at)
        except HubTokenError as err:
            self._send_error(err)
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    async def _token_for(self, name: str, asked_at: float) -> dict[str, Any]:
        broker = self.authenticator.token_broker
        min_ttl = self._min_ttl()
        if self.current_user is None:
            raise Forbidden(f"This route needs a JupyterHub token holding {TOKEN_SCOPE} for the user.")
        user = self.find_user(name)
        if user is None:
            if self.parsed_scopes.get(TOKEN_SCOPE) is Scope.ALL:
                raise UnknownUser(f"No hub user {name!r}.")
            raise Forbidden(f"The token does not hold {TOKEN_SCOPE} for user {name!r}.")
        if not self.get_scope_filter(TOKEN_SCOPE)(user, "user"):
            raise Forbidden(f"The token does not hold {TOKEN_SCOPE} for user {name!r}.")
        stored = await user.get_auth_state()
        if not stored or not stored.get("access_token"):
            raise LoginRequired("This hub login holds no OAuth tokens.")
        token_lifetime = lifetime(stored)
        if min_ttl is None:
            # The default never asks more than half of what the IdP gives (no 400 for a request that named none).
            min_ttl = broker.settings.default_min_ttl
            if token_lifetime is not None:
                min_ttl = min(min_ttl, token_lifetime // 2)
        if token_lifetime is not None and min_ttl > token_lifetime:
            raise InvalidRequest(
                f"min_ttl {min_ttl} is longer than the identity provider's access-token lifetime ({token_lifetime} s)."
            )
        auth_state, _ = await broker.refresher.fresh_auth_state(user, min_ttl, asked_at)
        scope = auth_state.get("scope")
        if isinstance(scope, list):
            scope = " ".join(str(s) for s in scope)
        expiry = expires_at(auth_state)
        broker.revocations.last_used[user.name] = now_iso()
        return {
            "access_token": auth_state["access_token"],
            "token_type": "Bearer",
            "expires_at": int(expiry) if expiry is not None else int(asked_at),
            "scope": scope or "",
        }

    def _min_ttl(self) -> int | None:
        raw = self.get_argument("min_ttl", None)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if not 0 <= value <= MAX_MIN_TTL:
            raise InvalidRequest(f"min_ttl must be an integer from 0 to {MAX_MIN_TTL}.")
        return value

    def _send_error(self, err: HubTokenError) -> None:
        self.set_status(err.status)
        if err.retry_after is not None:
            self.set_header("Retry-After", str(err.retry_after))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(err.body()))


class ServerNotRunningHandler(BaseHandler):
    """``GET /hub/token-broker/server-not-running?server=NAME``: where a broker sign-in's callback goes when its
    server is not running (the authorization code is dropped, never put in a URL the hub logs)."""

    @web.authenticated
    def get(self) -> None:
        name = self.get_argument("server", "")
        label = f"Your server {name!r}" if name else "Your default server"
        self.set_status(409)
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            "<!doctype html><html lang='en'><title>Server not running</title><main>"
            "<h1>Sign-in not completed</h1>"
            f"<p role='alert'>{html.escape(label)} is not running, so the sign-in could not be completed there. "
            "Start the server from the hub home page, then sign in again from the Token Broker panel.</p>"
            f"<p><a href='{html.escape(self.hub.base_url)}home'>Hub home</a></p></main></html>"
        )


def token_broker_handlers() -> list[tuple[str, type]]:
    """The routes, relative to the hub prefix (`/hub/`), for ``Authenticator.get_handlers``."""
    return [
        (r"/api/token-broker/v1/users/([^/]+)/token", TokenHandler),
        (r"/token-broker/server-not-running", ServerNotRunningHandler),
    ]
