"""The hub side's options (``c.TokenBrokerHub.<option>`` or ``configure(c, option=...)``)."""

from __future__ import annotations

from traitlets import Float, Integer, Unicode, validate
from traitlets.config import Configurable


class TokenBrokerHub(Configurable):
    """How the hub keeps its users' OAuth logins fresh and hands their access tokens to their servers."""

    refresh_margin_seconds = Integer(
        60,
        help="""Refresh a hub login's access token when it has less than this many seconds left, when the hub
        refreshes the user (``auth_refresh_age``, before a spawn). Capped at half the token's lifetime, so a
        short-lived token is not refreshed on every request. The token route refreshes when the caller's
        ``min_ttl`` would not be met.""",
    ).tag(config=True)

    default_min_ttl = Integer(
        30,
        help="""The `min_ttl` of a token request that names none: seconds the handed-out token must have left
        (at most half the IdP's access-token lifetime).""",
    ).tag(config=True)

    provider_title = Unicode(
        "",
        help="""The title user servers show for the hub login's provider (JUPYTER_TOKEN_BROKER_HUB). Empty: the
        authenticator's `login_service` followed by " (hub login)", e.g. "Keycloak (hub login)".""",
    ).tag(config=True)

    refresh_timeout_seconds = Float(
        10.0,
        help="""How long a token request waits for a refresh at the IdP before answering 503 with Retry-After.
        The refresh itself goes on (up to `refresh_request_timeout_seconds`) and its rotated refresh token is
        saved, so a slow IdP never costs the login.""",
    ).tag(config=True)

    refresh_request_timeout_seconds = Float(
        60.0,
        help="""The deadline of one refresh request to the IdP once connected. Longer than
        `refresh_timeout_seconds` on purpose: a refresh the IdP received must finish, or its rotated refresh
        token would be lost and the next refresh would be reuse (the IdP then revokes the login).""",
    ).tag(config=True)

    retry_after_seconds = Integer(
        5,
        help="""After a failed refresh (IdP down or timing out), answer 503 with this Retry-After for this many
        seconds without calling the IdP again for that user.""",
    ).tag(config=True)

    unknown_lifetime_seconds = Integer(
        300,
        help="""The lifetime assumed for an access token whose expiry the IdP did not say (no `expires_in`) and
        that is not a JWT with `exp`.""",
    ).tag(config=True)

    @validate("refresh_margin_seconds", "default_min_ttl", "retry_after_seconds", "unknown_lifetime_seconds")
    def _non_negative(self, proposal):
        if proposal["value"] < 0:
            raise ValueError(f"TokenBrokerHub.{proposal['trait'].name} must be >= 0, not {proposal['value']}")
        return proposal["value"]

    @validate("refresh_timeout_seconds", "refresh_request_timeout_seconds")
    def _positive(self, proposal):
        if proposal["value"] <= 0:
            raise ValueError(f"TokenBrokerHub.{proposal['trait'].name} must be > 0, not {proposal['value']}")
        return proposal["value"]
