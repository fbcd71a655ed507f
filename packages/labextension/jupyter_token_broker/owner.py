"""Who owns this Jupyter server: the one person its broker routes serve.

Under JupyterHub the owner is ``$JUPYTERHUB_USER``; a visitor with sharing access is someone else. A standalone
server run with Jupyter's own identity provider (one token, or one password) has one person behind every login:
whoever Jupyter lets in is the owner (their user names are random per browser, so there is no name to compare).
Any other identity provider may let in several people, and then the owner must be named
(``c.TokenBroker.owner``): until it is, the broker is not started, rather than serve every person as the owner.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .config import ConfigError
from .identity import hub_user

SINGLE_PERSON_PROVIDERS = frozenset(
    {
        "jupyter_server.auth.identity.IdentityProvider",
        "jupyter_server.auth.identity.PasswordIdentityProvider",
    }
)
"""Jupyter's own identity providers, exactly these classes (not subclasses): one credential, one person."""

OWNER_HOWTO = "set c.TokenBroker.owner to the owner's user name as the identity provider names them"
"""What an admin does when the owner cannot be told apart from other users."""


@dataclass(frozen=True)
class Owner:
    """Whom the broker routes serve.

    ``name`` None admits everyone Jupyter authenticated (a single-person server). With a name, a request made
    with the server's own token (``server_token``, the credential its kernels use, written to its 0600 runtime
    file) is the owner's too, whatever name the identity provider gives it.
    """

    name: str | None
    server_token: str = field(default="", repr=False)

    def admits(self, username: str | None, authorization: str | None = None) -> bool:
        """Whether the authenticated ``username`` (with its request's ``Authorization`` header) is the owner."""
        if not username:
            return False
        if self.name is None or username == self.name:
            return True
        return self.bears_server_token(authorization)

    def bears_server_token(self, authorization: str | None) -> bool:
        """Whether ``Authorization: token …`` (or ``Bearer``) carries the server's own token."""
        if not self.server_token or not authorization:
            return False
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return False
        return hmac.compare_digest(presented.strip().encode(), self.server_token.encode())


def provider_class_name(identity_provider: object) -> str:
    """``module.Class`` of an identity provider, as in :data:`SINGLE_PERSON_PROVIDERS`."""
    cls = type(identity_provider)
    return f"{cls.__module__}.{cls.__qualname__}"


def decide_owner(configured: str | None, identity_provider: object, environ: Mapping[str, str] | None = None) -> Owner:
    """The owner of this server, from ``c.TokenBroker.owner``, JupyterHub and the server's identity provider.

    :param configured: ``c.TokenBroker.owner`` (None when unset)
    :param identity_provider: the Jupyter server's ``identity_provider``
    :raises ConfigError: (key ``owner``) when the owner cannot be decided, or the configured one contradicts
        JupyterHub or can never match a login.
    """
    environ = os.environ if environ is None else environ
    configured = configured.strip() if configured else None
    configured = configured or None
    hub_owner = hub_user(environ)
    provider = provider_class_name(identity_provider)
    if hub_owner is not None:
        if configured is not None and configured != hub_owner:
            raise ConfigError(
                "owner",
                f"is {configured!r} but this server belongs to JupyterHub user {hub_owner!r}; "
                "leave it unset under JupyterHub",
            )
        return Owner(hub_owner)
    if provider in SINGLE_PERSON_PROVIDERS:
        if configured is not None:
            raise ConfigError(
                "owner",
                f"Jupyter's own identity provider ({provider.rsplit('.', 1)[1]}) gives every login a random user "
                "name, so no login could match it; leave it unset (whoever has this server's token or password "
                "is its owner)",
            )
        return Owner(None)
    if configured is None:
        raise ConfigError(
            "owner",
            f"the identity provider {provider} may let in more than one person and the token broker serves only "
            f"the server's owner: {OWNER_HOWTO}",
        )
    return Owner(configured, server_token=str(getattr(identity_provider, "token", "") or ""))
