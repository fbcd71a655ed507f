"""The hub side of jupyter-token-broker, imported by ``jupyterhub_config.py``.

::

    c.JupyterHub.authenticator_class = "generic-oauth"   # or any OAuthenticator
    ...                                                  # its client, endpoints, enable_auth_state = True
    from jupyter_token_broker.hub import configure
    configure(c)

Each user's servers then get the access token (and only it) of the user's hub login from
``GET /hub/api/token-broker/v1/users/{name}/token?min_ttl=N``, refreshed ahead of expiry, one refresh at a time.
Importing this package needs JupyterHub and OAuthenticator; the rest of jupyter_token_broker never imports it.
"""

from __future__ import annotations

from .authenticator import SettingsRefused, TokenBrokerAuthenticatorMixin
from .config import TokenBrokerHub
from .configure import HUB_ENV, configure
from .handlers import ADMIN_SCOPE, TOKEN_SCOPE

__all__ = [
    "ADMIN_SCOPE",
    "HUB_ENV",
    "TOKEN_SCOPE",
    "SettingsRefused",
    "TokenBrokerAuthenticatorMixin",
    "TokenBrokerHub",
    "configure",
]
