"""One refresh at a time per user: the hub login's tokens are refreshed ahead of expiry and saved before anyone
else reads them.

The hub is one process, so an asyncio lock per user is enough. A refresh runs as its own task holding that lock
until the rotated tokens are saved in auth_state: a caller that stops waiting (``refresh_timeout_seconds``) gets a
503, but the refresh goes on, and the next caller reads what it saved. Without this, two refreshes with the same
rotating refresh token make the IdP see reuse and revoke the whole login.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from inspect import isawaitable
from typing import Any
from urllib.parse import urlencode

from jupyterhub import roles
from tornado.httpclient import HTTPRequest

from .config import TokenBrokerHub
from .errors import HubTokenError, LoginRequired, UpstreamUnavailable
from .expiry import expires_at, should_refresh, stamp_expiry
from .orders import carry_over

#: auth_state keys that carry token material; removed when the IdP ends the login.
TOKEN_KEYS = ("access_token", "refresh_token", "id_token", "token_response")


class TokenRefresher:
    """Keeps each user's hub-login tokens fresh for one authenticator (an OAuthenticator)."""

    def __init__(self, authenticator: Any, settings: TokenBrokerHub) -> None:
        self.authenticator = authenticator
        self.settings = settings
        self.log = authenticator.log
        self._locks: dict[str, asyncio.Lock] = {}
        self._backoff_until: dict[str, float] = {}
        #: Counts refreshes sent to the IdP (for metrics and tests), by outcome.
        self.refreshes: dict[str, int] = {"ok": 0, "invalid_grant": 0, "unavailable": 0}

    def busy(self, name: str) -> bool:
        """Whether a refresh (or a check) of this user's login is under way."""
        lock = self._locks.get(name)
        return lock is not None and lock.locked()

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock

    async def fresh_auth_state(self, user: Any, min_ttl: float, asked_at: float) -> tuple[dict[str, Any], bool]:
        """The user's auth_state with an access token that has ``min_ttl`` seconds left at ``asked_at``.

        Returns ``(auth_state, refreshed)``. Raises LoginRequired (no tokens, or the IdP ended the login) or
        UpstreamUnavailable (IdP down or slow; the login is kept).
        """
        wait = self.settings.refresh_timeout_seconds
        deadline = time.monotonic() + wait
        lock = self._lock(user.name)
        try:
            await asyncio.wait_for(lock.acquire(), wait)
        except asyncio.TimeoutError:
            raise self._unavailable("A refresh of this hub login at the identity provider is still running.") from None
        handed_off = False
        try:
            auth_state = await user.get_auth_state()
            if not auth_state or not auth_state.get("access_token"):
                raise LoginRequired("This hub login holds no OAuth tokens.")
            if not should_refresh(expires_at(auth_state), asked_at, min_ttl):
                return auth_state, False
            if not auth_state.get("refresh_token"):
                raise LoginRequired("The hub login's access token is expiring and there is no refresh token.")
            retry_at = self._backoff_until.get(user.name, 0.0)
            if retry_at > time.monotonic():
                raise self._unavailable(
                    "The identity provider failed a moment ago.", retry_after=max(1, round(retry_at - time.monotonic()))
                )
            refresh = asyncio.ensure_future(self._refresh(user, auth_state))
            # The lock now belongs to the refresh: it is released when the new tokens are saved (or it failed),
            # however long the callers wait.
            refresh.add_done_callback(lambda task: (lock.release(), _consume(task)))
            handed_off = True
            remaining = max(0.0, deadline - time.monotonic())
            try:
                return await asyncio.wait_for(asyncio.shield(refresh), remaining), True
            except asyncio.TimeoutError:
                raise self._unavailable(
                    "The identity provider is slow to refresh this hub login; the refresh goes on."
                ) from None
        finally:
            if not handed_off:
                lock.release()

    def _unavailable(self, why: str, retry_after: int | None = None) -> UpstreamUnavailable:
        seconds = retry_after or self.settings.retry_after_seconds
        return UpstreamUnavailable(f"{why} Try again in {seconds} s; the hub login is kept.", retry_after=seconds)

    async def _refresh(self, user: Any, auth_state: dict[str, Any]) -> dict[str, Any]:
        """Spends the refresh token once, saves the result (or ends the login on invalid_grant)."""
        try:
            token_info = await self._token_request(auth_state["refresh_token"])
        except LoginRequired:
            self.refreshes["invalid_grant"] += 1
            self.log.warning("token-broker: the identity provider ended the hub login of %s (invalid_grant)", user.name)
            await user.save_auth_state({k: v for k, v in auth_state.items() if k not in TOKEN_KEYS})
            raise
        except UpstreamUnavailable:
            self.refreshes["unavailable"] += 1
            self._backoff_until[user.name] = time.monotonic() + self.settings.retry_after_seconds
            raise
        self.refreshes["ok"] += 1
        self._backoff_until.pop(user.name, None)
        new_state, model = await self._auth_state_after(user, auth_state, token_info)
        carry_over(auth_state, new_state)
        if model is not None:
            self._apply_user_data(user, model)
        await user.save_auth_state(new_state)
        self.log.info(
            "token-broker: refreshed the hub login of %s (access token for %s s)",
            user.name,
            token_info.get("expires_in", "?"),
        )
        return new_state

    async def _token_request(self, refresh_token: str) -> dict[str, Any]:
        """POSTs the refresh grant to the token endpoint; translates every failure into our errors, text-free."""
        auth = self.authenticator
        kwargs = dict(getattr(auth, "http_request_kwargs", {}) or {})
        kwargs.update(
            method="POST",
            headers=auth.build_token_info_request_headers(),
            body=urlencode(auth.build_refresh_token_request_params(refresh_token)),
            validate_cert=auth.validate_server_cert,
            connect_timeout=self.settings.refresh_timeout_seconds,
            request_timeout=self.settings.refresh_request_timeout_seconds,
        )
        try:
            # raise_error=False still raises for connection errors and timeouts (tornado >= 6).
            response = await auth.http_client.fetch(HTTPRequest(auth.token_url, **kwargs), raise_error=False)
        except Exception as err:  # only the type is logged
            self.log.warning("token-broker: refresh at the identity provider failed (%s)", type(err).__name__)
            raise self._unavailable("The identity provider could not be reached to refresh this hub login.") from None
        if response.code == 599 or response.code >= 500:
            self.log.warning("token-broker: refresh at the identity provider failed (HTTP %s)", response.code)
            raise self._unavailable("The identity provider could not be reached to refresh this hub login.")
        body = _json(response.body)
        if response.code >= 400:
            code = body.get("error") if isinstance(body.get("error"), str) else f"HTTP {response.code}"
            if code == "invalid_grant":
                raise LoginRequired("The identity provider ended this hub login (invalid_grant).")
            self.log.error("token-broker: the identity provider refused the refresh: %s", code[:64])
            raise self._unavailable(f"The identity provider refused the refresh ({code[:64]}).")
        if not isinstance(body.get("access_token"), str):
            self.log.error("token-broker: the identity provider's refresh answer has no access_token")
            raise self._unavailable("The identity provider's refresh answer held no access token.")
        stamp_expiry(body, time.time(), self.settings.unknown_lifetime_seconds)
        return body

    def _apply_user_data(self, user: Any, model: dict[str, Any]) -> None:
        """Admin flag and managed groups from the refreshed user data, as the hub applies a refresh_user model
        (here, inside the lock; ``refresh_user`` then returns True, so the hub saves no stale auth_state)."""
        admin = model.get("admin")
        if admin is not None and admin != user.admin:
            user.admin = admin
            roles.assign_default_roles(user.db, entity=user)
        if getattr(self.authenticator, "manage_groups", False) and "groups" in model:
            user.sync_groups(model["groups"])

    async def _auth_state_after(
        self, user: Any, old: dict[str, Any], token_info: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The auth_state for fresh tokens, built as the authenticator builds it at login.

        The IdP may rotate the refresh token or not, and may send a new id token or not: keep the old ones then.
        User data (userinfo or the id token) is re-read as OAuthenticator's own refresh does; when that fails
        (OAuthenticator raises a 500 whose message holds the id token when it has expired), the error text is
        never logged and the previous user data is kept.
        """
        auth = self.authenticator
        token_info.setdefault("refresh_token", None)
        if not token_info["refresh_token"]:
            token_info["refresh_token"] = old["refresh_token"]
        if not token_info.get("id_token") and old.get("id_token"):
            token_info["id_token"] = old["id_token"]
        to_model = getattr(auth, "_token_to_auth_model", None)
        if to_model is not None:
            try:
                model = await asyncio.wait_for(to_model(token_info), self.settings.refresh_timeout_seconds)
                return model["auth_state"], model
            except Exception as err:  # the message may carry tokens: only its type is logged
                self.log.warning(
                    "token-broker: user data after the refresh of %s unavailable (%s); keeping the previous",
                    user.name,
                    type(err).__name__,
                )
        user_info = old.get(getattr(auth, "user_auth_state_key", "oauth_user"))
        state = auth.build_auth_state_dict(token_info, user_info)
        if isawaitable(state):
            state = await state
        if getattr(auth, "modify_auth_state_hook", None) is not None:
            try:
                state = await auth._call_modify_auth_state_hook(state)
            except Exception as err:
                self.log.warning("token-broker: modify_auth_state_hook failed after a refresh (%s)", type(err).__name__)
        return state, None


def _json(body: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _consume(task: asyncio.Future) -> None:
    """Retrieves a finished refresh's exception, so that asyncio never logs it (nobody may be waiting)."""
    if not task.cancelled():
        error = task.exception()
        if error is not None and not isinstance(error, HubTokenError):
            # Only the type: messages of library errors can embed tokens.
            logging.getLogger("JupyterHub").warning("token-broker: refresh failed (%s)", type(error).__name__)
