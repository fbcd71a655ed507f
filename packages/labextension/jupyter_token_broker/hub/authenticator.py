"""The mixin put in front of the configured OAuthenticator: refresh ahead of expiry, one refresh at a time per
user with auth_state saved inside the lock, and the token route among the authenticator's handlers."""

from __future__ import annotations

import time
from typing import Any

from .admin import admin_handlers
from .admin_page import admin_page_handlers
from .audit import HubAudit
from .config import TokenBrokerHub
from .errors import LoginRequired, UpstreamUnavailable
from .expiry import hub_margin, lifetime, stamp_expiry
from .handlers import token_broker_handlers
from .orders import carry_over
from .refresh import TokenRefresher
from .revocation import Revocations


class SettingsRefused(ValueError):
    """A hub setting that would break the hub login's tokens; the message names the setting and the fix."""


class TokenBroker:
    """What the hub side holds for one authenticator: its options, its refresher, its audit trail and revocations."""

    def __init__(self, authenticator: Any) -> None:
        self.settings = TokenBrokerHub(parent=authenticator)
        self.refresher = TokenRefresher(authenticator, self.settings)
        self.audit = HubAudit(self.settings.audit_path, self.settings.audit_memory_events, authenticator.log)
        self.revocations = Revocations(authenticator, self.settings, refresher=self.refresher, audit=self.audit)

    def provider_title(self, authenticator: Any) -> str:
        """The title of the `hub` provider in user servers."""
        if self.settings.provider_title:
            return self.settings.provider_title
        return f"{getattr(authenticator, 'login_service', '') or 'Hub'} (hub login)"


def check_settings(authenticator: Any) -> None:
    """Refuses settings that break the hub side, with a message that names them (raised at hub start)."""
    if not authenticator.enable_auth_state:
        raise SettingsRefused(
            "jupyter_token_broker.hub: c.Authenticator.enable_auth_state must be True (with a crypt key in "
            "c.CryptKeeper.keys): the hub login's OAuth tokens are kept in auth_state."
        )
    if not authenticator.auth_refresh_age:
        raise SettingsRefused(
            "jupyter_token_broker.hub: c.Authenticator.auth_refresh_age = 0 switches off the hub's refreshes of "
            "logins; leave it at its default (300) or set a positive number of seconds."
        )
    try:
        # The egress prefixes' shape (their validator) and expose_token without an egress, before any spawn.
        TokenBrokerHub(parent=authenticator).announced_egress()
    except ValueError as err:
        raise SettingsRefused(f"jupyter_token_broker.hub: {err}") from err


class TokenBrokerAuthenticatorMixin:
    """Put before an OAuthenticator class (``configure()`` does it); keeps its behaviour otherwise."""

    _token_broker: TokenBroker | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_settings(self)

    @property
    def token_broker(self) -> TokenBroker:
        """The hub side's options and refresher (made on first use, from ``c.TokenBrokerHub``)."""
        if self._token_broker is None:
            self._token_broker = TokenBroker(self)
        return self._token_broker

    def get_handlers(self, app: Any) -> list[tuple]:
        # Called once at hub start, with the event loop running: queued IdP revocations resume here.
        self.token_broker.revocations.start(app)
        return [*token_broker_handlers(), *admin_handlers(), *admin_page_handlers(), *super().get_handlers(app)]

    async def get_authenticated_user(self, handler: Any, data: Any) -> Any:
        """A new login keeps the user's pending revocation orders and queued IdP revocations (auth_state is
        otherwise replaced by the new login's)."""
        authenticated = await super().get_authenticated_user(handler, data)
        if (
            isinstance(authenticated, dict)
            and isinstance(authenticated.get("auth_state"), dict)
            and handler is not None
        ):
            user = handler.find_user(authenticated.get("name", ""))
            if user is not None:
                carry_over(await user.get_auth_state(), authenticated["auth_state"])
        return authenticated

    async def get_token_info(self, handler: Any, params: dict[str, Any]) -> dict[str, Any]:
        """The login's token response, stamped with its absolute expiry (OAuthenticator keeps only expires_in)."""
        token_info = await super().get_token_info(handler, params)
        stamp_expiry(token_info, time.time(), self.token_broker.settings.unknown_lifetime_seconds)
        return token_info

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """Refreshes ahead of expiry under the user's lock (the new tokens are saved before it is released).

        Returns True while the login holds working tokens, also when the IdP is down or slow (JupyterHub 5.5
        treats False as fatal even for the server's own API calls). Returns False only when the login has no
        tokens any more (the IdP said invalid_grant, or none were kept) and the request is the user's own
        browser, which the hub can then send to log in again.
        """
        broker = self.token_broker
        if broker.refresher.busy(user.name):
            # A refresh (or a token request) of this login is under way: the hub's request need not wait for it.
            return True
        stored = await user.get_auth_state()
        margin = hub_margin(broker.settings.refresh_margin_seconds, lifetime(stored) if stored else None)
        try:
            auth_state, _ = await broker.refresher.fresh_auth_state(user, margin, time.time())
        except LoginRequired:
            return not _browser_of(user, handler)
        except UpstreamUnavailable:
            return True
        if getattr(self, "refresh_user_hook", None) is not None:
            refreshed = await self._call_refresh_user_hook(user, auth_state)
            if refreshed is not None:
                return refreshed
        return True


def _browser_of(user: Any, handler: Any) -> bool:
    """Whether the request is the user's own cookie-authenticated one (the hub can ask for a new login)."""
    if handler is None:
        return True
    if getattr(handler, "_token_authenticated", False):
        return False
    # JupyterHub 6 sets the request's user before refreshing it; 5.5 only after (then it is the cookie's user).
    return getattr(handler, "_jupyterhub_user", user) is user
