"""``configure(c, **options)``: what a hub admin calls in jupyterhub_config.py after configuring an OAuthenticator."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from inspect import isawaitable
from typing import Any

from jupyterhub import orm, version_info
from oauthenticator.oauth2 import OAuthenticator
from traitlets.utils.importstring import import_item

from .admin_page import TEMPLATES_DIR
from .authenticator import SettingsRefused, TokenBrokerAuthenticatorMixin
from .config import TokenBrokerHub
from .handlers import ADMIN_SCOPE, TOKEN_SCOPE
from .redirect import make_user_redirect_hook
from .servers import ADMIN_SERVICE, ADMIN_SERVICE_ROLE, ADMIN_SERVICE_SCOPES, AdminServiceToken

#: The non-secret env var whose presence tells a user server that its hub runs configure().
HUB_ENV = "JUPYTER_TOKEN_BROKER_HUB"
#: What every user server's token gets on top of the admin's (or the default `server` role's) scopes.
SERVER_TOKEN_SCOPES = (f"{TOKEN_SCOPE}!user", "read:shares!server")
CUSTOM_SCOPES = {
    TOKEN_SCOPE: {"description": "Get the access token of a user's hub login"},
    ADMIN_SCOPE: {"description": "Administer token-broker grants"},
}


def configure(c: Any, **options: Any) -> type:
    """Sets up the hub side of jupyter-token-broker in a JupyterHub config ``c``.

    Call it after ``c.JupyterHub.authenticator_class`` names an OAuthenticator (e.g. ``"generic-oauth"``).
    ``options`` are TokenBrokerHub options (``refresh_margin_seconds``, ``default_min_ttl``, ``provider_title``,
    ``refresh_timeout_seconds``, …), the same as ``c.TokenBrokerHub.<option>``.

    Returns the authenticator class now configured (the admin's class with the token-broker mixin in front).

    Example::

        c.JupyterHub.authenticator_class = "generic-oauth"
        ...
        from jupyter_token_broker.hub import configure
        configure(c, provider_title="Keycloak (hub login)")
    """
    known = set(TokenBrokerHub.class_trait_names(config=True))
    for key, value in options.items():
        if key not in known:
            raise TypeError(f"configure(): unknown option {key!r}; the options are: {', '.join(sorted(known))}")
        c.TokenBrokerHub[key] = value
    authenticator_class = _wrapped(_configured_authenticator(c))
    c.JupyterHub.authenticator_class = authenticator_class

    custom_scopes = dict(c.JupyterHub.custom_scopes) if "custom_scopes" in c.JupyterHub else {}
    for name, definition in CUSTOM_SCOPES.items():
        custom_scopes.setdefault(name, definition)
    c.JupyterHub.custom_scopes = custom_scopes

    # The admin page's template (JupyterHub appends its own template dir after these, for page.html).
    template_paths = list(c.JupyterHub.template_paths) if "template_paths" in c.JupyterHub else []
    if str(TEMPLATES_DIR) not in template_paths:
        c.JupyterHub.template_paths = [*template_paths, str(TEMPLATES_DIR)]

    _grant_to_users(c)
    _register_admin_service(c)
    c.Spawner.server_token_scopes = _server_token_scopes(
        c.Spawner.server_token_scopes if "server_token_scopes" in c.Spawner else None
    )

    environment = dict(c.Spawner.environment) if "environment" in c.Spawner else {}
    environment[HUB_ENV] = _hub_environment
    c.Spawner.environment = environment

    previous_hook = c.JupyterHub.user_redirect_hook if "user_redirect_hook" in c.JupyterHub else None
    if not getattr(previous_hook, "_token_broker", False):
        hook = make_user_redirect_hook(previous_hook)
        hook._token_broker = True  # type: ignore[attr-defined]
        c.JupyterHub.user_redirect_hook = hook
    return authenticator_class


def _configured_authenticator(c: Any) -> type:
    if "authenticator_class" not in c.JupyterHub:
        raise SettingsRefused(
            "jupyter_token_broker.hub: call configure(c) after setting c.JupyterHub.authenticator_class to an "
            "OAuthenticator (e.g. 'generic-oauth'): the hub login's tokens come from it."
        )
    value = c.JupyterHub.authenticator_class
    if isinstance(value, type):
        return value
    for entry in entry_points(group="jupyterhub.authenticators"):
        if entry.name == value:
            return entry.load()
    return import_item(value)


def _wrapped(base: type) -> type:
    if issubclass(base, TokenBrokerAuthenticatorMixin):
        return base
    if not issubclass(base, OAuthenticator):
        raise SettingsRefused(
            f"jupyter_token_broker.hub: {base.__module__}.{base.__name__} keeps no OAuth tokens in auth_state; "
            "configure(c) needs an OAuthenticator (GenericOAuthenticator for Keycloak or Cognito, for example)."
        )
    return type(f"TokenBroker{base.__name__}", (TokenBrokerAuthenticatorMixin, base), {"__module__": base.__module__})


def _grant_to_users(c: Any) -> None:
    """Users must hold TOKEN_SCOPE for their servers' tokens to get it (a token gets the subset its owner holds)."""
    scope = f"{TOKEN_SCOPE}!user"
    roles = [dict(role) for role in c.JupyterHub.load_roles] if "load_roles" in c.JupyterHub else []
    user_role = next((role for role in roles if role.get("name") == "user"), None)
    if user_role is not None and "scopes" in user_role:
        if scope not in user_role["scopes"]:
            user_role["scopes"] = [*user_role["scopes"], scope]
    elif version_info >= (6,):
        extra = set(c.JupyterHub.extra_user_scopes) if "extra_user_scopes" in c.JupyterHub else set()
        c.JupyterHub.extra_user_scopes = extra | {scope}
    elif user_role is not None:
        user_role["scopes"] = ["self", scope]
    else:
        roles.append({"name": "user", "description": "Standard user privileges", "scopes": ["self", scope]})
    c.JupyterHub.load_roles = roles


def _register_admin_service(c: Any) -> None:
    """The hub service whose token the hub side uses to reach user servers (admin revocation, the admin list).

    No URL, no process: only a token, made in memory now (at every hub start), never written anywhere.
    """
    role = {
        "name": ADMIN_SERVICE_ROLE,
        "description": "The token broker's hub side reaching user servers",
        "scopes": list(ADMIN_SERVICE_SCOPES),
        "services": [ADMIN_SERVICE],
    }
    services = [dict(s) for s in c.JupyterHub.services] if "services" in c.JupyterHub else []
    roles = [dict(r) for r in c.JupyterHub.load_roles] if "load_roles" in c.JupyterHub else []
    # A second configure() replaces its own entries; anything else of those names is the admin's: refused.
    for service in services:
        if service.get("name") == ADMIN_SERVICE and service.get("api_token") != AdminServiceToken.value:
            raise SettingsRefused(
                f"jupyter_token_broker.hub: the hub service name {ADMIN_SERVICE!r} is configure()'s own (it reaches "
                "user servers for admin revocation); rename your service in c.JupyterHub.services."
            )
    for existing in roles:
        if existing.get("name") == ADMIN_SERVICE_ROLE and existing != role:
            raise SettingsRefused(
                f"jupyter_token_broker.hub: the role name {ADMIN_SERVICE_ROLE!r} is configure()'s own; rename your "
                "role in c.JupyterHub.load_roles."
            )
    services = [s for s in services if s.get("name") != ADMIN_SERVICE]
    services.append({"name": ADMIN_SERVICE, "api_token": AdminServiceToken.make()})
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = [r for r in roles if r.get("name") != ADMIN_SERVICE_ROLE] + [role]


def _server_token_scopes(previous: Any) -> Any:
    async def server_token_scopes(spawner: Any) -> list[str]:
        scopes = previous(spawner) if callable(previous) else previous
        if isawaitable(scopes):
            scopes = await scopes
        scopes = list(scopes or [])
        if not scopes:
            scopes = list(orm.Role.find(spawner.user.db, "server").scopes)
        return sorted(set(scopes) | set(SERVER_TOKEN_SCOPES))

    return server_token_scopes


def _hub_environment(spawner: Any) -> str:
    authenticator = spawner.authenticator
    broker = getattr(authenticator, "token_broker", None)
    title = broker.provider_title(authenticator) if broker is not None else "Hub login"
    # egress / expose_token are optional fields of version 1: a server from before them ignores them.
    egress = broker.settings.announced_egress() if broker is not None else {}
    return json.dumps({"version": 1, "provider_id": "hub", "title": title, **egress})
